"""GET /v1/churn/model over HTTP, on a service of its own (the model covers every customer)."""

from datetime import UTC, datetime
from decimal import Decimal

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
    """Four customers' purchases (ten orders of 20.00), the read model caught up."""
    with shop.client(shop.create_key("service")) as seller:
        for name, days in PURCHASE_DAYS.items():
            customer_id = register(seller, name=name, occurred_at="2025-01-01T00:00:00Z")
            for n, day in enumerate(days):
                body = {"order_id": f"{name}-{n}", "occurred_at": f"{day}T10:00:00Z",
                        "total": "20", "currency": "EUR"}  # fmt: skip
                assert seller.post(f"/v1/customers/{customer_id}/purchases", json=body).is_success
    wait_for(lambda: spent(analyst.get("/v1/churn", params={"as_of": "2025-12-31"})) == 200)


def spent(answer: httpx.Response) -> Decimal:
    """What the customers on the churn list spent, in all (0 until it can be answered)."""
    items = answer.json()["items"] if answer.status_code == 200 else []
    return sum((Decimal(i["signals"]["monetary"]["total"]) for i in items), Decimal(0))


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


def names_by_id(seller: httpx.Client) -> dict[str, str]:
    found = seller.get("/v1/customers", params={"limit": 200}).json()["items"]
    return {c["id"]: c["name"] for c in found}


def test_the_churn_list_runs_from_the_highest_risk_a_page_at_a_time(analyst, bought) -> None:
    # When the list is asked for as of the end of 2025
    answer = analyst.get("/v1/churn", params={"as_of": "2025-12-31"})
    # Then it covers the four buyers, highest risk first, each with its signals and drivers
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["as_of"], found["model"]["customers"]) == ("2025-12-31T23:59:59.999999Z", 4)
    items = found["items"]
    assert len(items) == 4 and found["next_cursor"] is None
    assert [i["risk"] for i in items] == sorted((i["risk"] for i in items), reverse=True)
    for item in items:
        assert 0 <= item["risk"] <= 1 and 0 <= item["p_alive"] <= 1
        assert sum(d["share"] for d in item["drivers"]) == pytest.approx(item["risk"], abs=1e-3)
        assert item["signals"]["monetary"]["currency"] == "EUR"
    # Ben last bought on 20 January, a week after his first: the longest without a purchase
    # (lapsing), and 49 times his usual gap (overdue)
    ben = next(i for i in items if i["signals"]["recency_days"] == 345)
    assert (ben["signals"]["usual_gap_days"], ben["signals"]["overdue_ratio"]) == (7.0, 49.29)
    assert ben["signals"]["fired"] == ["lapsing", "overdue"]
    assert ben["signals"]["rfm"] == {"recency": 1, "frequency": 3, "monetary": 2, "score": "132"}
    # And two at a time, the pages are the same list
    first = analyst.get("/v1/churn", params={"as_of": "2025-12-31", "limit": 2}).json()
    rest = analyst.get("/v1/churn", params={"as_of": "2025-12-31", "limit": 2,
                                            "cursor": first["next_cursor"]}).json()  # fmt: skip
    assert first["items"] + rest["items"] == items
    # And a level holds only its own
    for level in ("high", "medium", "low"):
        chosen = analyst.get("/v1/churn", params={"as_of": "2025-12-31", "risk": level}).json()
        assert chosen["items"] == [i for i in items if i["level"] == level]


def test_bad_churn_queries_are_422s_naming_the_parameter(analyst, bought) -> None:
    for params, field in (({"risk": "extreme"}, "query.risk"), ({"cursor": "nope"}, "query.cursor"),
                          ({"as_of": "2025-12-31T10:00:00"}, "query.as_of")):  # fmt: skip
        answer = analyst.get("/v1/churn", params=params)
        assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM)
        assert [e["field"] for e in answer.json()["errors"]] == [field]


def test_the_360_view_shows_the_churn_risk_and_lifetime_value(shop, analyst, bought) -> None:
    # Given the churn list as of the end of 2025
    at = "2025-12-31T23:59:59.999999Z"
    items = analyst.get("/v1/churn", params={"as_of": at}).json()["items"]
    with shop.client(shop.create_key("service")) as seller:
        names = names_by_id(seller)
        ada = next(i for i, name in names.items() if name == "Ada")
        # When Ada's 360 view is read as of then
        view = seller.get(f"/v1/customers/{ada}", params={"as_of": at}).json()
        # Then its churn risk is her entry in the list
        listed = next(i for i in items if i["customer_id"] == ada)
        assert view["churn_risk"] == listed | {"as_of": at}
        # And her lifetime value: expected purchases in 12 months times her 20.00 average
        value = view["lifetime_value"]
        assert (value["currency"], value["average_order_value"]) == ("EUR", "20.00")
        expected = Decimal(str(value["expected_purchases_12_months"]))
        assert Decimal(value["value"]) == pytest.approx(expected * 20, abs=Decimal("0.05"))
        # And before her first purchase there is neither; nor with as_of_recorded
        early = seller.get(f"/v1/customers/{ada}", params={"as_of": "2025-01-05T00:00:00Z"})
        assert (early.json()["churn_risk"], early.json()["lifetime_value"]) == (None, None)
        now = datetime.now(UTC).isoformat()
        recorded = seller.get(f"/v1/customers/{ada}", params={"as_of_recorded": now}).json()
        assert (recorded["churn_risk"], recorded["lifetime_value"]) == (None, None)


def test_a_fit_on_a_few_regular_buyers_answers_numbers_not_nan(shop, analyst, bought) -> None:
    # Given the purchases up to 10 March 2025: four buyers, two of them once a week or so,
    # on which the model is fitted near its limit of one purchase rate for all
    at = "2025-03-10T23:59:59Z"
    # When the churn list and each buyer's 360 view are read as of then
    answer = analyst.get("/v1/churn", params={"as_of": at})
    # Then every forecast is a number (they were NaN: null in the list, "NaN" in the view)
    assert answer.status_code == 200, answer.text
    assert "NaN" not in answer.text and "Infinity" not in answer.text
    items = answer.json()["items"]
    assert len(items) == 4
    assert all(isinstance(i["expected_purchases_90_days"], float) for i in items)
    with shop.client(shop.create_key("service")) as seller:
        for item in items:
            view = seller.get(f"/v1/customers/{item['customer_id']}", params={"as_of": at})
            assert "NaN" not in view.text and "Infinity" not in view.text
            value = view.json()["lifetime_value"]
            assert Decimal(value["value"]).is_finite()
            assert isinstance(value["expected_purchases_12_months"], float)
    # And the OpenAPI document says where a forecast may be null
    churn_risk = shop.client().get("/openapi.json").json()["components"]["schemas"]["ChurnRisk"]
    forecast = churn_risk["properties"]["expected_purchases_90_days"]
    assert {"type": "null"} in forecast["anyOf"]
