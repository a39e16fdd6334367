"""GET /v1/churn/model over HTTP, on a service of its own (the model covers every customer)."""

import httpx
import pytest

from tests.e2e.conftest import Service
from tests.e2e.test_customers_http import PROBLEM, register
from tests.waiting import wait_for

PURCHASE_DAYS = {
    "Ada": ["2025-01-06", "2025-02-03", "2025-03-03", "2025-06-02"],
    "Ben": ["2025-01-13", "2025-01-20"],
    "Cy": ["2025-02-10"],
    "Di": ["2025-03-10", "2025-03-10", "2025-09-01"],
}


@pytest.fixture(scope="module")
def bought(shop: Service, analyst: httpx.Client) -> None:
    """Four customers' purchases, the read model caught up."""
    with shop.client(shop.create_key("service")) as seller:
        for name, days in PURCHASE_DAYS.items():
            customer_id = register(seller, name=name)
            for n, day in enumerate(days):
                body = {"order_id": f"{name}-{n}", "occurred_at": f"{day}T10:00:00Z",
                        "total": "20", "currency": "EUR"}  # fmt: skip
                assert seller.post(f"/v1/customers/{customer_id}/purchases", json=body).is_success
    full_year = {"as_of": "2025-12-31"}
    wait_for(lambda: analyst.get("/v1/churn/model", params=full_year).json().get("customers") == 4)


def test_the_model_as_of_a_date_covers_the_customers_who_bought_by_then(analyst, bought) -> None:
    # When the model is asked for as of the end of 2025
    answer = analyst.get("/v1/churn/model", params={"as_of": "2025-12-31"})
    # Then it is fitted on the four customers, with the contract's fields
    assert answer.status_code == 200, answer.text
    model = answer.json()
    assert set(model) == {"r", "alpha", "a", "b", "log_likelihood", "customers", "as_of"}
    assert (model["customers"], model["as_of"]) == (4, "2025-12-31")
    assert all(model[p] > 0 for p in ("r", "alpha", "a", "b"))
    # And as of a time, its UTC date counts: three customers had bought by 2 March
    early = analyst.get("/v1/churn/model", params={"as_of": "2025-03-03T00:30:00+02:00"})
    assert (early.json()["customers"], early.json()["as_of"]) == (3, "2025-03-02")


def test_a_model_without_repeat_purchases_is_a_409_and_a_naive_time_a_422(analyst, bought) -> None:
    # When the model is asked for before anyone bought twice
    refused = analyst.get("/v1/churn/model", params={"as_of": "2025-01-10"})
    # Then it is refused with a problem naming the rule
    assert (refused.status_code, refused.headers["content-type"]) == (409, PROBLEM)
    assert refused.json()["type"].endswith("not-enough-purchases")
    # And a time without an offset is a 422 naming the parameter
    naive = analyst.get("/v1/churn/model", params={"as_of": "2025-03-03T00:30:00"})
    assert naive.status_code == 422
    assert [e["field"] for e in naive.json()["errors"]] == ["query.as_of"]
