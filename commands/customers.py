"""Commands on customers, validated at the edge (a 422 names the field at fault)."""

from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
)
from pydantic_extra_types.currency_code import ISO4217

from commands.base import MAX_ENTRIES, Command, CustomValue, Line, LongText, Money, Text
from domain.aggregate import Aggregate
from domain.custom_fields import SCHEMA_ID, CustomFieldSchema
from domain.values import Channel, Direction, FeedbackSource

MAX_QUANTITY = 1_000_000
"""An order line's largest quantity: 1,000 lines of it make 10^9, and a product's quantity
summed over any number of orders (a `numeric` sum in the purchases read model) cannot
overflow."""
MAX_ORDER_LINES = 1_000
MAX_FAMILY = 50
MAX_SOCIAL_LINKS = 20
EXTERNAL_REF = "customer.external_ref"

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Line]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=32, pattern=r"^\+?[0-9 ()./-]{4,32}$"),
]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), Line]
Key = Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
Email = Annotated[EmailStr, Field(max_length=254)]
"""An email address: 254 characters at most (the longest path of RFC 5321)."""
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Line]
AddressLine = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Line
]
PostalCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32), Line
]
Relation = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Line
]
Tags = Annotated[list[Tag], Field(max_length=MAX_ENTRIES)]
"""Tags, hobbies or memberships: 100 of 64 characters at most."""
CustomFields = Annotated[dict[Key, CustomValue], Field(max_length=MAX_ENTRIES)]
"""Values by key: 100 keys at most; text of 2,000 characters at most, or a number."""


class AddressFields(BaseModel):
    """A postal address: each line one line of text, of 200 characters at most."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line1: AddressLine | None = None
    line2: AddressLine | None = None
    postal_code: PostalCode | None = None
    city: AddressLine | None = None
    region: AddressLine | None = None
    country: AddressLine | None = None


class FamilyMemberFields(BaseModel):
    """A relative the customer told us about."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    relation: Relation
    name: Name | None = None
    birthday: date | None = None


def _underscored(value: Any) -> Any:
    return value.strip().replace(" ", "_") if isinstance(value, str) else value


class CustomerFields(Command):
    """Every field of a customer's profile; `None` for a field not given."""

    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    address: AddressFields | None = None
    birthday: date | None = None
    family: Annotated[list[FamilyMemberFields], Field(max_length=MAX_FAMILY)] | None = None
    social_links: Annotated[dict[Key, HttpUrl], Field(max_length=MAX_SOCIAL_LINKS)] | None = None
    website: HttpUrl | None = None
    preferred_channel: Channel | None = None
    source: Text | None = None
    hobbies: Tags | None = None
    memberships: Tags | None = None
    tags: Tags | None = None
    custom_fields: CustomFields | None = None
    consent: Annotated[dict[Key, bool], Field(max_length=MAX_ENTRIES)] | None = None

    def consulted(self) -> dict[UUID, type[Aggregate]]:
        """The custom field schema, to check the custom fields given."""
        return {SCHEMA_ID: CustomFieldSchema} if self.custom_fields else {}

    @field_validator("birthday")
    @classmethod
    def _born_in_the_past(cls, value: date | None) -> date | None:
        if value is not None and value > datetime.now(UTC).date():
            raise ValueError("must not be in the future")
        return value


class RegisterCustomer(CustomerFields):
    """Registers a customer; `external_ref` is unique across customers."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "external_ref": "shop-1042",
                    "name": "Ada Lovelace",
                    "email": "ada@example.com",
                    "phone": "+44 20 7946 0958",
                    "preferred_channel": "email",
                    "source": "webshop",
                    "tags": ["vip"],
                    "consent": {"email_marketing": True},
                }
            ]
        }
    )

    external_ref: Ref | None = None
    name: Name

    def unique_claims(self) -> list[tuple[str, str]]:
        return [(EXTERNAL_REF, self.external_ref)] if self.external_ref else []


class ChangeCustomer(CustomerFields):
    """Changes the given fields (null clears one); `tags` replaces the set, others merge."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"phone": "+33 1 23 45 67 89", "tags": ["vip", "b2b"]}]}
    )

    @field_validator("name")
    @classmethod
    def _name_kept(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("a customer keeps a name; it cannot be cleared")
        return value


class LogInteraction(Command):
    """Logs a contact with the customer."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"channel": "call", "direction": "inbound", "subject": "Delivery date"}]
        }
    )

    channel: Channel
    direction: Direction
    subject: Text | None = None
    notes: LongText | None = None


class ItemLine(BaseModel):
    """One order line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: Ref | None = None
    name: Text | None = None
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)
    unit_price: Money | None = None


class RecordPurchase(Command):
    """Records an order; a free order (total 0) is a purchase too."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_id": "A-1001",
                    "items": [
                        {"sku": "TEA-01", "name": "Tea", "quantity": 2, "unit_price": "4.50"}
                    ],
                    "total": "9.00",
                    "currency": "EUR",
                    "payment_method": "card",
                }
            ]
        }
    )

    order_id: Ref
    items: list[ItemLine] = Field(default=[], max_length=MAX_ORDER_LINES)
    total: Money
    currency: ISO4217
    payment_method: Text | None = None


class GiveFeedback(Command):
    """Records a rating from 1 to 5 with an optional comment."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"rating": 4, "comment": "Fast delivery", "source": "survey"}]
        }
    )

    rating: int = Field(ge=1, le=5)
    comment: LongText | None = None
    source: Annotated[FeedbackSource | None, BeforeValidator(_underscored)] = None


class EraseCustomer(Command):
    """Erases a customer (GDPR art. 17): records `Customer.Erased` and destroys their data
    keys. `reason` is the legal ground, kept readable for auditors: it must not name or
    describe the person."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "GDPR art. 17 request, ticket LEGAL-2031"}]}
    )

    reason: Text
