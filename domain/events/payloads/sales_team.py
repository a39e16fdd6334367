"""Payloads of the SalesTeam aggregate's events (`domain.sales_team`)."""

from typing import Annotated
from uuid import UUID

from domain.events.payload import NOT_PERSONAL, PERSONAL_DATA, Payload
from domain.sales_team import SalesRep


class Started(Payload):
    """The sales team exists, without reps."""


class RepsSet(Payload):
    """The reps, their territories and the lead attribute territories are matched on were set
    (reps are staff the company configures, not customers)."""

    reps: Annotated[tuple[SalesRep, ...], NOT_PERSONAL]
    territory_attribute: Annotated[str, NOT_PERSONAL]


class LeadTaken(Payload):
    """The team took in a lead: its owner, the earlier lead with the same email, and that
    email's digest (a pseudonym of the lead's email: personal data)."""

    lead_id: Annotated[UUID, NOT_PERSONAL]
    email_digest: Annotated[str, PERSONAL_DATA]
    owner_id: Annotated[str | None, NOT_PERSONAL]
    duplicate_of: Annotated[UUID | None, NOT_PERSONAL]
