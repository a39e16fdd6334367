"""The ticket route's answer."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from api.redaction import PersonalText
from domain.ticket import Author, Priority, TicketKind, TicketStatus
from domain.values import Channel


class ReplyView(BaseModel):
    """One message of the ticket's conversation; `body` is null once erased."""

    reply_id: UUID
    author: Author
    at: datetime
    body: PersonalText = None


class SatisfactionView(BaseModel):
    """The customer's rating (1-5) of how the ticket was handled, and their comment."""

    rating: int
    at: datetime
    comment: PersonalText = None


class TicketView(BaseModel):
    """One ticket as it stands; times are business times, `first_response_seconds` runs from
    opening to the first agent reply. Analysts get no free text (description, bodies, comment)."""

    id: UUID
    customer_id: UUID
    version: int
    kind: TicketKind
    subject: str
    description: PersonalText = None
    priority: Priority
    channel: Channel
    order_ref: str | None
    status: TicketStatus
    opened_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    first_response_seconds: float | None
    solved_at: datetime | None
    closed_at: datetime | None
    reopened: int
    replies: list[ReplyView]
    satisfaction: SatisfactionView | None
