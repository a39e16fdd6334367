"""Payloads of the Lead aggregate's events (`domain.lead`)."""

from typing import Annotated
from uuid import UUID

from domain.events.payload import NOT_PERSONAL, PERSONAL_DATA, Payload
from domain.lead_scoring import EngagementKind, Score
from domain.values import CustomValue, Personal


class Captured(Payload):
    """A lead is captured: who it is (name, email, company, attributes: personal data), its
    source, the rep who owns it and the earlier lead with its email."""

    personal: Annotated[Personal, PERSONAL_DATA]
    company: Annotated[str | None, PERSONAL_DATA]
    source: Annotated[str | None, NOT_PERSONAL]
    attributes: Annotated[dict[str, CustomValue], PERSONAL_DATA]
    owner_id: Annotated[str | None, NOT_PERSONAL]
    duplicate_of: Annotated[UUID | None, NOT_PERSONAL]


class Qualified(Payload):
    """A lead is qualified."""


class Disqualified(Payload):
    """A lead is disqualified, for a reason (free text)."""

    reason: Annotated[str, PERSONAL_DATA]


class Converted(Payload):
    """A qualified lead became a customer (created or matched), maybe with a deal."""

    converted_to: Annotated[UUID, NOT_PERSONAL]
    customer_created: Annotated[bool, NOT_PERSONAL]
    deal_id: Annotated[UUID | None, NOT_PERSONAL]


class EngagementRecorded(Payload):
    """A lead opened or clicked an email."""

    kind: Annotated[EngagementKind, NOT_PERSONAL]


class Scored(Payload):
    """A lead's score changed: its points, the rules' version and the points of each rule."""

    score: Annotated[Score, NOT_PERSONAL]
