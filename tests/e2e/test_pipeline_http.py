"""`GET /v1/pipeline` against a running `crm serve`, over deals of an owner of its own.

Deals (business days of February 2026, 09:00 UTC; default stages):
- d1 1000.00 EUR, prospecting on day 1, proposal day 3, negotiation day 6 (recorded late);
  expected to close 2026-04-30;
- d2 500.00 USD, qualification day 2, won day 5; closes 2026-03-31;
- d3 300.00 EUR, prospecting day 2, lost day 4 for price; closes 2026-03-15;
- d4 200.00 EUR, proposal on day 1 but recorded late (an import); closes 2026-04-10.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest

from tests.e2e.reading import read_at_least
from tests.e2e.test_customers_http import PROBLEM, register

FEBRUARY = "2026-02-{:02d}T09:00:00Z"


@pytest.fixture(scope="module")
def lived(api: httpx.Client) -> dict[str, str]:
    """The deals above, of a new owner: the owner, and the recorded time before d4 and d1's
    move to negotiation."""
    customer_id, owner = register(api, name="Pipeline Buyer"), f"rep-{uuid4().hex[:8]}"

    def deal(amount: str, currency: str, stage: str, day: int, close: str) -> str:
        body = {"customer_id": customer_id, "title": "Tea", "amount": amount, "stage": stage,
                "currency": currency, "owner": owner, "expected_close_date": close,
                "occurred_at": FEBRUARY.format(day)}  # fmt: skip
        return sent(api.post("/v1/deals", json=body))["id"]

    def then(deal_id: str, action: str, day: int, **body: str) -> int:
        body["occurred_at"] = FEBRUARY.format(day)
        return sent(api.post(f"/v1/deals/{deal_id}/{action}", json=body))["version"]

    d1 = deal("1000.00", "EUR", "prospecting", 1, "2026-04-30")
    then(d1, "stage", 3, stage="proposal")
    d2 = deal("500.00", "USD", "qualification", 2, "2026-03-31")
    then(d2, "won", 5)
    d3 = deal("300.00", "EUR", "prospecting", 2, "2026-03-15")
    then(d3, "lost", 4, reason="price")
    known = datetime.now(UTC).isoformat()
    deal("200.00", "EUR", "proposal", 1, "2026-04-10")
    version = then(d1, "stage", 6, stage="negotiation")
    read_at_least(api, f"/v1/deals/{d1}", version)  # the deals read model has them all
    return {"owner": owner, "known": known}


@pytest.fixture
def analyst(service, keys) -> Iterator[httpx.Client]:
    with service.client(keys["analyst"]) as client:
        yield client


@pytest.fixture
def auditor(service, keys) -> Iterator[httpx.Client]:
    with service.client(keys["auditor"]) as client:
        yield client


def sent(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


def pipeline(client: httpx.Client, **params: str) -> dict:
    return sent(client.get("/v1/pipeline", params=params))


def counts(answer: dict) -> dict[str, int]:
    return {line["stage"]: line["count"] for line in answer["stages"] if line["count"]}


def test_the_pipeline_of_an_owner_answers_per_stage_totals_rates_and_forecast(
    auditor, lived
) -> None:
    # When an auditor asks for the owner's pipeline (analysts may not filter by owner)
    answer = pipeline(auditor, owner=lived["owner"])
    # Then each stage, in order, with exact amounts by currency and days in stage
    assert [line["stage"] for line in answer["stages"]] == [
        "prospecting", "qualification", "proposal", "negotiation", "won", "lost",
    ]  # fmt: skip
    negotiation, won = answer["stages"][3], answer["stages"][4]
    assert (negotiation["count"], negotiation["amount"], negotiation["weighted_amount"]) == (
        1, {"EUR": "1000.00"}, {"EUR": "800.00"},
    )  # fmt: skip
    assert (won["count"], won["amount"]) == (1, {"USD": "500.00"})
    assert [line["average_days_in_stage"] for line in answer["stages"][:3]] == [2.0, 3.0, 3.0]
    assert answer["open"] == {
        "count": 2, "amount": {"EUR": "1200.00"}, "weighted_amount": {"EUR": "900.00"},
    }  # fmt: skip
    # And conversion (d2 skipped proposal and negotiation, reaching won), win rate, reasons
    assert [(c["from_stage"], c["reached"], c["advanced"], c["rate"])
            for c in answer["conversion"]] == [
        ("prospecting", 4, 3, 0.75), ("qualification", 3, 3, 1.0),
        ("proposal", 3, 2, 0.6667), ("negotiation", 2, 1, 0.5),
    ]  # fmt: skip
    assert answer["win_rate"] == {"won": 1, "lost": 1, "rate": 0.5}
    assert answer["lost_reasons"] == [{"reason": "price", "count": 1}]
    # And the forecast of open deals by expected close month
    assert answer["forecast"] == [
        {"month": "2026-04", "count": 2, "amount": {"EUR": "1200.00"},
         "weighted_amount": {"EUR": "900.00"}},
    ]  # fmt: skip


def test_as_of_a_business_time_the_pipeline_is_as_it_stood_then(auditor, lived) -> None:
    # When asked as of day 4 at noon
    answer = pipeline(auditor, owner=lived["owner"], as_of="2026-02-04T12:00:00Z")
    # Then d1 and d4 were in proposal, d2 in qualification, d3 lost
    assert counts(answer) == {"qualification": 1, "proposal": 2, "lost": 1}
    assert answer["open"]["weighted_amount"] == {"EUR": "600.00", "USD": "100.00"}
    assert answer["win_rate"] == {"won": 0, "lost": 1, "rate": 0.0}


def test_as_of_a_recorded_time_the_pipeline_is_what_was_known_then(auditor, lived) -> None:
    # When an auditor asks what was known before d4 and d1's last move were recorded
    answer = pipeline(auditor, owner=lived["owner"], as_of_recorded=lived["known"])
    # Then d1 is in proposal, d2 won, d3 lost, and d4 is unknown
    assert counts(answer) == {"proposal": 1, "won": 1, "lost": 1}
    assert answer["open"]["amount"] == {"EUR": "1000.00"}


def test_the_period_covers_deals_opened_in_it(auditor, lived) -> None:
    # When asked for deals opened from day 2 (included) to day 3 (excluded)
    answer = pipeline(
        auditor, owner=lived["owner"], opened_from=FEBRUARY.format(2), opened_to=FEBRUARY.format(3)
    )
    # Then d2 and d3 only
    assert counts(answer) == {"won": 1, "lost": 1}


def test_the_pipeline_needs_a_key_and_aware_times(service, api, analyst) -> None:
    with service.client() as anonymous:
        assert anonymous.get("/v1/pipeline").status_code == 401
    assert api.get("/v1/pipeline").status_code == 200  # a service key reads too
    assert analyst.get("/v1/pipeline", params={"owner": "Ann"}).status_code == 403
    naive = analyst.get("/v1/pipeline", params={"as_of": "2026-02-04T12:00:00"})
    assert (naive.status_code, naive.headers["content-type"]) == (422, PROBLEM)
    assert [e["field"] for e in naive.json()["errors"]] == ["query.as_of"]
