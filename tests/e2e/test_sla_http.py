"""SLA over HTTP against a running `crm serve` of its own (SLA policies are global per
priority: a shared service would let one test's policy change another test's tickets)."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.test_customers_http import PROBLEM, register
from tests.waiting import wait_for

OPENED = datetime(2026, 6, 5, 15, 30, tzinfo=UTC)  # a Friday, 17:30 in Paris
OFFICE = {
    "timezone": "Europe/Paris",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start": "09:00",
    "end": "18:00",
    "holidays": ["2026-06-08"],
}
POLICY = {"priority": "high", "first_response_minutes": 60, "resolution_minutes": 600}


def complain(api: httpx.Client, priority: str, at: datetime) -> str:
    body = {"subject": "Late", "description": "Where?", "priority": priority,
            "channel": "email", "occurred_at": at.isoformat()}  # fmt: skip
    response = api.post(f"/v1/customers/{register(api)}/complaints", json=body)
    assert response.status_code == 201, response.text
    return response.json()["ticket_id"]


def measured(api: httpx.Client, ticket_id: str, version: int = 1, **params: str) -> dict:
    """The ticket's SLA once the read models show it (under the given policy version)."""
    found: list[dict] = []

    def shown() -> bool:
        page = api.get("/v1/sla/tickets", params=params | {"limit": "500"})
        assert page.status_code == 200, page.text
        found[:] = [i for i in page.json()["items"] if i["ticket_id"] == ticket_id]
        return bool(found) and found[0]["policy_version"] >= version

    wait_for(shown)
    return found[0]


def policy_shown(api: httpx.Client, priority: str, version: int) -> dict:
    """The priority's policy once the read model shows `version`."""
    found: list[dict] = []

    def shown() -> bool:
        found[:] = [p for p in api.get("/v1/sla-policies").json() if p["priority"] == priority]
        return bool(found) and found[0]["version"] >= version

    wait_for(shown)
    return found[0]


def test_a_policy_is_set_201_with_its_id_and_each_change_is_a_version(seller) -> None:
    # Given a first policy for high tickets
    first = seller.post("/v1/sla-policies", json=POLICY | {"business_hours": OFFICE})
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.headers["ETag"] == '"1"'
    # When it is changed
    changed = seller.post("/v1/sla-policies", json=POLICY | {"first_response_minutes": 90,
                                                                 "business_hours": OFFICE})  # fmt: skip
    # Then the id stays (the priority's policy) and the version moves
    assert (changed.status_code, changed.json()) == (201, {"id": first.json()["id"], "version": 2})
    high = policy_shown(seller, "high", version=2)
    assert [v["first_response_minutes"] for v in high["versions"]][:2] == [60, 90]
    assert high["versions"][0]["business_hours"]["start"] == "09:00:00"


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ({"timezone": "Europe/Atlantis"}, "business_hours.timezone"),
        ({"end": "08:00"}, "business_hours.end"),
        ({"days": ["mon", "someday"]}, "business_hours.days.1"),
        ({"holidays": ["2026-13-40"]}, "business_hours.holidays.0"),
    ],
)
def test_bad_business_hours_are_422_naming_the_field(seller, hours, field) -> None:
    response = seller.post("/v1/sla-policies", json=POLICY | {"business_hours": OFFICE | hours})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_ticket_s_sla_follows_business_hours_holidays_and_time_passing(seller, analyst) -> None:
    # Given urgent tickets must get an answer within 2 business hours (Monday is a holiday)
    policy = {
        "priority": "urgent",
        "first_response_minutes": 120,
        "resolution_minutes": 960,
        "business_hours": OFFICE,
        "occurred_at": (OPENED - timedelta(days=1)).isoformat(),
    }
    assert seller.post("/v1/sla-policies", json=policy).status_code == 201
    # When a ticket is opened on Friday 17:30 (Paris) and nobody answers
    ticket = complain(seller, "urgent", OPENED)
    # Then its first response falls due on Tuesday 10:30 (Paris): 30 minutes on Friday,
    # then 90 minutes after Tuesday's opening
    monday = measured(analyst, ticket, as_of=(OPENED + timedelta(days=3)).isoformat())
    assert monday["first_response"]["due_at"] == "2026-06-09T08:30:00Z"
    assert (monday["state"], monday["first_response"]["elapsed_seconds"]) == ("ok", 1800.0)
    at_risk = measured(analyst, ticket, as_of="2026-06-09T08:00:00Z", state="at_risk")
    assert at_risk["first_response"]["state"] == "at_risk"
    breached = measured(analyst, ticket, state="breached")  # now: long past due
    assert breached["first_response"]["state"] == "breached"
    # And the weekly summary counts it as a first response breached, not yet resolved
    summary = analyst.get("/v1/sla/summary", params={"period": "week", "from": "2026-06-01"})
    assert summary.status_code == 200, summary.text
    (urgent,) = [b for b in summary.json()["buckets"] if b["priority"] == "urgent"]
    assert urgent | {"first_response": None} == {
        "start": "2026-06-01", "priority": "urgent", "tickets": 1, "first_response": None,
        "resolution": {"met": 0, "breached": 1, "compliance": 0.0}, "resolution_rate": 0.0,
    }  # fmt: skip
    assert urgent["first_response"]["breached"] == 1


def test_the_sla_route_is_for_readers_and_checks_its_parameters(shop, analyst) -> None:
    with shop.client() as anonymous:
        assert anonymous.get("/v1/sla/tickets").status_code == 401
    assert analyst.post("/v1/sla-policies", json=POLICY).status_code == 403
    assert analyst.get("/v1/sla/tickets", params={"state": "late"}).status_code == 422
    assert analyst.get("/v1/sla/summary", params={"period": "year"}).status_code == 422
    bad_cursor = analyst.get("/v1/sla/tickets", params={"cursor": "@@@"})
    assert [e["field"] for e in bad_cursor.json()["errors"]] == ["query.cursor"]
