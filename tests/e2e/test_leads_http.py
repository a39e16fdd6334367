"""Leads over HTTP against a running `crm serve`: capture, scoring, assignment,
duplicates, qualification and conversion. Each test names its own reps and emails."""

from collections.abc import Iterator
from uuid import UUID, uuid4

import httpx
import pytest

from tests.e2e.reading import read_at_least
from tests.e2e.test_customers_http import caught_up, register

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def admin(service, keys) -> Iterator[httpx.Client]:
    with service.client(keys["admin"]) as client:
        yield client


def email() -> str:
    return f"lead-{uuid4().hex[:10]}@example.com"


def capture(api: httpx.Client, **fields) -> dict:
    response = api.post("/v1/leads", json={"name": "Grace Hopper", "email": email()} | fields)
    assert response.status_code == 201, response.text
    return response.json()


def lead(api: httpx.Client, lead_id: str, version: int) -> dict:
    """The lead once the read model shows `version` (the answer of the command that made it)."""
    return read_at_least(api, f"/v1/leads/{lead_id}", version).json()


def reps(admin: httpx.Client, *specs: dict, territory_attribute: str = "country") -> list[str]:
    """Sets the sales reps (fresh ids), waits until GET shows them, and returns their ids."""
    named = [{"id": f"rep-{uuid4().hex[:8]}", "name": "Rep"} | spec for spec in specs]
    body = {"reps": named, "territory_attribute": territory_attribute}
    response = admin.put("/v1/sales-reps", json=body)
    assert response.status_code == 200, response.text
    read_at_least(admin, "/v1/sales-reps", response.json()["version"])
    return [rep["id"] for rep in named]


def qualified(api: httpx.Client, **fields) -> tuple[str, int]:
    """A new qualified lead: its id and version."""
    lead_id = capture(api, **fields)["id"]
    response = api.post(f"/v1/leads/{lead_id}/qualify", json={})
    assert response.status_code == 200, response.text
    return lead_id, response.json()["version"]


def refused(response: httpx.Response, rule: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == f"/problems/{rule}"


def test_capture_answers_201_and_assigns_owners_round_robin(api, admin) -> None:
    # Given three reps, the second one inactive
    ann, bob, cid = reps(admin, {}, {"active": False}, {})
    # When four leads are captured
    answers = [capture(api, company="Navy Labs", source="referral") for _ in range(4)]
    # Then each is 201 {id, version} and the active reps get them in turn
    assert all(UUID(a["id"]) and a["version"] >= 1 for a in answers)
    owners = [lead(api, a["id"], a["version"])["owner_id"] for a in answers]
    assert owners == [ann, cid, ann, cid]
    assert [a["owner_id"] for a in answers] == owners
    assert bob not in owners


def test_capture_answers_with_location_and_etag(api) -> None:
    response = api.post("/v1/leads", json={"name": "Ada", "email": email()})
    body = response.json()
    assert response.headers["Location"] == f"/v1/leads/{body['id']}"
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert lead(api, body["id"], body["version"])["version"] == body["version"]


def test_a_lead_in_a_territory_goes_to_the_rep_covering_it(api, admin) -> None:
    france, anyone = reps(admin, {"territories": ["FR", "BE"]}, {})
    from_france = capture(api, attributes={"country": "fr"})
    from_japan = capture(api, attributes={"country": "JP"})
    assert (from_france["owner_id"], from_japan["owner_id"]) == (france, anyone)
    shown = admin.get("/v1/sales-reps").json()
    assert [r["id"] for r in shown["reps"]] == [france, anyone]
    assert shown["reps"][0]["territories"] == ["FR", "BE"]


def test_get_shows_the_score_and_which_rules_gave_how_many_points(api, admin) -> None:
    # Given scoring rules
    rules = {
        "attribute_rules": [
            {"name": "Large company", "attribute": "company_size", "min": 200, "points": 20},
            {"name": "Webinar", "attribute": "source", "equals": "webinar", "points": 10},
            {"name": "EU", "attribute": "country", "one_of": ["FR", "DE"], "points": 5},
        ],
        "engagement_rules": [{"name": "Clicks", "kind": "email_clicked", "points": 4}],
    }
    put = admin.put("/v1/lead-scoring/rules", json=rules)
    assert put.status_code == 200, put.text
    in_force = read_at_least(admin, "/v1/lead-scoring/rules", put.json()["version"]).json()
    assert in_force["attribute_rules"][0]["name"] == "Large company"
    # When a lead is captured, then clicks an email
    lead_id = capture(api, source="Webinar", attributes={"company_size": "1200", "country": "US"})[
        "id"
    ]
    clicked = api.post(f"/v1/leads/{lead_id}/engagements", json={"kind": "email_clicked"})
    assert clicked.status_code == 201, clicked.text
    # Then its score is stored with the points of each rule
    score = lead(api, lead_id, clicked.json()["version"])["score"]
    assert score["points"] == 34
    assert score["rules_version"] == in_force["rules_version"]
    assert score["explanation"] == [
        {"rule": "Large company", "points": 20},
        {"rule": "Webinar", "points": 10},
        {"rule": "Clicks", "points": 4},
    ]


def test_a_duplicate_email_is_detected_and_reported(api) -> None:
    address = email()
    first = capture(api, email=address)
    second = capture(api, email=address.upper())
    assert first["duplicate_of"] is None
    assert second["duplicate_of"] == first["id"]
    assert lead(api, second["id"], second["version"])["duplicate_of"] == first["id"]
    assert second["owner_id"] == first["owner_id"]


def test_qualify_then_convert_creates_a_customer(api) -> None:
    address = email()
    lead_id, version = qualified(api, email=address, company="Navy Labs")
    assert lead(api, lead_id, version)["status"] == "qualified"
    converted = api.post(f"/v1/leads/{lead_id}/convert", json={})
    assert converted.status_code == 200, converted.text
    body = converted.json()
    assert body["deal_id"] is None and body["customer_created"] is True
    customer = caught_up(api, body["customer_id"], 1)
    assert (customer["email"], customer["consent"]) == (address, {})
    shown = lead(api, lead_id, body["version"])
    assert (shown["status"], shown["customer_id"]) == ("converted", body["customer_id"])
    assert body["version"] == shown["version"]


def test_a_lead_with_a_known_customers_email_is_linked_to_it(service, keys, api) -> None:
    address = email()
    customer_id = register(api, email=address)
    caught_up(api, customer_id, 1)
    lead_id, _ = qualified(api, email=address.upper())
    body = api.post(f"/v1/leads/{lead_id}/convert", json={}).json()
    assert (body["customer_id"], body["customer_created"]) == (customer_id, False)
    # And the lead's history is in the customer's timeline from then on
    with service.client(keys["auditor"]) as auditor:
        items = auditor.get(f"/v1/customers/{customer_id}/timeline").json()["items"]
    assert [i["type"] for i in items if i["stream_id"] == lead_id][-1] == "Lead.Converted"
    assert "Customer.Registered" in [i["type"] for i in items]


def test_convert_may_open_a_deal(api) -> None:
    lead_id, _ = qualified(api)
    deal = {"title": "Pilot", "amount": "12000.00", "currency": "EUR", "stage": "proposal"}
    body = api.post(f"/v1/leads/{lead_id}/convert", json={"deal": deal}).json()
    assert UUID(body["deal_id"])
    opened = read_at_least(api, f"/v1/deals/{body['deal_id']}")
    assert opened.json()["customer_id"] == body["customer_id"]


def test_refusals_are_409_problems_naming_the_rule_and_record_nothing(api) -> None:
    captured = capture(api)
    new, version = captured["id"], captured["version"]
    refused(api.post(f"/v1/leads/{new}/convert", json={}), "lead-not-qualified")
    assert lead(api, new, version)["version"] == version
    assert api.post(f"/v1/leads/{new}/disqualify", json={"reason": "No budget"}).status_code == 200
    refused(api.post(f"/v1/leads/{new}/convert", json={}), "lead-disqualified")
    converted, _ = qualified(api)
    conversion = api.post(f"/v1/leads/{converted}/convert", json={})
    assert conversion.status_code == 200, conversion.text
    version = conversion.json()["version"]
    refused(api.post(f"/v1/leads/{converted}/convert", json={}), "lead-converted")
    refused(api.post(f"/v1/leads/{converted}/qualify", json={}), "lead-converted")
    assert lead(api, converted, version)["version"] == version


def test_a_deal_in_an_unknown_stage_is_a_422_naming_it_and_converts_nothing(api) -> None:
    lead_id, version = qualified(api)
    deal = {"title": "Pilot", "amount": "1", "currency": "EUR", "stage": "nowhere"}
    response = api.post(f"/v1/leads/{lead_id}/convert", json={"deal": deal})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["deal.stage"]
    assert lead(api, lead_id, version)["status"] == "qualified"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Ada", "email": "not-an-email"}, "email"),
        ({"email": "ada@example.com"}, "name"),
        (
            {"name": "Ada", "email": "ada@example.com", "attributes": {"9x": 1}},
            "attributes.9x.[key]",
        ),
    ],
)
def test_invalid_captures_are_422_naming_the_field(api, body, field) -> None:
    response = api.post("/v1/leads", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_invalid_settings_are_422_naming_the_field(admin) -> None:
    two_forms = {"name": "x", "attribute": "a", "points": 1, "equals": "a", "min": 1}
    response = admin.put("/v1/lead-scoring/rules", json={"attribute_rules": [two_forms]})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["attribute_rules.0"]
    same_ids = {"reps": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]}
    response = admin.put("/v1/sales-reps", json=same_ids)
    assert [e["field"] for e in response.json()["errors"]] == ["reps"]
    response = admin.put("/v1/sales-reps", json={"reps": [], "territory_attribute": "bad key"})
    assert [e["field"] for e in response.json()["errors"]] == ["territory_attribute"]


def test_an_unknown_lead_is_404(api) -> None:
    for response in (
        api.get(f"/v1/leads/{uuid4()}"),
        api.get("/v1/leads/not-a-uuid"),
        api.post(f"/v1/leads/{uuid4()}/qualify", json={}),
        api.post(f"/v1/leads/{uuid4()}/convert", json={}),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == PROBLEM


def test_only_admins_change_settings_and_analysts_see_no_personal_data(service, keys, api) -> None:
    assert api.put("/v1/sales-reps", json={"reps": []}).status_code == 403
    assert api.put("/v1/lead-scoring/rules", json={}).status_code == 403
    assert api.get("/v1/lead-scoring/rules").status_code == 200
    captured = capture(api)
    with service.client(keys["analyst"]) as analyst:
        assert analyst.post("/v1/leads", json={"name": "X", "email": email()}).status_code == 403
        shown = read_at_least(analyst, f"/v1/leads/{captured['id']}", captured["version"]).json()
    assert not {"name", "email"} & shown.keys()
    assert "score" in shown and "owner_id" in shown


def test_settings_changes_are_recorded_once_per_change(admin) -> None:
    rep_id = reps(admin, {})[0]
    before = admin.get("/v1/sales-reps").json()["version"]
    same = {"reps": [{"id": rep_id, "name": "Rep"}], "territory_attribute": "country"}
    assert admin.put("/v1/sales-reps", json=same).json()["version"] == before
