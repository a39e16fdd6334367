"""Deals and the pipeline's stages over HTTP against a running `crm serve` (CONTRACT.md)."""

from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest

PROBLEM = "application/problem+json"
DEFAULTS = [
    {"name": "prospecting", "probability": 10},
    {"name": "qualification", "probability": 20},
    {"name": "proposal", "probability": 50},
    {"name": "negotiation", "probability": 80},
]


@pytest.fixture(scope="module")
def customer_id(api: httpx.Client) -> str:
    response = api.post("/v1/customers", json={"name": "Grace Hopper"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture
def admin(service, keys) -> Iterator[httpx.Client]:
    with service.client(keys["admin"]) as client:
        yield client


@pytest.fixture
def auditor(service, keys) -> Iterator[httpx.Client]:
    with service.client(keys["auditor"]) as client:
        yield client


def open_deal(api: httpx.Client, customer_id: str, **fields) -> httpx.Response:
    body = {
        "customer_id": customer_id,
        "title": "Annual tea subscription",
        "amount": "12000.00",
        "currency": "EUR",
        "stage": "prospecting",
        "expected_close_date": "2026-09-30",
        "owner": "jane.doe",
    }
    return api.post("/v1/deals", json=body | fields)


def new_deal(api: httpx.Client, customer_id: str, **fields) -> str:
    response = open_deal(api, customer_id, **fields)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def deal(api: httpx.Client, deal_id: str) -> dict:
    response = api.get(f"/v1/deals/{deal_id}")
    assert response.status_code == 200, response.text
    return response.json()


def assert_invalid_stage(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["stage"]


def test_opening_a_deal_answers_201_with_id_version_and_location(api, customer_id) -> None:
    response = open_deal(api, customer_id)
    body = response.json()
    assert response.status_code == 201
    assert body["version"] == 1
    assert response.headers["Location"] == f"/v1/deals/{body['id']}"


def test_a_deal_for_an_unknown_customer_is_a_404_problem(api) -> None:
    response = open_deal(api, str(uuid4()))
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_an_unknown_stage_is_a_422_naming_stage_when_opening_or_moving(api, customer_id) -> None:
    assert_invalid_stage(open_deal(api, customer_id, stage="closing"))
    assert_invalid_stage(open_deal(api, customer_id, stage="won"))
    deal_id = new_deal(api, customer_id)
    assert_invalid_stage(api.post(f"/v1/deals/{deal_id}/stage", json={"stage": "closing"}))
    assert deal(api, deal_id)["version"] == 1


def test_a_deal_moves_and_shows_its_stage_history_and_probability(api, customer_id) -> None:
    # Given
    deal_id = new_deal(api, customer_id)
    # When
    moved = api.post(
        f"/v1/deals/{deal_id}/stage",
        json={"stage": "Proposal", "occurred_at": "2026-01-10T09:00:00+01:00"},
    )
    # Then
    assert (moved.status_code, moved.json()["version"]) == (200, 2)
    shown = deal(api, deal_id)
    assert (shown["stage"], shown["status"], shown["probability"]) == ("proposal", "open", 50)
    assert (shown["amount"], shown["currency"], shown["customer_id"]) == (
        "12000.00",
        "EUR",
        customer_id,
    )
    assert [(h["stage"], h["probability"]) for h in shown["history"]] == [
        ("prospecting", 10),
        ("proposal", 50),
    ]
    assert shown["history"][1]["entered_at"] == "2026-01-10T08:00:00Z"


def test_moving_to_the_current_stage_records_nothing(api, customer_id) -> None:
    deal_id = new_deal(api, customer_id)
    response = api.post(f"/v1/deals/{deal_id}/stage", json={"stage": "prospecting"})
    assert (response.status_code, response.json()["version"]) == (200, 1)


def test_a_won_deal_refuses_a_move_with_409_naming_the_rule_and_records_nothing(
    api, customer_id
) -> None:
    # Given a won deal
    deal_id = new_deal(api, customer_id, stage="negotiation")
    won = api.post(f"/v1/deals/{deal_id}/won", json={})
    assert (won.status_code, won.json()["version"]) == (200, 2)
    # When it is moved
    refused = api.post(f"/v1/deals/{deal_id}/stage", json={"stage": "proposal"})
    # Then
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["type"] == "/problems/deal-closed"
    shown = deal(api, deal_id)
    assert (shown["version"], shown["stage"], shown["probability"]) == (2, "won", 100)
    assert shown["closed_at"] == shown["history"][-1]["entered_at"]


def test_a_lost_deal_keeps_its_reason_until_reopened(api, customer_id) -> None:
    # Given
    deal_id = new_deal(api, customer_id)
    # When
    lost = api.post(f"/v1/deals/{deal_id}/lost", json={"reason": "Chose a competitor"})
    # Then
    assert lost.status_code == 200
    shown = deal(api, deal_id)
    assert (shown["status"], shown["probability"], shown["lost_reason"]) == (
        "lost",
        0,
        "Chose a competitor",
    )
    assert api.post(f"/v1/deals/{deal_id}/lost", json={"reason": "again"}).status_code == 409
    # And when it is reopened
    reopened = api.post(f"/v1/deals/{deal_id}/reopen", json={"stage": "qualification"})
    assert reopened.status_code == 200
    shown = deal(api, deal_id)
    assert (shown["status"], shown["stage"], shown["lost_reason"]) == (
        "open",
        "qualification",
        None,
    )


def test_losing_needs_a_reason(api, customer_id) -> None:
    deal_id = new_deal(api, customer_id)
    response = api.post(f"/v1/deals/{deal_id}/lost", json={})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["reason"]


def test_reopening_an_open_deal_is_a_409(api, customer_id) -> None:
    deal_id = new_deal(api, customer_id)
    response = api.post(f"/v1/deals/{deal_id}/reopen", json={"stage": "proposal"})
    assert (response.status_code, response.json()["type"]) == (409, "/problems/deal-not-closed")


def test_an_amount_change_is_shown_and_refused_once_closed(api, customer_id) -> None:
    deal_id = new_deal(api, customer_id)
    changed = api.post(f"/v1/deals/{deal_id}/amount", json={"amount": "15000.50"})
    assert (changed.status_code, changed.json()["version"]) == (200, 2)
    assert (deal(api, deal_id)["amount"], deal(api, deal_id)["currency"]) == ("15000.50", "EUR")
    api.post(f"/v1/deals/{deal_id}/won", json={})
    refused = api.post(f"/v1/deals/{deal_id}/amount", json={"amount": "1"})
    assert (refused.status_code, refused.json()["type"]) == (409, "/problems/deal-closed")


def test_an_unknown_deal_is_a_404(api) -> None:
    assert api.get(f"/v1/deals/{uuid4()}").status_code == 404
    assert api.get("/v1/deals/not-a-uuid").status_code == 404
    assert api.post(f"/v1/deals/{uuid4()}/won", json={}).status_code == 404


def test_the_default_stages_are_shown_with_won_and_lost(api) -> None:
    response = api.get("/v1/pipeline/stages")
    assert response.status_code == 200
    assert response.json()["stages"][-2:] == [
        {"name": "won", "probability": 100, "closed": True},
        {"name": "lost", "probability": 0, "closed": True},
    ]


def test_only_an_admin_configures_the_stages(api) -> None:
    response = api.put("/v1/pipeline/stages", json={"stages": DEFAULTS})
    assert response.status_code == 403


def test_configured_stages_change_what_deals_accept(api, admin, customer_id) -> None:
    # Given a deal in "proposal", then a pipeline with "demo" and without "proposal"
    deal_id = new_deal(api, customer_id, stage="proposal")
    custom = [{"name": "prospecting", "probability": 10}, {"name": "demo", "probability": 35}]
    configured = admin.put("/v1/pipeline/stages", json={"stages": custom})
    try:
        assert configured.status_code == 200, configured.text
        shown = api.get("/v1/pipeline/stages").json()
        assert shown["stages"][:2] == [s | {"closed": False} for s in custom]
        # When / Then: "demo" is accepted at its probability, "proposal" no longer
        assert_invalid_stage(open_deal(api, customer_id, stage="proposal"))
        demo = new_deal(api, customer_id, stage="demo")
        assert deal(api, demo)["probability"] == 35
        assert api.post(f"/v1/deals/{deal_id}/stage", json={"stage": "demo"}).status_code == 200
        assert deal(api, deal_id)["history"][0]["stage"] == "proposal"
    finally:
        restored = admin.put("/v1/pipeline/stages", json={"stages": DEFAULTS})
        assert restored.status_code == 200, restored.text
    assert_invalid_stage(open_deal(api, customer_id, stage="demo"))


def test_a_stage_configuration_with_won_is_a_422(admin) -> None:
    response = admin.put(
        "/v1/pipeline/stages", json={"stages": [{"name": "won", "probability": 1}]}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "stages"


def test_every_fact_of_a_deal_is_in_its_customers_timeline(api, auditor) -> None:
    # Given a customer and a deal's life
    customer = api.post("/v1/customers", json={"name": "Ada"}).json()["id"]
    deal_id = new_deal(api, customer)
    api.post(f"/v1/deals/{deal_id}/stage", json={"stage": "negotiation"})
    api.post(f"/v1/deals/{deal_id}/amount", json={"amount": "9000", "currency": "USD"})
    api.post(f"/v1/deals/{deal_id}/lost", json={"reason": "budget"})
    api.post(f"/v1/deals/{deal_id}/reopen", json={"stage": "proposal"})
    api.post(f"/v1/deals/{deal_id}/won", json={})
    # When the auditor reads the customer's timeline
    items = auditor.get(f"/v1/customers/{customer}/timeline").json()["items"]
    # Then
    deal_items = [i for i in items if i["stream_id"] == deal_id]
    assert [i["type"] for i in deal_items] == [
        "Deal.Opened",
        "Deal.StageMoved",
        "Deal.AmountChanged",
        "Deal.Lost",
        "Deal.Reopened",
        "Deal.Won",
    ]
    assert all(i["customer_id"] == customer for i in deal_items)
    assert deal_items[2]["data"]["old_amount"] == "12000.00"
    assert deal_items[3]["data"]["reason"] == "budget"
