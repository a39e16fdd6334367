"""The campaign routes' answers."""

from typing import Literal

from pydantic import BaseModel, Field

from domain.campaign import Audience


class CampaignView(BaseModel):
    """A campaign: its templates, its audience (as given), its status, and once it is sent,
    how many emails were sent and suppressed."""

    id: str
    version: int
    name: str
    subject: str
    body_html: str
    audience: Audience
    status: Literal["draft", "sending", "sent"]
    sent: int | None = Field(default=None, description="Only once sent")
    suppressed: int | None = Field(default=None, description="Only once sent")
