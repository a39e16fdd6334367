"""Every command bounds its input, and says so in its JSON schema (the OpenAPI document): each
list has maxItems, each map maxProperties, each text maxLength, each number a minimum and a
maximum. A field added without a bound fails here (no I/O)."""

from typing import Any

import pytest
from pydantic import ValidationError

from commands.campaigns import CompleteCampaign, CreateCampaign
from commands.customers import ChangeCustomer, RecordPurchase, RegisterCustomer
from commands.deals import OpenDeal
from commands.leads import CaptureLead, SetSalesReps, SetScoringRules
from commands.registry import COMMAND_HANDLERS
from commands.segments import DefineSegment
from commands.sla import RecordSlaBreach

COMMANDS = sorted(
    (model for model in COMMAND_HANDLERS if model.__module__.startswith("commands.")),
    key=lambda model: model.__name__,
)
"""The product's commands (not those other test modules register for their own use)."""
FIXED_SIZE_FORMATS = {"date", "date-time"}
"""Parsed into a date or time, whose stored size does not depend on the text."""


def unbounded(schema: dict[str, Any], defs: dict[str, Any], path: str = "") -> list[str]:
    """The paths (`items.[].sku`) in `schema` where a value has no upper bound."""
    if "$ref" in schema:
        return unbounded(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, path)
    found = []
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        found += unbounded(branch, defs, path)
    kind = schema.get("type")
    if kind == "string" and not (
        "maxLength" in schema
        or "enum" in schema
        or "const" in schema
        or schema.get("format") in FIXED_SIZE_FORMATS
    ):
        found.append(f"{path}: text without maxLength")
    if kind in ("integer", "number") and not (
        ("minimum" in schema or "exclusiveMinimum" in schema)
        and ("maximum" in schema or "exclusiveMaximum" in schema)
    ):
        found.append(f"{path}: {kind} without minimum and maximum")
    if kind == "array":
        if "maxItems" not in schema:
            found.append(f"{path}: list without maxItems")
        found += unbounded(schema.get("items", {}), defs, f"{path}.[]")
    if kind == "object":
        extra = schema.get("additionalProperties")
        values = [extra] if isinstance(extra, dict) else []
        values += list(schema.get("patternProperties", {}).values())
        if values:
            if "maxProperties" not in schema:
                found.append(f"{path}: map without maxProperties")
            found += unbounded(schema.get("propertyNames", {}), defs, f"{path}.<key>")
            for value in values:
                found += unbounded(value, defs, f"{path}.<value>")
        for name, field in schema.get("properties", {}).items():
            found += unbounded(field, defs, f"{path}.{name}" if path else name)
    return found


@pytest.mark.parametrize("command", COMMANDS, ids=lambda model: model.__name__)
def test_every_field_of_every_command_is_bounded_in_its_schema(command) -> None:
    schema = command.model_json_schema()
    assert unbounded(schema, schema.get("$defs", {})) == []


def test_the_walk_finds_an_unbounded_field() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "rating": {"type": "integer", "minimum": 1},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            "keyed": {"type": "object", "patternProperties": {"^k$": {"type": "number"}}},
        },
    }
    assert unbounded(schema, {}) == [
        "tags: list without maxItems",
        "tags.[]: text without maxLength",
        "rating: integer without minimum and maximum",
        "fields: map without maxProperties",
        "fields.<value>: text without maxLength",
        "keyed: map without maxProperties",
        "keyed.<value>: number without minimum and maximum",
    ]


CUSTOMER = "0c7e4a5e-8d43-4b1e-9a53-3f0d2b6c1a10"
PURCHASE = {"order_id": "A-1", "total": "1", "currency": "EUR"}
LEAD = {"name": "Grace", "email": "grace@example.com"}
DEAL = {"customer_id": CUSTOMER, "title": "Tea", "amount": "1", "currency": "EUR"}
RULE = {"name": "Big", "attribute": "size", "points": 1}


def purchase_with(**line: Any) -> dict[str, Any]:
    return PURCHASE | {"items": [{"sku": "TEA"} | line]}


@pytest.mark.parametrize(
    ("command", "fields", "field"),
    [
        (RegisterCustomer, {"name": "Ada", "tags": [f"t{i}" for i in range(101)]}, "tags"),
        (ChangeCustomer, {"hobbies": [f"h{i}" for i in range(101)]}, "hobbies"),
        (ChangeCustomer, {"memberships": [f"m{i}" for i in range(101)]}, "memberships"),
        (ChangeCustomer, {"custom_fields": {f"k{i}": i for i in range(101)}}, "custom_fields"),
        (ChangeCustomer, {"custom_fields": {"note": "x" * 2001}}, "custom_fields.note"),
        (ChangeCustomer, {"custom_fields": {"size": 2**53}}, "custom_fields.size"),
        (ChangeCustomer, {"custom_fields": {"size": -(2**63)}}, "custom_fields.size"),
        (ChangeCustomer, {"custom_fields": {"size": float("nan")}}, "custom_fields.size"),
        (ChangeCustomer, {"custom_fields": {"size": float("inf")}}, "custom_fields.size"),
        (ChangeCustomer, {"consent": {f"c{i}": True for i in range(101)}}, "consent"),
        (ChangeCustomer, {"family": [{"relation": "son"}] * 51}, "family"),
        (ChangeCustomer, {"family": [{"relation": "s" * 101}]}, "family.0.relation"),
        (ChangeCustomer, {"address": {"line1": "x" * 201}}, "address.line1"),
        (ChangeCustomer, {"address": {"postal_code": "9" * 33}}, "address.postal_code"),
        (
            ChangeCustomer,
            {"social_links": {f"s{i}": "https://a.example" for i in range(21)}},
            "social_links",
        ),
        (RecordPurchase, PURCHASE | {"items": [{"sku": "TEA"}] * 1001}, "items"),
        (RecordPurchase, purchase_with(quantity=2**63), "items.0.quantity"),
        (RecordPurchase, purchase_with(quantity=1_000_001), "items.0.quantity"),
        (RecordPurchase, PURCHASE | {"total": "0" * 20 + "1"}, "total"),
        (RecordPurchase, purchase_with(unit_price="0" * 20 + "1"), "items.0.unit_price"),
        (OpenDeal, DEAL | {"amount": "0" * 20 + "1"}, "amount"),
        (CaptureLead, LEAD | {"attributes": {f"a{i}": 1 for i in range(101)}}, "attributes"),
        (CaptureLead, LEAD | {"attributes": {"size": 10**30}}, "attributes.size"),
        (SetScoringRules, {"attribute_rules": [RULE | {"min": 10**16}]}, "attribute_rules.0.min"),
        (
            SetScoringRules,
            {"attribute_rules": [RULE | {"equals": "x" * 501}]},
            "attribute_rules.0.equals",
        ),
        (
            SetScoringRules,
            {"attribute_rules": [RULE | {"equals": 2**60}]},
            "attribute_rules.0.equals",
        ),
        (
            SetSalesReps,
            {"reps": [{"id": "jo", "name": "Jo", "territories": ["FR"] * 201}]},
            "reps.0.territories",
        ),
        (
            DefineSegment,
            {"name": "Many", "criteria": {"min_purchases": 2**31}},
            "criteria.min_purchases",
        ),
        (
            DefineSegment,
            {"name": "Rich", "criteria": {"min_total": "0" * 16}},
            "criteria.min_total",
        ),
        (CompleteCampaign, {"sent": 2**31, "suppressed": 0}, "sent"),
        (
            RecordSlaBreach,
            {
                "target": "resolution",
                "policy_version": 2**31,
                "occurred_at": "2026-01-01T00:00:00Z",
            },
            "policy_version",
        ),
    ],
)
def test_over_the_bound_is_refused_naming_the_field(command, fields, field) -> None:
    with pytest.raises(ValidationError) as refused:
        command.model_validate(fields)
    assert field in {".".join(map(str, e["loc"])) for e in refused.value.errors()}


@pytest.mark.parametrize(
    "written",
    [f"{{{CUSTOMER}}}", f"urn:uuid:{CUSTOMER}", CUSTOMER.replace("-", "")],
    ids=["braces", "urn", "no-hyphens"],
)
def test_an_id_in_a_body_is_a_uuid_in_its_canonical_form_only(written) -> None:
    # Given an id written other than as 8-4-4-4-12 hex digits; When sent; Then refused
    with pytest.raises(ValidationError) as refused:
        OpenDeal.model_validate(DEAL | {"customer_id": written, "stage": "demo"})
    assert [e["loc"] for e in refused.value.errors()] == [("customer_id",)]
    lists = {"name": "VIP", "subject": "Hi", "body_html": "<p>Hi</p>"}
    with pytest.raises(ValidationError) as refused:
        CreateCampaign.model_validate(lists | {"customer_ids": [CUSTOMER, written]})
    assert [e["loc"] for e in refused.value.errors()] == [("customer_ids", 1)]
    # And in either case it is one
    opened = OpenDeal.model_validate(DEAL | {"customer_id": CUSTOMER.upper(), "stage": "demo"})
    assert str(opened.customer_id) == CUSTOMER
