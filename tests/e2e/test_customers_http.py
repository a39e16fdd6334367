"""Customers over HTTP against a running `crm serve`."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx

from tests.waiting import wait_for

PROBLEM = "application/problem+json"


def register(api: httpx.Client, **fields) -> str:
    response = api.post("/v1/customers", json={"name": "Ada Lovelace"} | fields)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def purchase(order_id: str | None = None, **fields) -> dict:
    return {"order_id": order_id or str(uuid4()), "total": "19.90", "currency": "EUR"} | fields


def caught_up(client: httpx.Client, customer_id: str, version: int) -> dict:
    """The 360 view once the read model has applied `version` (within 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        response = client.get(f"/v1/customers/{customer_id}")
        if response.status_code == 200 and response.json()["version"] >= version:
            return response.json()
        assert time.monotonic() < deadline, "the read model did not catch up"
        time.sleep(0.02)


def events_of(api: httpx.Client, customer_id: str) -> list[dict]:
    return api.get(f"/v1/customers/{customer_id}/timeline", params={"limit": 200}).json()["items"]


def test_registering_answers_201_with_id_version_etag_and_location(api) -> None:
    response = api.post(
        "/v1/customers",
        json={"name": "Ada", "email": "ada@example.com", "consent": {"email_marketing": True}},
        headers={"X-Correlation-ID": "corr-42"},
    )
    body = response.json()
    assert response.status_code == 201
    assert body["version"] == 1 and body["id"]
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/v1/customers/{body['id']}"
    assert response.headers["X-Correlation-ID"] == "corr-42"


def test_invalid_email_is_a_422_problem_naming_the_field_and_stores_nothing(api) -> None:
    ref = f"bad-{uuid4()}"
    response = api.post(
        "/v1/customers", json={"name": "Bob", "email": "not-an-email", "external_ref": ref}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert [e["field"] for e in problem["errors"]] == ["email"]
    assert api.get("/v1/customers", params={"external_ref": ref}).json()["items"] == []


def test_a_missing_name_is_a_422_naming_name(api) -> None:
    response = api.post("/v1/customers", json={"email": "bob@example.com"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["name"]


def test_text_postgresql_cannot_store_is_a_422_naming_the_field(api) -> None:
    ref = f"nul-{uuid4()}"
    customer_id = register(api)
    refused = [
        api.post("/v1/customers", json={"name": "Nul\u0000", "external_ref": ref}),
        api.post(
            "/v1/customers",
            content=b'{"name": "Lone \\ud800 surrogate", "external_ref": "%s"}' % ref.encode(),
            headers={"Content-Type": "application/json"},
        ),
        api.post(f"/v1/customers/{customer_id}/purchases", json=purchase(f"o\u0000{ref}")),
    ]
    assert [r.status_code for r in refused] == [422, 422, 422]
    # a lone surrogate is refused by the JSON parser already: the body is at fault, not a field
    assert [r.json()["errors"][0]["field"] for r in refused] == ["name", "body", "order_id"]
    assert api.get("/v1/customers", params={"external_ref": ref}).json()["items"] == []
    assert events_of(api, customer_id)[-1]["type"] == "Customer.Registered"
    search = api.get("/v1/customers", params={"q": "a\u0000b"})
    assert search.status_code == 422
    assert search.json()["errors"][0]["field"] == "query.q"
    assert api.get("/readyz").status_code == 200  # the read model did not stop on it


def test_a_body_that_is_not_json_is_a_422_naming_the_body(api) -> None:
    for body in (b"", b"{not json", b"\xff\xfe not utf-8", b"[1, 2]"):
        response = api.post("/v1/customers", content=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == PROBLEM
        assert [e["field"] for e in response.json()["errors"]] == ["body"], body


def test_an_unknown_customer_is_404(api) -> None:
    unknown = uuid4()
    for response in (
        api.get(f"/v1/customers/{unknown}"),
        api.post(f"/v1/customers/{unknown}/purchases", json=purchase()),
        api.get("/v1/customers/not-a-uuid"),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM


def test_keys_and_roles(service, keys) -> None:
    with service.client() as anonymous:
        assert anonymous.post("/v1/customers", json={"name": "X"}).status_code == 401
        assert anonymous.post("/v1/customers", content=b"{not json").status_code == 401
        assert anonymous.post("/v1/customers/not-an-id/complaints", json={}).status_code == 401
    with service.client("crm_not-a-key") as forged:
        assert forged.get("/v1/customers").status_code == 401
    with service.client(keys["auditor"]) as auditor:
        refused = auditor.post("/v1/customers", json={"name": "X"})
        assert refused.status_code == 403
        assert refused.headers["content-type"] == PROBLEM
        assert auditor.post("/v1/customers", json={"email": "no name"}).status_code == 403
    with service.client(keys["analyst"]) as analyst:
        assert analyst.post("/v1/customers", json={"name": "X"}).status_code == 403
        assert analyst.get("/v1/customers").status_code == 200
        assert analyst.get(f"/v1/customers/{uuid4()}/access-log").status_code == 403


def test_analysts_see_no_personal_data(service, keys, api) -> None:
    customer_id = register(api, email="private@example.com", tags=["vip"])
    with service.client(keys["analyst"]) as analyst:
        view = caught_up(analyst, customer_id, 1)
    assert view["tags"] == ["vip"]
    assert not {"name", "email", "phone", "personal"} & view.keys()


def test_a_stale_if_match_is_412_and_records_nothing(api) -> None:
    customer_id = register(api)
    api.post(f"/v1/customers/{customer_id}/purchases", json=purchase())
    stale = api.patch(
        f"/v1/customers/{customer_id}", json={"phone": "+33 1 23"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert len(events_of(api, customer_id)) == 2
    fresh = api.patch(
        f"/v1/customers/{customer_id}", json={"phone": "+33 1 23"}, headers={"If-Match": '"2"'}
    )
    assert (fresh.status_code, fresh.json()["version"]) == (200, 3)


def test_a_repeated_idempotency_key_returns_the_first_response(api) -> None:
    key = {"Idempotency-Key": str(uuid4())}
    first = api.post("/v1/customers", json={"name": "Once"}, headers=key)
    again = api.post("/v1/customers", json={"name": "Once"}, headers=key)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(events_of(api, first.json()["id"])) == 1
    other_body = api.post("/v1/customers", json={"name": "Twice"}, headers=key)
    assert other_body.status_code == 422
    assert other_body.json()["type"] == "/problems/idempotency-key-reused"


def test_50_concurrent_purchases_lose_none(service, keys, api) -> None:
    customer_id = register(api)

    def buy(i: int) -> int:
        with service.client(keys["service"]) as client:
            return client.post(
                f"/v1/customers/{customer_id}/purchases", json=purchase(f"c-{i}")
            ).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(buy, range(50)))
    created = statuses.count(201)
    assert created == 50
    assert caught_up(api, customer_id, 1 + created)["purchases"]["count"] == created


def test_a_purchase_shows_in_the_360_view_within_one_second(api) -> None:
    customer_id = register(api)
    accepted = api.post(f"/v1/customers/{customer_id}/purchases", json=purchase(total="42.00"))
    assert accepted.status_code == 201
    answered_at = time.monotonic()
    while (response := api.get(f"/v1/customers/{customer_id}")).status_code == 404 or (
        response.json()["purchases"]["count"] == 0
    ):
        assert time.monotonic() - answered_at < 1.0, "not visible within 1 s"
        time.sleep(0.02)
    view = response.json()
    assert view["purchases"]["total"] == "42.00"
    assert view["version"] == accepted.json()["version"]
    assert response.headers["ETag"] == f'"{view["version"]}"'


def test_the_360_view_sums_purchases_feedback_and_interactions(api) -> None:
    customer_id = register(api, tags=["vip"])
    for total in ("10.00", "30.00"):
        api.post(f"/v1/customers/{customer_id}/purchases", json=purchase(total=total))
    api.post(f"/v1/customers/{customer_id}/feedback", json={"rating": 5, "source": "review site"})
    api.post(f"/v1/customers/{customer_id}/feedback", json={"rating": 2})
    api.post(
        f"/v1/customers/{customer_id}/interactions",
        json={"channel": "call", "direction": "inbound", "subject": "Hi"},
    )
    view = caught_up(api, customer_id, 6)
    assert view["purchases"] | {"first_at": None, "last_at": None} == {
        "count": 2, "total": "40.00", "currency": "EUR", "average_order_value": "20.00",
        "first_at": None, "last_at": None, "by_currency": {"EUR": {"count": 2, "total": "40.00"}},
    }  # fmt: skip
    assert view["feedback"] == {"count": 2, "average_rating": 3.5}
    assert view["last_interaction"]["channel"] == "call"
    assert view["tags"] == ["vip"]


def test_the_360_view_lists_open_tickets_and_deals(api) -> None:
    # Given a customer with a solved and an open ticket, and an open and a won deal
    customer_id = register(api)
    complaint = {"subject": "Late", "description": "Still waiting", "channel": "email"}
    tickets = [
        api.post(f"/v1/customers/{customer_id}/complaints", json=complaint).json()["ticket_id"]
        for _ in range(2)
    ]
    api.post(f"/v1/tickets/{tickets[0]}/status", json={"status": "solved"})
    deal = {"customer_id": customer_id, "title": "Renewal", "amount": "900", "currency": "EUR"}
    deals = [api.post("/v1/deals", json=deal | {"stage": "proposal"}).json()["id"] for _ in "ab"]
    api.post(f"/v1/deals/{deals[1]}/won", json={})

    def view() -> dict:
        return api.get(f"/v1/customers/{customer_id}").json()

    # When the read model has applied them all
    wait_for(lambda: [d["id"] for d in view().get("open_deals", [])] == deals[:1])
    # Then the open ones are listed, and the customer's own version is unchanged
    shown = view()
    assert [(t["id"], t["status"]) for t in shown["open_tickets"]] == [(tickets[1], "open")]
    assert shown["open_deals"][0] | {"opened_at": None} == {
        "id": deals[0], "title": "Renewal", "amount": "900", "currency": "EUR",
        "stage": "proposal", "probability": 50, "status": "open", "opened_at": None,
    }  # fmt: skip
    assert shown["version"] == 1


def test_a_broken_domain_rule_is_a_409_naming_the_rule_and_records_nothing(api) -> None:
    customer_id = register(api)
    api.post(f"/v1/customers/{customer_id}/purchases", json=purchase("A-1"))
    again = api.post(f"/v1/customers/{customer_id}/purchases", json=purchase("A-1"))
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/order-already-recorded"
    assert len(events_of(api, customer_id)) == 2


def test_a_taken_external_ref_is_409(api) -> None:
    ref = f"ext-{uuid4()}"
    register(api, external_ref=ref)
    taken = api.post("/v1/customers", json={"name": "Other", "external_ref": ref})
    assert (taken.status_code, taken.json()["type"]) == (409, "/problems/external-ref-taken")


def test_business_time_too_far_in_the_future_is_422(api) -> None:
    customer_id = register(api)
    later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    response = api.post(f"/v1/customers/{customer_id}/purchases", json=purchase(occurred_at=later))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "occurred_at"


def test_the_timeline_shows_who_why_and_when_oldest_first(service, keys, api) -> None:
    customer_id = register(api)
    api.post(
        f"/v1/customers/{customer_id}/purchases",
        json=purchase(),
        headers={"X-Correlation-ID": "order-flow-7"},
    )
    api.post(
        f"/v1/customers/{customer_id}/interactions",
        json={"channel": "email", "direction": "outbound", "notes": "n"},
    )
    with service.client(keys["auditor"]) as auditor:
        first = auditor.get(f"/v1/customers/{customer_id}/timeline", params={"limit": 2}).json()
        rest = auditor.get(
            f"/v1/customers/{customer_id}/timeline", params={"cursor": first["next_cursor"]}
        ).json()
    items = first["items"] + rest["items"]
    assert [i["type"] for i in items] == [
        "Customer.Registered",
        "Customer.PurchaseRecorded",
        "Customer.InteractionLogged",
    ]
    assert rest["next_cursor"] is None
    assert items[1]["correlation_id"] == "order-flow-7"
    assert {i["actor"] for i in items} == {items[0]["actor"]} and items[0]["actor"].startswith(
        "service-"
    )
    assert [i["position"] for i in items] == sorted(i["position"] for i in items)
    assert {"occurred_at", "recorded_at", "causation_id", "data"} <= items[0].keys()


def test_as_of_answers_as_of_a_past_business_time(api) -> None:
    customer_id = register(api, occurred_at="2025-01-01T09:00:00+00:00")
    api.post(
        f"/v1/customers/{customer_id}/purchases",
        json=purchase(occurred_at="2025-03-01T10:00:00+01:00"),
    )
    before = api.get(
        f"/v1/customers/{customer_id}", params={"as_of": "2025-02-01T00:00:00Z"}
    ).json()
    after = api.get(f"/v1/customers/{customer_id}", params={"as_of": "2025-04-01T00:00:00Z"}).json()
    assert (before["purchases"]["count"], after["purchases"]["count"]) == (0, 1)
    assert (
        api.get(
            f"/v1/customers/{customer_id}", params={"as_of": "2024-01-01T00:00:00Z"}
        ).status_code
        == 404
    )


def test_as_of_recorded_answers_what_was_known_then_and_as_of_what_had_happened(api) -> None:
    # Given a customer registered, then a purchase of March 2025 recorded later (backdated)
    customer_id = register(api, occurred_at="2025-01-01T09:00:00+00:00")
    response = api.post(
        f"/v1/customers/{customer_id}/purchases", json=purchase(occurred_at="2025-03-01T10:00:00Z")
    )
    assert response.status_code == 201, response.text
    events = events_of(api, customer_id)
    registered = events[0]["recorded_at"]
    (purchased,) = [e["recorded_at"] for e in events if e["type"] == "Customer.PurchaseRecorded"]
    assert registered < purchased

    def purchases(**when: str) -> int:
        found = api.get(f"/v1/customers/{customer_id}", params=when)
        assert found.status_code == 200, found.text
        return found.json()["purchases"]["count"]

    # When the view is asked as of April 2025 (business time), as recorded at the
    # registration, as recorded at the purchase, and both at once
    # Then the purchase had happened by April, but was not known at the registration
    assert purchases(as_of="2025-04-01T00:00:00Z") == 1
    assert purchases(as_of_recorded=registered) == 0
    assert purchases(as_of_recorded=purchased) == 1
    # And both bounds hold together: known by then, but not yet happened in February
    assert purchases(as_of="2025-02-01T00:00:00Z", as_of_recorded=purchased) == 0
    assert purchases(as_of="2025-04-01T00:00:00Z", as_of_recorded=purchased) == 1
    # And before it was recorded at all, the customer is unknown; a naive time is a 422
    before = datetime.fromisoformat(registered) - timedelta(microseconds=1)
    unknown = api.get(f"/v1/customers/{customer_id}", params={"as_of_recorded": before.isoformat()})
    assert unknown.status_code == 404
    naive = api.get(f"/v1/customers/{customer_id}", params={"as_of_recorded": "2025-01-01T00:00"})
    assert naive.status_code == 422
    assert [e["field"] for e in naive.json()["errors"]] == ["query.as_of_recorded"]


def test_search_pages_with_a_cursor(api) -> None:
    tag = f"t{uuid4().hex[:8]}"
    made = {register(api, tags=[tag]) for _ in range(5)}
    deadline = time.monotonic() + 5
    while len(api.get("/v1/customers", params={"tag": tag}).json()["items"]) < len(made):
        assert time.monotonic() < deadline, "the read model did not catch up"
        time.sleep(0.05)
    seen, cursor = [], None
    while True:
        params = {"tag": tag, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get("/v1/customers", params=params).json()
        seen += [item["id"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(seen) == sorted(made)
    for forged in ("%%%", "é", "YQBi"):  # not base64; not ASCII; "a\0b"
        refused = api.get("/v1/customers", params={"cursor": forged})
        assert refused.status_code == 422
        assert refused.json()["errors"] == [{"field": "query.cursor", "message": "invalid cursor"}]
        timeline = api.get(f"/v1/customers/{seen[0]}/timeline", params={"cursor": forged})
        assert timeline.status_code == 422


def test_openapi_documents_the_commands_with_examples(api) -> None:
    spec = api.get("/openapi.json").json()
    register_body = spec["components"]["schemas"]["RegisterCustomer"]
    assert register_body["examples"]
    assert "/v1/customers/{customer_id}/purchases" in spec["paths"]


def test_health_and_readiness(api) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json()["status"] == "ready"
    register(api)
    metrics = api.get("/metrics").text
    assert 'crm_commands_total{command="RegisterCustomer",result="ok"}' in metrics
    assert "crm_command_batch_size_count" in metrics


def test_openapi_documents_keys_and_command_headers(api) -> None:
    spec = api.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    purchase_op = spec["paths"]["/v1/customers/{customer_id}/purchases"]["post"]
    headers = {p["name"] for p in purchase_op["parameters"] if p["in"] == "header"}
    assert {"Idempotency-Key", "If-Match", "X-Correlation-ID"} <= headers


def test_openapi_documents_errors_as_problems_and_public_probes(api) -> None:
    spec = api.get("/openapi.json").json()
    assert spec["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
    ]
    purchase_op = spec["paths"]["/v1/customers/{customer_id}/purchases"]["post"]
    for status in ("401", "403", "404", "409", "412", "422"):
        assert list(purchase_op["responses"][status]["content"]) == [PROBLEM]
    for probe in ("/healthz", "/readyz", "/metrics"):
        assert spec["paths"][probe]["get"]["security"] == []
        assert api.get(probe, headers={"Authorization": ""}).status_code == 200


def test_a_malformed_if_match_is_a_422_naming_the_header(api) -> None:
    customer_id = register(api)
    for malformed in ("abc", '"38467922980929107489321"'):  # the second: beyond 64 bits
        response = api.patch(
            f"/v1/customers/{customer_id}", json={"tags": []}, headers={"If-Match": malformed}
        )
        assert response.status_code == 422, malformed
        assert response.json()["errors"][0]["field"] == "header.If-Match"


def test_a_method_the_path_does_not_take_is_405_allowing_every_method_it_takes(api) -> None:
    for path, allowed in (
        ("/v1/customers", "GET, POST"),
        (f"/v1/customers/{uuid4()}", "GET, PATCH"),
        (f"/v1/customers/{uuid4()}/purchases", "POST"),
    ):
        refused = api.request("DELETE", path)
        assert refused.status_code == 405, path
        assert refused.headers["allow"] == allowed
        assert refused.headers["content-type"] == PROBLEM
