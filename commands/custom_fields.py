"""Commands that declare typed custom fields."""

from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from commands.base import Command, Text
from commands.customers import Key, Tag
from domain.aggregate import Aggregate
from domain.custom_fields import SCHEMA_ID, CustomFieldSchema, FieldType


class DefineCustomField(Command):
    """Defines a custom field's type (and choices, for a choice field); customer commands
    then refuse values of another type (422 naming the field)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"type": "choice", "choices": ["bronze", "silver", "gold"], "label": "Tier"}
            ]
        }
    )

    key: Key
    type: FieldType
    choices: list[Tag] = Field(default=[], max_length=200)
    label: Text | None = None

    @model_validator(mode="after")
    def _choices_for_choice_fields(self) -> "DefineCustomField":
        if (self.type == FieldType.CHOICE) != bool(self.choices):
            raise ValueError("choices are required for a choice field, and only for one")
        return self

    def consulted(self) -> dict[UUID, type[Aggregate]]:
        return {SCHEMA_ID: CustomFieldSchema}
