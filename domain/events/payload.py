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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

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


def blank(annotation: Any) -> Any:
    """The value an erased personal field reads as: None where the type allows it, else the
    empty value of its type ("" , {}, (), a model of blanks). Projections therefore get a
    valid payload whether or not the subject's data key still exists, and blanking a read
    model on erasure gives what a rebuild after it gives."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return blank(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return None if type(None) in get_args(annotation) else blank(get_args(annotation)[0])
    container = origin or annotation
    if isinstance(container, type) and issubclass(container, BaseModel):
        return {
            name: blank(field.annotation)
            for name, field in container.model_fields.items()
            if field.is_required()
        }
    return _EMPTY.get(container, lambda: None)()


_EMPTY: dict[Any, Callable[[], Any]] = {
    str: str,
    dict: dict,
    Mapping: dict,
    tuple: list,
    list: list,
    set: list,
    frozenset: list,
}
"""The blank of a container or text type (JSON: sequences are lists)."""


def blank_personal(payload: type[Payload], data: dict[str, Any]) -> dict[str, Any]:
    """`data` with each personal field of `payload` replaced by its blank."""
    fields = payload.model_fields
    return data | {name: blank(fields[name].annotation) for name in personal_fields(payload)}
