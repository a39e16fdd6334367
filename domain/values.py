"""Value objects carried by events. Lenient types: a stored event must always load."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Value(BaseModel):
    """Immutable value object."""

    model_config = ConfigDict(frozen=True)


class Meta(Value):
    """Who caused an event, why, and when it happened in business time."""

    actor: str
    correlation_id: str
    causation_id: str | None = None
    occurred_at: datetime


class Channel(StrEnum):
    """Ways a customer and the company talk to each other."""

    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    CHAT = "chat"
    SMS = "sms"
    SOCIAL = "social"


class Direction(StrEnum):
    """Who started a contact."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class FeedbackSource(StrEnum):
    """Where a rating came from."""

    SURVEY = "survey"
    REVIEW_SITE = "review_site"
    SOCIAL = "social"


class Address(Value):
    """A postal address."""

    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None


class FamilyMember(Value):
    """A relative the customer told us about."""

    relation: str
    name: str | None = None
    birthday: date | None = None


class Personal(Value):
    """The personal-data field group of a customer (erasable as one block)."""

    name: str
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    birthday: date | None = None
    family: tuple[FamilyMember, ...] = ()
    social_links: dict[str, str] = {}


class Profile(Value):
    """Non-personal facts about a customer."""

    website: str | None = None
    preferred_channel: Channel | None = None
    source: str | None = None
    hobbies: tuple[str, ...] = ()
    memberships: tuple[str, ...] = ()


class PurchaseItem(Value):
    """One line of an order."""

    sku: str | None = None
    name: str | None = None
    quantity: int = 1
    unit_price: Decimal | None = None


CustomValue = str | int | float | bool | None
"""A custom field value."""

Changes = dict[str, Any]
"""Field name -> new value, for the fields a command changed."""
