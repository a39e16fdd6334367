"""Commands on saved segments."""

from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from commands.base import MAX_INT, Command, Money, Text
from commands.customers import CustomFields, Tag

SEGMENT_NAME = "segment.name"

EXAMPLE = {"tag": "vip", "min_purchases": 3, "last_purchase_after": "2026-01-01T00:00:00Z"}


class CriteriaFields(BaseModel):
    """Criteria over the customer 360 view; every one given must hold. Totals are in the
    customer's main currency (that of the first purchase)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [EXAMPLE]}
    )

    tag: Tag | None = None
    min_purchases: int | None = Field(default=None, ge=0, le=MAX_INT)
    max_purchases: int | None = Field(default=None, ge=0, le=MAX_INT)
    min_total: Money | None = None
    max_total: Money | None = None
    last_purchase_before: AwareDatetime | None = None
    last_purchase_after: AwareDatetime | None = None
    source: Text | None = None
    custom_fields: CustomFields = {}

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> "CriteriaFields":
        for low, high in (
            ("min_purchases", "max_purchases"),
            ("min_total", "max_total"),
            ("last_purchase_after", "last_purchase_before"),
        ):
            bottom, top = getattr(self, low), getattr(self, high)
            if bottom is not None and top is not None and bottom > top:
                raise ValueError(f"{low} must not be greater than {high}")
        return self


class DefineSegment(Command):
    """Saves a segment under a name no other segment has."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Loyal VIPs", "criteria": EXAMPLE}]}
    )

    name: Text
    criteria: CriteriaFields = CriteriaFields()

    def unique_claims(self) -> list[tuple[str, str]]:
        return [(SEGMENT_NAME, self.name)]


class RedefineSegment(Command):
    """Replaces a segment's criteria."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"criteria": EXAMPLE}]})

    criteria: CriteriaFields
