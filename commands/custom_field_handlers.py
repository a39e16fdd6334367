"""Handler of custom field definitions (see `commands.handling`)."""

from commands.custom_fields import DefineCustomField
from commands.handling import Decide, Decision
from domain.custom_fields import SCHEMA_ID, CustomFieldSchema, FieldDefinition


def define_custom_field(command: DefineCustomField, ctx: Decide[CustomFieldSchema]) -> Decision:
    schema = ctx.consulted(SCHEMA_ID, CustomFieldSchema) or CustomFieldSchema.start(ctx.meta)
    definition = FieldDefinition(
        type=command.type, choices=tuple(command.choices), label=command.label
    )
    schema.define(command.key, definition, ctx.meta)
    return Decision(schema, {"key": command.key})
