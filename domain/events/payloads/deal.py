"""Payloads of the Deal aggregate's events (`domain.deal`); every one carries the deal's
`customer_id`."""

from datetime import date
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from domain.events.payload import NOT_PERSONAL, PERSONAL_DATA, Payload


class DealEvent(Payload):
    """Fields of every deal event."""

    customer_id: Annotated[UUID, NOT_PERSONAL]


class Opened(DealEvent):
    """A deal is opened in an open stage, with its win probability then."""

    title: Annotated[str, PERSONAL_DATA]
    amount: Annotated[Decimal, NOT_PERSONAL]
    currency: Annotated[str, NOT_PERSONAL]
    stage: Annotated[str, NOT_PERSONAL]
    probability: Annotated[int, NOT_PERSONAL]
    expected_close_date: Annotated[date | None, NOT_PERSONAL]
    owner: Annotated[str | None, PERSONAL_DATA]
    """Free text: whoever the writer names (a person)."""


class StageMoved(DealEvent):
    """An open deal moved to another open stage."""

    from_stage: Annotated[str, NOT_PERSONAL]
    stage: Annotated[str, NOT_PERSONAL]
    probability: Annotated[int, NOT_PERSONAL]


class AmountChanged(DealEvent):
    """An open deal's amount changed (the old one is kept beside it)."""

    old_amount: Annotated[Decimal, NOT_PERSONAL]
    old_currency: Annotated[str, NOT_PERSONAL]
    amount: Annotated[Decimal, NOT_PERSONAL]
    currency: Annotated[str, NOT_PERSONAL]


class Won(DealEvent):
    """A deal is won (from the stage it was in)."""

    from_stage: Annotated[str, NOT_PERSONAL]


class Lost(DealEvent):
    """A deal is lost, for a reason (free text)."""

    from_stage: Annotated[str, NOT_PERSONAL]
    reason: Annotated[str, PERSONAL_DATA]


class Reopened(DealEvent):
    """A won or lost deal is reopened in an open stage."""

    from_stage: Annotated[str, NOT_PERSONAL]
    stage: Annotated[str, NOT_PERSONAL]
    probability: Annotated[int, NOT_PERSONAL]
