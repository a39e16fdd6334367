"""Handler of custom field definitions: `(command, aggregate, id, meta) -> (aggregate, answer)`."""

from uuid import UUID

from commands.custom_fields import DefineCustomField
from commands.registry import Answer, handles
from domain.aggregate import Aggregate
from domain.custom_fields import SCHEMA_ID, CustomFieldSchema, FieldDefinition
from domain.values import Meta


@handles(DefineCustomField, CustomFieldSchema)
def define_custom_field(
    command: DefineCustomField, _: None, __: UUID, meta: Meta, required: dict[UUID, Aggregate]
) -> tuple[CustomFieldSchema, Answer]:
    schema = required.get(SCHEMA_ID)
    if not isinstance(schema, CustomFieldSchema):
        schema = CustomFieldSchema.start(meta)
    definition = FieldDefinition(
        type=command.type, choices=tuple(command.choices), label=command.label
    )
    schema.define(command.key, definition, meta)
    return schema, {"key": command.key}
