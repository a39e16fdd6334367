"""Typed custom fields: definitions declared over the API, checked on customer commands."""

from datetime import date
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import InvalidValue
from domain.values import CustomValue, Meta, Value

SCHEMA_ID = UUID("5c4e3a1f-0d2b-4c6e-9f8a-c0570f1e1d5a")
"""The one custom field schema."""


class FieldType(StrEnum):
    """What a custom field holds."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"


class FieldDefinition(Value):
    """A custom field's type, its choices (for a choice field) and its label."""

    type: FieldType
    choices: tuple[str, ...] = ()
    label: str | None = None

    def problem(self, value: CustomValue) -> str | None:
        """Why `value` does not fit this field, or None if it does (null always fits: it
        removes the value)."""
        if value is None:
            return None
        if self.type == FieldType.NUMBER:
            fits = isinstance(value, int | float) and not isinstance(value, bool)
            return None if fits else "must be a number"
        if not isinstance(value, str):
            return f"must be {'a date (YYYY-MM-DD)' if self.type == FieldType.DATE else 'text'}"
        if self.type == FieldType.DATE:
            try:
                date.fromisoformat(value)
            except ValueError:
                return "must be a date (YYYY-MM-DD)"
        if self.type == FieldType.CHOICE and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}"
        return None


class CustomFieldSchema(Aggregate):
    """The definitions of custom fields, by key. Keys without a definition take any value."""

    id: UUID

    @classmethod
    def start(cls, meta: Meta) -> "CustomFieldSchema":
        """The schema before any definition."""
        return cls(id=SCHEMA_ID, meta=meta)

    @event("Started")
    def __init__(self, meta: Meta) -> None:
        self.fields: dict[str, FieldDefinition] = {}

    def define(self, key: str, definition: FieldDefinition, meta: Meta) -> None:
        """Defines or redefines a field; records nothing if it is already so defined."""
        if self.fields.get(key) != definition:
            self._define(key, definition, meta)

    @event("FieldDefined")
    def _define(self, key: str, definition: FieldDefinition, meta: Meta) -> None:
        self.fields[key] = definition

    def check(self, values: dict[str, CustomValue]) -> None:
        """Refuses the first value that does not fit its field's definition."""
        for key, value in values.items():
            definition = self.fields.get(key)
            problem = definition.problem(value) if definition else None
            if problem:
                raise InvalidValue(f"custom_fields.{key}", problem)
