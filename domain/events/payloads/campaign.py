"""Payloads of the Campaign aggregate's events (`domain.campaign`)."""

from typing import Annotated
from uuid import UUID

from domain.campaign import Audience
from domain.events.payload import NOT_PERSONAL, Payload


class Drafted(Payload):
    """A campaign is drafted: name, subject and body templates, and its audience."""

    name: Annotated[str, NOT_PERSONAL]
    subject: Annotated[str, NOT_PERSONAL]
    body_html: Annotated[str, NOT_PERSONAL]
    audience: Annotated[Audience, NOT_PERSONAL]


class RecipientsAdded(Payload):
    """Customers were added to a draft's listed audience."""

    customer_ids: Annotated[tuple[UUID, ...], NOT_PERSONAL]


class SendRequested(Payload):
    """The campaign's send was requested (the sender sends it once)."""


class Completed(Payload):
    """The campaign's send is done: emails sent and suppressed."""

    sent: Annotated[int, NOT_PERSONAL]
    suppressed: Annotated[int, NOT_PERSONAL]
