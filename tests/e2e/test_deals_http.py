"""Deals and the pipeline's stages over HTTP against a running `crm serve`."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from uuid import uuid4

import httpx
import pytest

from tests.e2e.reading import read_at_least
from tests.e2e.test_customers_http import PROBLEM, register

DEFAULTS = [
    {"name": "prospecting", "probability": 10},
    {"name": "qualification", "probability": 20},
    {"name": "proposal", "probability": 50},
    {"name": "negotiation", "probability": 80},
]


@pytest.fixture(scope="module")
def customer_id(api: httpx.Client) -> str:
    return register(api, name="Grace Hopper")


@pytest.fixture
def admin(service, keys) -> Iterator[httpx.Client]:
    with service.client(keys["admin"]) as client:
        yield client


@pytest.fixture
def auditor(service, keys) -> Iterator[httpx.Client]:
    with service.client(keys["auditor"]) as client:
        yield client


@cache
def documented(api: httpx.Client) -> dict:
    """The example body of POST /v1/deals in the OpenAPI document: the deals opened here."""
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    return schemas["OpenDeal"]["examples"][0]


def open_deal(api: httpx.Client, customer_id: str, **fields) -> httpx.Response:
    return api.post("/v1/deals", json=documented(api) | {"customer_id": customer_id} | fields)


def new_deal(api: httpx.Client, customer_id: str, **fields) -> str:
    response = open_deal(api, customer_id, **fields)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def deal(api: httpx.Client, deal_id: str, version: int) -> dict:
    """The deal's view once its read model shows `version` (or a later one)."""
    return read_at_least(api, f"/v1/deals/{deal_id}", version).json()


def shown(api: httpx.Client, deal_id: str, *fields: str, version: int) -> tuple:
    """The values of `fields` in the deal's view at `version` (or later)."""
    view = deal(api, deal_id, version)
    return tuple(view[f] for f in fields)


def assert_problem(response: httpx.Response, status: int, problem: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == f"/problems/{problem}"


def assert_invalid_stage(response: httpx.Response) -> None:
    assert_problem(response, 422, "validation")
    assert [e["field"] for e in response.json()["errors"]] == ["stage"]


@contextmanager
def stages_configured(admin: httpx.Client, stages: list[dict]) -> Iterator[int]:
    """The pipeline configured with `stages` (at the version given), then the defaults again."""
    configured = admin.put("/v1/pipeline/stages", json={"stages": stages})
    try:
        assert configured.status_code == 200, configured.text
        yield configured.json()["version"]
    finally:
        restore_defaults(admin)


def restore_defaults(admin: httpx.Client) -> None:
    restored = admin.put("/v1/pipeline/stages", json={"stages": DEFAULTS})
    assert restored.status_code == 200, restored.text


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


def test_an_unknown_stage_is_a_422_naming_stage(api, customer_id) -> None:
    assert_invalid_stage(open_deal(api, customer_id, stage="closing"))
    assert_invalid_stage(open_deal(api, customer_id, stage="won"))
    deal_id = new_deal(api, customer_id)
    assert_invalid_stage(api.post(f"/v1/deals/{deal_id}/stage", json={"stage": "closing"}))
    api.post(f"/v1/deals/{deal_id}/won", json={})
    assert_invalid_stage(api.post(f"/v1/deals/{deal_id}/reopen", json={"stage": "lost"}))
    assert shown(api, deal_id, "version", "stage", version=2) == (2, "won")


def test_the_pipeline_is_not_a_field_of_a_command(api, customer_id) -> None:
    response = open_deal(api, customer_id, stage="demo", pipeline={"open_stages": []})
    assert_problem(response, 422, "validation")
    assert "pipeline" in [e["field"] for e in response.json()["errors"]]


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
    view = deal(api, deal_id, 2)
    assert (view["stage"], view["status"], view["probability"]) == ("proposal", "open", 50)
    example = documented(api)
    assert (view["amount"], view["currency"], view["customer_id"]) == (
        example["amount"],
        example["currency"],
        customer_id,
    )
    assert [(h["stage"], h["probability"]) for h in view["history"]] == [
        ("prospecting", 10),
        ("proposal", 50),
    ]
    assert view["history"][1]["entered_at"] == "2026-01-10T08:00:00Z"


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
    assert_problem(refused, 409, "deal-closed")
    view = deal(api, deal_id, 2)
    assert (view["version"], view["stage"], view["probability"]) == (2, "won", 100)
    assert view["closed_at"] == view["history"][-1]["entered_at"]


def test_a_lost_deal_keeps_its_reason_until_reopened(api, customer_id) -> None:
    # Given
    deal_id = new_deal(api, customer_id)
    # When
    lost = api.post(f"/v1/deals/{deal_id}/lost", json={"reason": "Chose a competitor"})
    # Then
    assert lost.status_code == 200
    reason = shown(api, deal_id, "status", "probability", "lost_reason", version=2)
    assert reason == ("lost", 0, "Chose a competitor")
    assert api.post(f"/v1/deals/{deal_id}/lost", json={"reason": "again"}).status_code == 409
    # And when it is reopened
    reopened = api.post(f"/v1/deals/{deal_id}/reopen", json={"stage": "qualification"})
    assert reopened.status_code == 200
    reason = shown(api, deal_id, "status", "stage", "lost_reason", version=3)
    assert reason == ("open", "qualification", None)


def test_losing_needs_a_reason(api, customer_id) -> None:
    deal_id = new_deal(api, customer_id)
    response = api.post(f"/v1/deals/{deal_id}/lost", json={})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["reason"]


def test_reopening_an_open_deal_is_a_409(api, customer_id) -> None:
    deal_id = new_deal(api, customer_id)
    response = api.post(f"/v1/deals/{deal_id}/reopen", json={"stage": "proposal"})
    assert_problem(response, 409, "deal-not-closed")


def test_an_amount_change_is_shown_and_refused_once_closed(api, customer_id) -> None:
    deal_id = new_deal(api, customer_id)
    changed = api.post(f"/v1/deals/{deal_id}/amount", json={"amount": "15000.50"})
    assert (changed.status_code, changed.json()["version"]) == (200, 2)
    assert shown(api, deal_id, "amount", "currency", version=2) == ("15000.50", "EUR")
    api.post(f"/v1/deals/{deal_id}/won", json={})
    refused = api.post(f"/v1/deals/{deal_id}/amount", json={"amount": "1"})
    assert_problem(refused, 409, "deal-closed")


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


def test_configurations_sent_at_once_each_change_the_one_pipeline(admin) -> None:
    # Given two configurations sent together (the first ones when this module runs alone)
    bodies = [{"stages": [{"name": name, "probability": 30}]} for name in ("demo", "trial")]
    # When
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda b: admin.put("/v1/pipeline/stages", json=b), bodies))
    try:
        # Then both are recorded, one after the other, and the later one holds
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        first, later = sorted(answers, key=lambda a: a.json()["version"])
        assert later.json()["version"] == first.json()["version"] + 1
        view = read_at_least(admin, "/v1/pipeline/stages", later.json()["version"]).json()
        later_body = bodies[answers.index(later)]
        assert view["version"] == later.json()["version"]
        assert view["stages"][0]["name"] == later_body["stages"][0]["name"]
    finally:
        restore_defaults(admin)


def test_configured_stages_change_what_deals_accept(api, admin, customer_id) -> None:
    # Given a deal in "proposal", then a pipeline with "demo" and without "proposal"
    deal_id = new_deal(api, customer_id, stage="proposal")
    lost_id = new_deal(api, customer_id, stage="proposal")
    api.post(f"/v1/deals/{lost_id}/lost", json={"reason": "budget"})
    custom = [{"name": "prospecting", "probability": 10}, {"name": "demo", "probability": 35}]
    with stages_configured(admin, custom) as version:
        assert read_at_least(api, "/v1/pipeline/stages", version).json()["stages"][:2] == [
            s | {"closed": False} for s in custom
        ]
        # When / Then: "demo" is accepted at its probability, "proposal" no longer
        assert_invalid_stage(open_deal(api, customer_id, stage="proposal"))
        assert shown(api, new_deal(api, customer_id, stage="demo"), "probability", version=1) == (
            35,
        )
        assert api.post(f"/v1/deals/{deal_id}/stage", json={"stage": "demo"}).status_code == 200
        assert deal(api, deal_id, 2)["history"][0]["stage"] == "proposal"
        assert_invalid_stage(api.post(f"/v1/deals/{lost_id}/reopen", json={"stage": "proposal"}))
        reopened = api.post(f"/v1/deals/{lost_id}/reopen", json={"stage": "demo"})
        assert reopened.status_code == 200, reopened.text
        assert shown(api, lost_id, "stage", "probability", version=3) == ("demo", 35)
    assert_invalid_stage(open_deal(api, customer_id, stage="demo"))


def test_a_stage_configuration_with_won_is_a_422(admin) -> None:
    response = admin.put(
        "/v1/pipeline/stages", json={"stages": [{"name": "won", "probability": 1}]}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "stages"


def test_every_fact_of_a_deal_is_in_its_customers_timeline(api, auditor) -> None:
    # Given a customer and a deal's life
    customer = register(api)
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
    assert deal_items[2]["data"]["old_amount"] == documented(api)["amount"]
    assert deal_items[3]["data"]["reason"] == "budget"


def test_a_command_with_nothing_required_may_come_without_a_body(api) -> None:
    deal_id = open_deal(api, register(api)).json()["id"]
    won = api.post(f"/v1/deals/{deal_id}/won")
    assert won.status_code == 200, won.text
    assert read_at_least(api, f"/v1/deals/{deal_id}", 2).json()["stage"] == "won"
