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


def normal_buckets(api: httpx.Client, params: dict) -> list[dict]:
    """The summary's buckets of normal tickets."""
    summary = api.get("/v1/sla/summary", params=params)
    assert summary.status_code == 200, summary.text
    return [b for b in summary.json()["buckets"] if b["priority"] == "normal"]


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


def test_the_summary_counts_the_tickets_opened_up_to_the_end_of_to(seller, analyst) -> None:
    # Given normal tickets have 60 minutes for a first response and 600 to be solved, round
    # the clock
    policy = {"priority": "normal", "first_response_minutes": 60, "resolution_minutes": 600,
              "business_hours": None, "occurred_at": "2026-02-01T00:00:00Z"}  # fmt: skip
    assert seller.post("/v1/sla-policies", json=policy).status_code == 201
    # And, in the week of Monday 2 March, a ticket answered after 30 minutes, one opened in
    # the last second of Tuesday and one in the first second of Wednesday, none solved
    answered = complain(seller, "normal", datetime(2026, 3, 2, 10, tzinfo=UTC))
    body = {"author": "agent", "body": "On it", "occurred_at": "2026-03-02T10:30:00Z"}
    assert seller.post(f"/v1/tickets/{answered}/replies", json=body).status_code == 201
    complain(seller, "normal", datetime(2026, 3, 3, 23, 59, 59, tzinfo=UTC))
    complain(seller, "normal", datetime(2026, 3, 4, tzinfo=UTC))
    week = {"period": "week", "from": "2026-03-02", "as_of": "2026-03-10T00:00:00Z"}
    wait_for(lambda: [b["tickets"] for b in normal_buckets(analyst, week)] == [3])
    # When the summary stops at Tuesday
    summary = analyst.get("/v1/sla/summary", params=week | {"to": "2026-03-03"})
    # Then it counts the two tickets opened by Tuesday's end: one response met in 30
    # minutes, one breached, both resolutions breached (due 10 hours after opening)
    assert summary.status_code == 200, summary.text
    assert (summary.json()["from"], summary.json()["to"]) == ("2026-03-02", "2026-03-03")
    assert normal_buckets(analyst, week | {"to": "2026-03-03"}) == [
        {"start": "2026-03-02", "priority": "normal", "tickets": 2,
         "first_response": {"met": 1, "breached": 1, "compliance": 0.5, "median_seconds": 1800.0},
         "resolution": {"met": 0, "breached": 2, "compliance": 0.0}, "resolution_rate": 0.0},
    ]  # fmt: skip
    # And by day, Tuesday's ticket is Tuesday's, and a one-day window (`to` = `from`) holds it
    by_day = week | {"period": "day", "from": "2026-03-03", "to": "2026-03-03"}
    assert [(b["start"], b["tickets"]) for b in normal_buckets(analyst, by_day)] == [
        ("2026-03-03", 1)
    ]
    # And without `from`, the 90 days looked at end with `to`'s day
    ninety = analyst.get("/v1/sla/summary", params={"to": "2026-03-03"})
    assert (ninety.json()["from"], ninety.json()["to"]) == ("2025-12-03", "2026-03-03")


def test_a_summary_ending_before_it_starts_is_a_422_naming_to(analyst) -> None:
    # When a summary's `to` is before its `from`
    params = {"from": "2026-03-03", "to": "2026-03-02"}
    response = analyst.get("/v1/sla/summary", params=params)
    # Then it is refused, naming `to`
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert [e["field"] for e in response.json()["errors"]] == ["query.to"]
    # And a default window that would start before the calendar starts on its first day
    early = analyst.get("/v1/sla/summary", params={"to": "0001-01-02"})
    assert (early.status_code, early.json()["from"]) == (200, "0001-01-01")
