"""Who may see personal data in an answer, and which parts of an answer are personal: the one
policy every read route applies.

A response model marks each personal field `Annotated[T | None, PERSONAL_DATA] = None` (the
default lets an answer without it validate; its route declares
`response_model_exclude_unset=True`, so a field left out is absent, not null). `shown_to`
leaves every marked field out, at any depth (in nested models and lists of them), for a
principal whose role may not see personal data: analysts see what customers do, not who
they are or what they wrote (names, contact details, free text). The mark is the event
catalogue's (`domain.events.payload`); answers mark the fields hidden from analysts so far,
fewer than the catalogue counts personal (ticket subjects and deal titles are shown).
"""

from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Field

from domain.events.payload import PERSONAL_DATA, privacy
from infra.api_keys import Principal, Role

WITHOUT_PERSONAL_DATA = frozenset({Role.ANALYST})
"""The roles that get answers without personal data."""


PersonalText = Annotated[str | None, PERSONAL_DATA, Field(description="Absent for analysts")]
"""A personal text field of an answer (give it the default None)."""
Exclusion = dict[str, Any]
"""What to leave out of a model's dump, in pydantic's `exclude` form."""


def sees_personal_data(principal: Principal) -> bool:
    """Whether answers to `principal` may hold personal data."""
    return principal.role not in WITHOUT_PERSONAL_DATA


def shown_to(principal: Principal, view: BaseModel) -> dict[str, Any]:
    """`view` as `principal` may see it: without its personal fields if their role may not
    (and, like the answer, without fields it was not given)."""
    hidden = None if sees_personal_data(principal) else personal_fields(type(view))
    return view.model_dump(exclude=hidden, exclude_unset=True)


@cache
def personal_fields(model: type[BaseModel]) -> Exclusion:
    """The personal fields of `model` and of the models in it, to leave out of its dump."""
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
