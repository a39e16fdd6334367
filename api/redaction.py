"""Which fields of an answer are personal data, as its response model marks them.

A response model marks each personal field `PersonalText` (or `Annotated[T, PERSONAL_DATA]`),
the event catalogue's mark (`domain.events.payload`). What a role sees is decided by the
access policy's allow-lists (`api.access_policy`), not by these marks: they document the
answers (the OpenAPI document says "Absent for analysts"), and a test checks that no
analyst's allow-list names a marked field.
"""

from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Field

from domain.events.payload import PERSONAL_DATA, privacy

PersonalText = Annotated[str | None, PERSONAL_DATA, Field(description="Absent for analysts")]
"""A personal text field of an answer (give it the default None)."""
Exclusion = dict[str, Any]
"""The marked fields of a model, in pydantic's `exclude` form."""


@cache
def personal_fields(model: type[BaseModel]) -> Exclusion:
    """The personal fields of `model` and of the models in it."""
    found: Exclusion = {}
    for name, field in model.model_fields.items():
        if (decision := privacy(field)) is not None and decision.personal:
            found[name] = True
        elif inner := _nested(field.annotation):
            found[name] = inner
    return found


def _nested(annotation: Any) -> Exclusion:
    """The personal fields of the model an annotation holds (itself, optional, or in a list)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return personal_fields(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, UnionType):
        inner = [_nested(arg) for arg in args if arg is not NoneType]
        return inner[0] if len(inner) == 1 else {}
    if origin in (list, tuple) and args:
        each = _nested(args[0])
        return {"__all__": each} if each else {}
    return {}
