"""Payloads of the Customer aggregate's events (`domain.customer`)."""

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from domain.email_delivery import SuppressionReason
from domain.events.payload import NOT_PERSONAL, PERSONAL_DATA, Payload
from domain.values import (
    Changes,
    Channel,
    CustomValue,
    Direction,
    FeedbackSource,
    Personal,
    Profile,
    PurchaseItem,
)


class Registered(Payload):
    """A customer is registered, with personal data, profile, tags, custom fields and consent."""

    external_ref: Annotated[str | None, NOT_PERSONAL]
    personal: Annotated[Personal, PERSONAL_DATA]
    profile: Annotated[Profile, PERSONAL_DATA]
    tags: Annotated[tuple[str, ...], NOT_PERSONAL]
    custom_fields: Annotated[dict[str, CustomValue], PERSONAL_DATA]
    consent: Annotated[dict[str, bool], NOT_PERSONAL]


class ProfileChanged(Payload):
    """Personal data, profile or custom fields changed (only the fields that differ; a null
    custom field is removed)."""

    personal: Annotated[Changes, PERSONAL_DATA]
    profile: Annotated[Changes, PERSONAL_DATA]
    custom_fields: Annotated[dict[str, CustomValue], PERSONAL_DATA]


class TagsChanged(Payload):
    """Tags were added to or removed from a customer."""

    added: Annotated[tuple[str, ...], NOT_PERSONAL]
    removed: Annotated[tuple[str, ...], NOT_PERSONAL]


class ConsentChanged(Payload):
    """Consent answers changed (only those that differ)."""

    changes: Annotated[dict[str, bool], NOT_PERSONAL]


class InteractionLogged(Payload):
    """A contact with the customer: channel, direction, subject and notes (free text)."""

    interaction_id: Annotated[UUID, NOT_PERSONAL]
    channel: Annotated[Channel, NOT_PERSONAL]
    direction: Annotated[Direction, NOT_PERSONAL]
    subject: Annotated[str | None, PERSONAL_DATA]
    personal: Annotated[Changes, PERSONAL_DATA]


class PurchaseRecorded(Payload):
    """An order, with its lines and total, recorded once per order id."""

    order_id: Annotated[str, NOT_PERSONAL]
    items: Annotated[tuple[PurchaseItem, ...], NOT_PERSONAL]
    total: Annotated[Decimal, NOT_PERSONAL]
    currency: Annotated[str, NOT_PERSONAL]
    payment_method: Annotated[str | None, NOT_PERSONAL]


class FeedbackGiven(Payload):
    """A rating from 1 to 5 and its comment (free text)."""

    feedback_id: Annotated[UUID, NOT_PERSONAL]
    rating: Annotated[int, NOT_PERSONAL]
    source: Annotated[FeedbackSource | None, NOT_PERSONAL]
    personal: Annotated[Changes, PERSONAL_DATA]


class EmailSent(Payload):
    """A campaign's email went to the customer, with its links as rendered for them."""

    campaign_id: Annotated[UUID, NOT_PERSONAL]
    message_id: Annotated[str, NOT_PERSONAL]
    links: Annotated[tuple[str, ...], PERSONAL_DATA]


class EmailSuppressed(Payload):
    """A campaign's email did not go to the customer: no consent, no address, or no render."""

    campaign_id: Annotated[UUID, NOT_PERSONAL]
    reason: Annotated[SuppressionReason, NOT_PERSONAL]


class EmailOpened(Payload):
    """The customer's email of a campaign was opened, by them or by a machine (`why`)."""

    campaign_id: Annotated[UUID, NOT_PERSONAL]
    machine: Annotated[bool, NOT_PERSONAL]
    why: Annotated[str | None, NOT_PERSONAL]


class EmailClicked(Payload):
    """A link of the customer's email of a campaign was clicked (its URL as rendered)."""

    campaign_id: Annotated[UUID, NOT_PERSONAL]
    link_index: Annotated[int, NOT_PERSONAL]
    url: Annotated[str, PERSONAL_DATA]


class EmailBounced(Payload):
    """The customer's email of a campaign bounced; the server's reason may quote the address."""

    campaign_id: Annotated[UUID, NOT_PERSONAL]
    reason: Annotated[str, PERSONAL_DATA]


class Erased(Payload):
    """The customer was erased (GDPR art. 17): their data keys were destroyed with this event,
    so their earlier events, and those of their tickets, deals and converted leads, read with
    blanks in place of personal fields from now on. Who erased them and when are the event's
    actor and times; `reason` is the legal ground an administrator stated, which must name
    no person (it stays readable)."""

    reason: Annotated[str, NOT_PERSONAL]
