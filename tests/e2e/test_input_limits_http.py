"""Input limits over HTTP: over a bound is a 422 problem naming the field, ids in paths are
UUIDs in their canonical form only, and the read models answer at every bound."""

from uuid import uuid4

import httpx

from tests.e2e.reading import read_at_least
from tests.e2e.test_customers_http import PROBLEM, purchase, register
from tests.waiting import wait_for

MAX_QUANTITY = 1_000_000
MAX_PRICE = "9999999999.9999"


def refused_fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return [error["field"] for error in response.json()["errors"]]


def test_only_the_canonical_form_of_a_uuid_names_an_aggregate(api, service, keys) -> None:
    # Given a customer, and its id written in forms Python's UUID also reads
    customer_id = register(api, name="Ada")
    lenient = [f"{{{customer_id}}}", f"urn:uuid:{customer_id}", customer_id.replace("-", "")]
    with service.client(keys["auditor"]) as auditor:
        for written in lenient:
            # When a command or a query names it so; Then 404, as for any other non-id
            for response in (
                api.patch(f"/v1/customers/{written}", json={"tags": ["vip"]}),
                api.post(f"/v1/customers/{written}/purchases", json=purchase()),
                api.get(f"/v1/customers/{written}"),
                auditor.get(f"/v1/customers/{written}/timeline"),
                api.get(f"/v1/deals/{written}"),
                api.get(f"/v1/tickets/{written}"),
            ):
                assert response.status_code == 404, (written, response.request.url)
                assert response.headers["content-type"] == PROBLEM
        # And nothing was recorded; the canonical form, in either case, names it
        changed = api.patch(f"/v1/customers/{customer_id.upper()}", json={"tags": ["b2b"]})
        assert changed.status_code == 200
        assert changed.json()["version"] == 2
        assert len(auditor.get(f"/v1/customers/{customer_id}/timeline").json()["items"]) == 2


def test_bidi_overrides_and_control_characters_are_a_422_naming_the_field(api) -> None:
    customer_id = register(api, name="Ada")
    # Given text that shows other than it reads (a right-to-left override), or with controls
    assert refused_fields(api.post("/v1/customers", json={"name": "Ada \u202egpj.exe"})) == ["name"]
    changed = api.patch(f"/v1/customers/{customer_id}", json={"tags": ["ok", "v\x1bip"]})
    assert refused_fields(changed) == ["tags.1"]
    logged = api.post(
        f"/v1/customers/{customer_id}/interactions",
        json={"channel": "call", "direction": "inbound", "subject": "Two\nlines"},
    )
    assert refused_fields(logged) == ["subject"]
    # And free text keeps its lines and tabs
    noted = api.post(
        f"/v1/customers/{customer_id}/interactions",
        json={"channel": "call", "direction": "inbound", "notes": "Called:\n\t- blue kettle"},
    )
    assert noted.status_code == 201, noted.text


def test_a_customer_at_every_bound_is_kept_and_one_more_is_refused(api) -> None:
    # Given a customer with 100 tags of 64 characters and 100 custom fields of 2,000
    tags = [f"{i:03}" + "t" * 61 for i in range(100)]
    fields = {f"note_{i}": "v" * 2000 for i in range(100)}
    customer_id = register(api, tags=tags, custom_fields=fields, address={"line1": "l" * 200})
    # When read; Then all of it is there
    shown = read_at_least(api, f"/v1/customers/{customer_id}").json()
    assert sorted(shown["tags"]) == tags
    assert shown["custom_fields"] == fields
    # And one more tag, or a 101st custom field, is refused naming the field
    more = api.patch(f"/v1/customers/{customer_id}", json={"tags": [*tags, "one-more"]})
    assert refused_fields(more) == ["tags"]
    extra = api.patch(f"/v1/customers/{customer_id}", json={"custom_fields": {"extra": 1}})
    assert refused_fields(extra) == ["custom_fields"]
    # And a custom number beyond what JSON readers hold exactly is refused (it was a 500)
    huge = api.patch(f"/v1/customers/{customer_id}", json={"custom_fields": {"note_0": 2**64}})
    assert refused_fields(huge) == ["custom_fields.note_0"]


def test_a_quantity_over_the_bound_is_a_422_and_the_products_report_answers_at_the_bound(
    seller, analyst
) -> None:
    customer_id = register(seller, name="Bulk buyer")
    # Given an order line of 2^63 items (it was recorded, and the report then answered 500)
    huge = purchase(items=[{"sku": "NAIL", "quantity": 2**63}])
    refused = seller.post(f"/v1/customers/{customer_id}/purchases", json=huge)
    assert refused_fields(refused) == ["items.0.quantity"]
    # When orders at every bound are recorded: 1,000 lines of the largest quantity and price
    line = {"sku": "NAIL", "name": "N" * 500, "quantity": MAX_QUANTITY, "unit_price": MAX_PRICE}
    for order in range(3):
        biggest = purchase(f"bulk-{order}", items=[line] * 1000, total=MAX_PRICE)
        recorded = seller.post(f"/v1/customers/{customer_id}/purchases", json=biggest)
        assert recorded.status_code == 201, recorded.text

    # Then the products report answers, with every unit counted
    def counted() -> bool:
        report = analyst.get("/v1/reports/products", params={"order_by": "revenue"})
        assert report.status_code == 200, report.text
        products = [p for c in report.json()["currencies"] for p in c["products"]]
        return any(p["sku"] == "NAIL" and p["quantity"] == 3 * 10**9 for p in products)

    wait_for(counted)
    assert analyst.get("/v1/reports/products").status_code == 200


def test_an_id_in_a_body_is_refused_unless_canonical(api) -> None:
    customer_id = str(uuid4())
    deal = {"title": "Tea", "amount": "1", "currency": "EUR", "stage": "prospecting"}
    opened = api.post("/v1/deals", json=deal | {"customer_id": f"urn:uuid:{customer_id}"})
    assert refused_fields(opened) == ["customer_id"]


def test_query_parameters_over_their_bound_are_a_422_naming_them(api) -> None:
    for path, params, field in (
        ("/v1/customers", {"q": "a" * 201}, "query.q"),
        ("/v1/customers", {"tag": "t" * 65}, "query.tag"),
        ("/v1/customers", {"cursor": "c" * 201}, "query.cursor"),
        ("/v1/churn", {"cursor": "c" * 201}, "query.cursor"),
        ("/v1/sla/tickets", {"cursor": "c" * 201}, "query.cursor"),
        ("/v1/reports/products/bought-together", {"sku": "S", "min_orders": 2**31}, "query.min_orders"),
    ):  # fmt: skip
        assert refused_fields(api.get(path, params=params)) == [field], path
