"""GET /v1/projections, in-process mode: position, lag and dead letters per projection."""

from projections.catalog import PROJECTIONS
from tests.waiting import wait_for


def test_projections_show_position_and_lag_to_analysts(service, keys, api) -> None:
    # Given a command whose event the in-process feed applies
    customer_id = api.post("/v1/customers", json={"name": "Lag"}).json()["id"]
    api.post(
        f"/v1/customers/{customer_id}/purchases",
        json={"order_id": "lag-1", "total": "1", "currency": "EUR"},
    )
    with service.client(keys["analyst"]) as analyst:

        def caught_up() -> bool:
            body = analyst.get("/v1/projections").json()
            return all(item["position"] == body["head"] for item in body["items"])

        # When the analyst asks once the feed has caught up
        wait_for(caught_up)
        body = analyst.get("/v1/projections").json()
    # Then every projection says where it is, with no lag and no dead letters
    assert (body["mode"], body["broker"]) == ("in-process", None)
    assert [item["name"] for item in body["items"]] == sorted(PROJECTIONS)
    for item in body["items"]:
        assert item["position"] > 0
        assert (item["lag_events"], item["lag_seconds"], item["dead_letters"]) == (0, 0.0, 0)
        assert item["stopped"] is None


def test_projections_are_for_analysts_and_admins_only(service, keys) -> None:
    with service.client(keys["service"]) as client:
        assert client.get("/v1/projections").status_code == 403
    with service.client(keys["admin"]) as client:
        assert client.get("/v1/projections").status_code == 200
    with service.client() as anonymous:
        assert anonymous.get("/v1/projections").status_code == 401
