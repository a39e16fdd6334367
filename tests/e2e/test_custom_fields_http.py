"""Typed custom fields over HTTP: declared once, then checked on every customer command."""

from uuid import uuid4

from tests.e2e.reading import read_at_least
from tests.e2e.test_customers_http import PROBLEM, register


def test_customer_commands_refuse_custom_values_of_another_type(api) -> None:
    # Given a number field and a choice field (keys of this test only: the schema is shared)
    suffix = uuid4().hex[:8]
    size, tier = f"size_{suffix}", f"tier_{suffix}"
    assert api.put(f"/v1/custom-fields/{size}", json={"type": "number"}).status_code == 200
    defined = api.put(
        f"/v1/custom-fields/{tier}", json={"type": "choice", "choices": ["silver", "gold"]}
    )
    assert defined.status_code == 200, defined.text
    # When a customer is registered with text in the number field
    ref = f"cf-{suffix}"
    refused = api.post(
        "/v1/customers", json={"name": "Ada", "external_ref": ref, "custom_fields": {size: "big"}}
    )
    # Then it is a 422 naming the field, and nothing is recorded (the external ref is free)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["errors"] == [
        {"field": f"custom_fields.{size}", "message": "must be a number"}
    ]
    customer_id = register(
        api, external_ref=ref, custom_fields={size: 42, tier: "gold", "free": "any"}
    )
    # And a change to a value outside the choices is refused the same way
    changed = api.patch(f"/v1/customers/{customer_id}", json={"custom_fields": {tier: "bronze"}})
    assert changed.status_code == 422
    assert changed.json()["errors"][0]["field"] == f"custom_fields.{tier}"
    assert (
        api.patch(f"/v1/customers/{customer_id}", json={"custom_fields": {tier: None}}).status_code
        == 200
    )
    # And the definitions are listed (once the read model has them)
    shown = read_at_least(api, "/v1/custom-fields", defined.json()["version"])
    listed = {f["key"]: f for f in shown.json()["items"]}
    assert listed[size]["type"] == "number"
    assert listed[tier]["choices"] == ["silver", "gold"]


def test_a_choice_field_needs_choices(api) -> None:
    refused = api.put(f"/v1/custom-fields/pick_{uuid4().hex[:8]}", json={"type": "choice"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body"
