"""Event payloads: what an event records besides who caused it and when, with a personal-data
decision on every field.

A field is personal data (`PERSONAL_DATA`) when it identifies or describes a customer or a
lead (the customer's `personal` group, a lead's name, email, company and attributes), or is
free text written by or about one (ticket subjects and descriptions, reply bodies, interaction
subjects and notes, feedback and rating comments, reasons, deal titles, bounce messages, links
rendered for one customer): free text may hold anything. Ids, codes, amounts, statuses, times,
and what the company configures (campaigns, segments, stages, rules, policies, reps, custom
field definitions) are not (`NOT_PERSONAL`). A nested model is decided as one field.
"""

from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.fields import FieldInfo


@dataclass(frozen=True)
class Privacy:
    """A field's personal-data decision, given as `Annotated[type, PERSONAL_DATA]` (or
    `NOT_PERSONAL`)."""

    personal: bool


PERSONAL_DATA = Privacy(personal=True)
NOT_PERSONAL = Privacy(personal=False)


class Payload(BaseModel):
    """The `data` of one event type (`Envelope.data`, validated). `schema_version` counts the
    changes of its fields; an older version is brought up to date by an upcaster
    (`domain.events.upcasting`)."""

    model_config = ConfigDict(frozen=True)

    schema_version: ClassVar[int] = 1


class Uncatalogued(Payload):
    """The payload type of an event whose type is not in the catalogue (a newer writer's, or
    a test's): no projection or consumer applies it."""


def privacy(field: FieldInfo) -> Privacy | None:
    """The decision annotated on a payload field (None: none was made)."""
    return next((m for m in field.metadata if isinstance(m, Privacy)), None)


def personal_fields(payload: type[Payload]) -> tuple[str, ...]:
    """The names of a payload's personal-data fields, in declaration order."""
    return tuple(
        name
        for name, field in payload.model_fields.items()
        if (decision := privacy(field)) is not None and decision.personal
    )


def undecided_fields(payload: type[Payload]) -> tuple[str, ...]:
    """The names of a payload's fields without a personal-data decision."""
    return tuple(name for name, field in payload.model_fields.items() if privacy(field) is None)
