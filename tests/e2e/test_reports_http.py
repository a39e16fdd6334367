"""Sales and product reports over HTTP against a `crm serve` of its own (reports count every
customer of the database): roles, validation problems, numbers and time travel."""

from datetime import UTC, datetime

import httpx
import pytest

from tests.e2e.test_customers_http import PROBLEM, register
from tests.waiting import wait_for

WEEKS = {"period": "week", "from": "2025-06-02", "to": "2025-06-15"}


def buy(seller: httpx.Client, customer_id: str, order_id: str, at: str, total: str,
        currency: str, *items: dict) -> None:  # fmt: skip
    body = {"order_id": order_id, "occurred_at": at, "total": total, "currency": currency,
            "items": list(items)}  # fmt: skip
    response = seller.post(f"/v1/customers/{customer_id}/purchases", json=body)
    assert response.status_code == 201, response.text


def line(sku: str, quantity: int, price: str) -> dict:
    return {"sku": sku, "name": sku.title(), "quantity": quantity, "unit_price": price}


@pytest.fixture(scope="module")
def before_import(seller: httpx.Client, analyst: httpx.Client) -> str:
    """Ada's and Ben's purchases, Ben's first one imported last; returns a time between."""
    ada, ben = register(seller, name="Ada"), register(seller, name="Ben")
    buy(seller, ada, "O1", "2025-06-02T10:00:00Z", "40.00", "EUR",
        line("MUG", 2, "12.00"), line("TEA", 1, "16.00"))  # fmt: skip
    buy(seller, ada, "O2", "2025-06-10T10:00:00Z", "16.00", "EUR", line("TEA", 1, "16.00"))
    buy(seller, ben, "O3", "2025-06-11T12:00:00Z", "25.00", "USD", line("MUG", 1, "25.00"))
    then = datetime.now(UTC).isoformat()
    buy(seller, ben, "O0", "2025-05-20T12:00:00Z", "10.00", "EUR", line("TEA", 1, "10.00"))
    wait_for(lambda: analyst.get("/v1/reports/sales", params=WEEKS).json()["buckets"][1]["returning_customers"] == 2)  # fmt: skip
    return then


def test_reports_need_a_key_of_a_reading_role(shop, seller, before_import) -> None:
    # Given keys of each role, and none
    with shop.client() as anonymous, shop.client(shop.create_key("auditor")) as auditor:
        # When / Then
        assert anonymous.get("/v1/reports/sales").status_code == 401
        refused = anonymous.get("/v1/reports/products")
        assert refused.headers["content-type"] == PROBLEM
        assert seller.get("/v1/reports/sales").status_code == 200
        assert auditor.get("/v1/reports/products").status_code == 200


def test_weekly_sales_per_currency_with_new_and_returning_customers(analyst, before_import) -> None:
    # When the weekly report of 2 to 15 June 2025 is asked for
    report = analyst.get("/v1/reports/sales", params=WEEKS)
    # Then Ada is new in the first week; Ben, whose first purchase (imported late) was in
    # May, is returning in the second, as Ada is
    assert report.status_code == 200
    body = report.json()
    assert (body["period"], body["from"], body["to"]) == ("week", "2025-06-02", "2025-06-15")
    first, second = body["buckets"]
    assert first == {
        "start": "2025-06-02", "end": "2025-06-08", "orders": 1, "customers": 1,
        "new_customers": 1, "returning_customers": 0,
        "currencies": [{"currency": "EUR", "revenue": "40.00", "orders": 1,
                        "average_order_value": "40.00", "customers": 1, "new_customers": 1,
                        "returning_customers": 0}],
    }  # fmt: skip
    assert (second["orders"], second["new_customers"], second["returning_customers"]) == (2, 0, 2)
    assert [(c["currency"], c["revenue"]) for c in second["currencies"]] == [
        ("EUR", "16.00"), ("USD", "25.00"),
    ]  # fmt: skip


def test_as_of_recorded_answers_what_was_known_before_the_import(analyst, before_import) -> None:
    # When the report is asked as known before Ben's first purchase was imported
    known = analyst.get("/v1/reports/sales", params=WEEKS | {"as_of_recorded": before_import})
    # Then Ben was new in the second week; and as of 5 June (business time) only O1 had occurred
    second = known.json()["buckets"][1]
    assert (second["new_customers"], second["returning_customers"]) == (1, 1)
    early = analyst.get("/v1/reports/sales", params=WEEKS | {"as_of": "2025-06-05T00:00:00Z"})
    assert [b["orders"] for b in early.json()["buckets"]] == [1, 0]


def test_ranges_are_widened_to_whole_periods_and_have_defaults(analyst, before_import) -> None:
    # When a monthly report is asked from a mid-month day, and one with no range at all
    june = analyst.get(
        "/v1/reports/sales", params={"period": "month", "from": "2025-06-10", "to": "2025-06-10"}
    )
    recent = analyst.get("/v1/reports/sales")
    # Then June is whole; the default is the 12 months up to this one
    assert (june.json()["from"], june.json()["to"]) == ("2025-06-01", "2025-06-30")
    assert june.json()["buckets"][0]["orders"] == 3
    assert recent.json()["period"] == "month"
    assert len(recent.json()["buckets"]) == 12
    assert (
        recent.json()["buckets"][-1]["start"] == datetime.now(UTC).date().replace(day=1).isoformat()
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "year"}, "query.period"),
        ({"from": "2025-06-15", "to": "2025-06-01"}, "query.from"),
        ({"period": "day", "from": "2020-01-01", "to": "2025-01-01"}, "query.from"),
        ({"as_of": "2025-06-01T00:00:00"}, "query.as_of"),
        ({"to": "9999-12-31"}, "query.to"),
        ({"as_of": "0001-01-02T00:00:00Z"}, "query.from"),
    ],
)
def test_a_bad_query_is_a_validation_problem_naming_the_field(analyst, params, field) -> None:
    # When
    response = analyst.get("/v1/reports/sales", params=params)
    # Then
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "/problems/validation"
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_best_sellers_and_products_bought_together(analyst, before_import) -> None:
    # When the best sellers by revenue and the products bought with mugs are asked for
    best = analyst.get("/v1/reports/products", params={"order_by": "revenue"})
    with_mugs = analyst.get("/v1/reports/products/bought-together", params={"sku": "MUG"})
    no_sku = analyst.get("/v1/reports/products/bought-together")
    # Then euros and dollars are apart: tea 42.00 (3 sold), mugs 24.00 (2) in euros
    assert best.status_code == 200
    eur, usd = best.json()["currencies"]
    assert [(p["sku"], p["quantity"], p["revenue"]) for p in eur["products"]] == [
        ("TEA", 3, "42.00"), ("MUG", 2, "24.00"),
    ]  # fmt: skip
    assert (usd["currency"], usd["products"][0]["sku"]) == ("USD", "MUG")
    # and of 4 orders, 2 have mugs, 1 of them tea too (3 orders have tea)
    body = with_mugs.json()
    assert (body["sku"], body["orders"], body["baskets"]) == ("MUG", 2, 4)
    assert body["items"] == [
        {"sku": "TEA", "name": "Tea", "orders": 1, "support": 0.25, "confidence": 0.5,
         "lift": 0.6667},
    ]  # fmt: skip
    assert no_sku.status_code == 422
    assert [e["field"] for e in no_sku.json()["errors"]] == ["query.sku"]
