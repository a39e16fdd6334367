"""Typed custom fields: which values fit which definitions."""

import pytest

from domain.custom_fields import CustomFieldSchema, FieldDefinition, FieldType
from domain.errors import InvalidValue
from tests.unit.builders import META

NUMBER = FieldDefinition(type=FieldType.NUMBER)
DATE = FieldDefinition(type=FieldType.DATE)
CHOICE = FieldDefinition(type=FieldType.CHOICE, choices=("silver", "gold"))
TEXT = FieldDefinition(type=FieldType.TEXT)


@pytest.mark.parametrize(
    ("definition", "value", "problem"),
    [
        (NUMBER, 3, None),
        (NUMBER, 2.5, None),
        (NUMBER, True, "must be a number"),
        (NUMBER, "3", "must be a number"),
        (DATE, "2026-02-28", None),
        (DATE, "2026-02-30", "must be a date (YYYY-MM-DD)"),
        (DATE, 20260228, "must be a date (YYYY-MM-DD)"),
        (CHOICE, "gold", None),
        (CHOICE, "bronze", "must be one of silver, gold"),
        (TEXT, "anything", None),
        (TEXT, 7, "must be text"),
        (NUMBER, None, None),
    ],
)
def test_a_value_fits_its_definition_or_says_why_not(definition, value, problem) -> None:
    assert definition.problem(value) == problem


def test_the_schema_names_the_field_at_fault_and_ignores_undefined_keys() -> None:
    schema = CustomFieldSchema.start(META)
    schema.define("size", NUMBER, META)
    schema.define("size", NUMBER, META)
    assert len(schema.collect_events()) == 2  # started, defined once
    schema.check({"size": 3, "anything": "goes"})
    with pytest.raises(InvalidValue) as refused:
        schema.check({"size": "big"})
    assert (refused.value.field, refused.value.detail) == ("custom_fields.size", "must be a number")
