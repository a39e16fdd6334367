"""Saved segments over HTTP: criteria over the 360 view, and the customers they select."""

from uuid import uuid4

from tests.e2e.reading import read_at_least
from tests.e2e.test_customers_http import PROBLEM, caught_up, purchase, register


def test_a_segment_selects_customers_by_its_criteria_and_can_be_redefined(api) -> None:
    # Given three customers of one tag: with 3 purchases (gold tier), 1 purchase, none
    tag = f"seg-{uuid4().hex[:8]}"
    loyal = register(api, tags=[tag], custom_fields={"tier": "gold"})
    once, never = register(api, tags=[tag]), register(api, tags=[tag])
    for customer, count in ((loyal, 3), (once, 1)):
        for _ in range(count):
            version = api.post(f"/v1/customers/{customer}/purchases", json=purchase()).json()
        caught_up(api, customer, version["version"])
    # When a segment of those with at least 2 purchases is saved
    name = f"Loyal {tag}"
    created = api.post(
        "/v1/segments", json={"name": name, "criteria": {"tag": tag, "min_purchases": 2}}
    )
    assert created.status_code == 201, created.text
    segment_id = created.json()["id"]
    path = f"/v1/segments/{segment_id}"
    assert created.headers["Location"] == path
    # Then the segment counts the loyal one, and listing customers by segment gives them
    shown = read_at_least(api, path, created.json()["version"])
    assert shown.headers["ETag"] == f'"{created.json()["version"]}"'
    assert (shown.json()["name"], shown.json()["customers"]) == (name, 1)
    assert shown.json()["criteria"] == {"tag": tag, "min_purchases": 2}
    assert members(api, name) == {loyal}
    # And after a redefinition, it selects by the new criteria
    changed = api.patch(path, json={"criteria": {"tag": tag, "max_purchases": 1}})
    assert changed.status_code == 200, changed.text
    read_at_least(api, path, changed.json()["version"])
    assert members(api, name) == {once, never}
    changed = api.patch(path, json={"criteria": {"tag": tag, "custom_fields": {"tier": "gold"}}})
    read_at_least(api, path, changed.json()["version"])
    assert members(api, name) == {loyal}
    assert name in [s["name"] for s in api.get("/v1/segments").json()["items"]]


def test_segment_names_are_unique_and_criteria_are_checked(api) -> None:
    name = f"Unique {uuid4().hex[:8]}"
    assert api.post("/v1/segments", json={"name": name}).status_code == 201
    taken = api.post("/v1/segments", json={"name": name, "criteria": {"tag": "vip"}})
    assert taken.status_code == 409
    assert taken.headers["content-type"] == PROBLEM
    assert taken.json()["type"] == "/problems/segment-name-taken"
    inverted = api.post(
        "/v1/segments", json={"name": f"x {name}", "criteria": {"min_total": 10, "max_total": 5}}
    )
    assert inverted.status_code == 422
    assert [e["field"] for e in inverted.json()["errors"]] == ["criteria"]
    assert api.get("/v1/customers", params={"segment": f"no such {name}"}).status_code == 404
    assert api.get(f"/v1/segments/{uuid4()}").status_code == 404


def members(api, segment: str) -> set[str]:
    page = api.get("/v1/customers", params={"segment": segment, "limit": 200})
    assert page.status_code == 200, page.text
    return {item["id"] for item in page.json()["items"]}
