"""Commands on customers, validated at the edge (a 422 names the field at fault)."""

from datetime import UTC, date, datetime
from decimal import Decimal
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

from commands.base import Command, LongText, Text
from domain.aggregate import Aggregate
from domain.custom_fields import SCHEMA_ID, CustomFieldSchema
from domain.values import Address, Channel, CustomValue, Direction, FamilyMember, FeedbackSource

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()./-]{4,32}$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
EXTERNAL_REF = "customer.external_ref"

Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def _underscored(value: Any) -> Any:
    return value.strip().replace(" ", "_") if isinstance(value, str) else value


class CustomerFields(Command):
    """Every field of a customer's profile; `None` for a field not given."""

    name: Name | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    address: Address | None = None
    birthday: date | None = None
    family: list[FamilyMember] | None = None
    social_links: dict[Key, HttpUrl] | None = None
    website: HttpUrl | None = None
    preferred_channel: Channel | None = None
    source: Text | None = None
    hobbies: list[Tag] | None = None
    memberships: list[Tag] | None = None
    tags: list[Tag] | None = None
    custom_fields: dict[Key, CustomValue] | None = None
    consent: dict[Key, bool] | None = None

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
    quantity: int = Field(default=1, ge=1)
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=4)


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
    items: list[ItemLine] = []
    total: Decimal = Field(ge=0, max_digits=14, decimal_places=4)
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
