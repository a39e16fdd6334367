"""Payloads of the Ticket aggregate's events (`domain.ticket`); every one carries the
ticket's `customer_id`."""

from typing import Annotated
from uuid import UUID

from domain.events.payload import NOT_PERSONAL, PERSONAL_DATA, Payload
from domain.ticket import Author, Priority, SlaTarget, TicketKind, TicketStatus
from domain.values import Changes, Channel


class TicketEvent(Payload):
    """Fields of every ticket event."""

    customer_id: Annotated[UUID, NOT_PERSONAL]


class Opened(TicketEvent):
    """A ticket is opened: kind, subject, priority, channel, order, and its description
    (free text, in `personal`)."""

    kind: Annotated[TicketKind, NOT_PERSONAL]
    subject: Annotated[str, PERSONAL_DATA]
    priority: Annotated[Priority, NOT_PERSONAL]
    channel: Annotated[Channel, NOT_PERSONAL]
    order_ref: Annotated[str | None, NOT_PERSONAL]
    personal: Annotated[Changes, PERSONAL_DATA]


class Replied(TicketEvent):
    """An agent or the customer replied; the body is free text, in `personal`."""

    reply_id: Annotated[UUID, NOT_PERSONAL]
    author: Annotated[Author, NOT_PERSONAL]
    personal: Annotated[Changes, PERSONAL_DATA]


class StatusChanged(TicketEvent):
    """A ticket moved to another status."""

    status: Annotated[TicketStatus, NOT_PERSONAL]


class SatisfactionRated(TicketEvent):
    """The customer rated a solved ticket from 1 to 5; the comment is free text, in
    `personal`."""

    rating: Annotated[int, NOT_PERSONAL]
    personal: Annotated[Changes, PERSONAL_DATA]


class SlaBreached(TicketEvent):
    """A ticket missed an SLA target of the policy version named, at its due time."""

    target: Annotated[SlaTarget, NOT_PERSONAL]
    policy_version: Annotated[int, NOT_PERSONAL]
