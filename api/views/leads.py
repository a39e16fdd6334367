"""The lead route's answer."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from api.redaction import PersonalText
from domain.lead_scoring import ScoreLine


class LeadScore(BaseModel):
    """The lead's score, the version of the rules that gave it, and each rule's points."""

    points: int
    rules_version: int | None
    explanation: list[ScoreLine]


class LeadView(BaseModel):
    """A lead: status, owner, score; `customer_id` and `deal_id` once converted."""

    id: str
    version: int
    status: str
    name: PersonalText = None
    email: PersonalText = None
    company: str | None
    source: str | None
    attributes: dict[str, Any]
    owner_id: str | None
    duplicate_of: UUID | None
    score: LeadScore
    engagement: dict[str, int]
    disqualified_reason: str | None
    customer_id: UUID | None
    deal_id: UUID | None
    captured_at: datetime
