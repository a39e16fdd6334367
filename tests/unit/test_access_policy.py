"""The access policy as data: every route of the app has a rule and is policed, every field an
allow-list names exists in the route's answer and is not marked personal, and views keep
exactly what they list (the routes' behaviour is tested in
tests/integration/test_access_policy.py)."""

import dataclasses
import typing
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from api.access_policy import EVERYTHING, POLICY, EventFields, Fields, kept, rule_for
from api.app import create_app
from api.policing import PolicedRoute
from api.redaction import personal_fields
from api.views import customers, leads, tickets
from domain.events.catalogue import BY_NAME
from infra.api_keys import Role
from infra.settings import Settings

APP = create_app(None, None, Settings(_env_file=None))  # type: ignore[arg-type]
ROUTES = [
    (method, context.path, context)
    for context in iter_route_contexts(APP.routes)
    for method in sorted(context.methods or ())
    if method != "HEAD"
]


def test_every_route_of_the_app_has_a_rule() -> None:
    assert [f"{m} {path}" for m, path, _ in ROUTES if rule_for(m, path) is None] == []


def test_every_api_route_is_policed() -> None:
    unpoliced = [
        path
        for _, path, context in ROUTES
        if isinstance(context.original_route, APIRoute)
        and not isinstance(context.original_route, PolicedRoute)
    ]
    assert unpoliced == []


def test_admins_may_call_every_route_that_needs_a_key() -> None:
    assert [route for route, rule in POLICY.items() if not rule.public and Role.ADMIN not in rule.roles] == []  # fmt: skip


def _allowed_views() -> list[tuple[str, Fields, Any]]:
    found = []
    for method, path, context in ROUTES:
        rule = rule_for(method, path)
        for view in rule.roles.values() if rule else ():
            if isinstance(view, Fields):
                found.append((f"{method} {path}", view, context.original_route.response_model))
    return found


def _field(kind: Any, name: str) -> Any:
    """The annotation of `name` in a model, a dataclass, a list or a map (`*`)."""
    origin, args = get_origin(kind), get_args(kind)
    if origin in (Union, UnionType):
        (inner,) = [a for a in args if a is not NoneType]
        return _field(inner, name)
    if name == "*":
        assert origin in (list, tuple, dict), f"{kind} has no items"
        return args[-1] if origin is dict else args[0]
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return kind.model_fields[name].annotation
    assert dataclasses.is_dataclass(kind), f"{kind} has no field {name}"
    return typing.get_type_hints(kind)[name]


def _marked(model: Any, parts: list[str]) -> bool:
    """Whether the path names a field the response model marks personal."""
    hidden: Any = personal_fields(model) if isinstance(model, type) and issubclass(model, BaseModel) else {}  # fmt: skip
    for part in parts:
        if hidden is True or not isinstance(hidden, dict):
            return hidden is True
        hidden = hidden.get("__all__" if part == "*" else part, {})
    return hidden is True


@pytest.mark.parametrize(("route", "view", "model"), _allowed_views(), ids=lambda v: str(v)[:60])
def test_each_allowed_field_exists_and_is_not_marked_personal(
    route: str, view: Fields, model: Any
) -> None:
    for path in view.paths:
        kind = model
        for part in path.split("."):
            try:
                kind = _field(kind, part)
            except (KeyError, AssertionError) as error:
                pytest.fail(f"{route}: {path} is not in the answer ({error})")
        assert not _marked(model, path.split(".")), f"{route}: {path} is personal"


def test_a_view_keeps_what_it_lists_in_objects_lists_and_maps() -> None:
    view = Fields("id", "items.*.n", "by.*.count", "last.channel", "whole")
    answer = {
        "id": 1,
        "name": "Ada",
        "items": [{"n": 1, "note": "x"}, {"n": 2}],
        "by": {"email": {"count": 3, "subject": "Hi Ada"}},
        "last": None,
        "whole": {"a": [1, {"b": 2}]},
    }
    assert view.shown(answer) == {
        "id": 1,
        "items": [{"n": 1}, {"n": 2}],
        "by": {"email": {"count": 3}},
        "last": None,
        "whole": {"a": [1, {"b": 2}]},
    }
    assert kept([1, 2], {"x": True}) == []


def test_an_analysts_timeline_keeps_exactly_the_non_personal_fields_of_each_event() -> None:
    view = POLICY["GET /v1/customers/{customer_id}/timeline"].roles[Role.ANALYST]
    assert isinstance(view, EventFields)
    entry = BY_NAME["Customer.InteractionLogged"]
    data = {name: f"v-{name}" for name in entry.payload.model_fields}
    answer = {
        "items": [
            {"type": entry.name, "position": 7, "data": data},
            {"type": "Customer.NotCatalogued", "position": 8, "data": {"x": "y"}},
        ],
        "next_cursor": None,
    }
    shown = view.shown(answer)
    assert set(shown["items"][0]["data"]) == set(data) - set(entry.personal_fields)
    assert entry.personal_fields and shown["items"][0]["position"] == 7
    assert shown["items"][1]["data"] == {}


def test_analysts_see_no_field_the_answers_mark_personal() -> None:
    ticket = POLICY["GET /v1/tickets/{ticket_id}"].roles[Role.ANALYST]
    lead = POLICY["GET /v1/leads/{lead_id}"].roles[Role.ANALYST]
    customer = POLICY["GET /v1/customers/{customer_id}"].roles[Role.ANALYST]
    assert isinstance(ticket, Fields) and isinstance(lead, Fields) and isinstance(customer, Fields)
    assert {"subject", "description"}.isdisjoint(ticket.tree)
    assert {"name", "email", "company", "attributes"}.isdisjoint(lead.tree)
    assert {"name", "email", "phone", "personal", "profile", "custom_fields"}.isdisjoint(
        customer.tree
    )
    assert personal_fields(customers.CustomerView).keys() <= {"name", "email", "phone", "personal"}
    assert personal_fields(leads.LeadView) == {"name": True, "email": True}
    assert "description" in personal_fields(tickets.TicketView)


def test_every_other_role_sees_answers_whole() -> None:
    partial = {
        (route, role)
        for route, rule in POLICY.items()
        for role, view in rule.roles.items()
        if view is not EVERYTHING
    }
    assert {role for _, role in partial} == {Role.ANALYST}
