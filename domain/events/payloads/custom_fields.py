"""Payloads of the CustomFieldSchema aggregate's events (`domain.custom_fields`)."""

from typing import Annotated

from domain.custom_fields import FieldDefinition
from domain.events.payload import NOT_PERSONAL, Payload


class Started(Payload):
    """The custom field schema exists, without definitions."""


class FieldDefined(Payload):
    """A custom field is defined or redefined: its type, choices and label."""

    key: Annotated[str, NOT_PERSONAL]
    definition: Annotated[FieldDefinition, NOT_PERSONAL]
