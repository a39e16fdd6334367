"""Tickets over HTTP against a running `crm serve`."""

from uuid import uuid4

import httpx
import pytest

from tests.e2e.reading import read_at_least
from tests.e2e.test_customers_http import PROBLEM, register

COMPLAINT = {
    "subject": "Kettle stopped working",
    "description": "It no longer heats.",
    "priority": "high",
    "channel": "email",
}


def complain(api: httpx.Client, customer_id: str, /, **fields) -> dict:
    response = api.post(f"/v1/customers/{customer_id}/complaints", json=COMPLAINT | fields)
    assert response.status_code == 201, response.text
    return response.json()


def reply(api: httpx.Client, ticket_id: str, author: str = "agent") -> httpx.Response:
    return api.post(f"/v1/tickets/{ticket_id}/replies", json={"author": author, "body": "Hello"})


def set_status(api: httpx.Client, ticket_id: str, status: str) -> httpx.Response:
    return api.post(f"/v1/tickets/{ticket_id}/status", json={"status": status})


@pytest.fixture
def auditor(service, keys) -> httpx.Client:
    with service.client(keys["auditor"]) as client:
        yield client


def test_a_complaint_opens_a_ticket_201_with_its_id_version_and_location(api) -> None:
    # Given a customer
    customer_id = register(api)
    # When they complain
    response = api.post(f"/v1/customers/{customer_id}/complaints", json=COMPLAINT)
    # Then a ticket is opened
    body = response.json()
    assert response.status_code == 201
    assert body["ticket_id"] == body["id"] and body["version"] == 1
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/v1/tickets/{body['ticket_id']}"
    ticket = read_at_least(api, f"/v1/tickets/{body['ticket_id']}", 1).json()
    assert ticket | {"opened_at": None, "updated_at": None} == {
        "id": body["ticket_id"], "customer_id": customer_id, "version": 1, "kind": "complaint",
        "subject": "Kettle stopped working", "description": "It no longer heats.",
        "priority": "high", "channel": "email", "order_ref": None, "status": "open",
        "opened_at": None, "updated_at": None, "first_response_at": None,
        "first_response_seconds": None, "solved_at": None, "closed_at": None, "reopened": 0,
        "replies": [], "satisfaction": None,
    }  # fmt: skip


def test_replies_and_status_changes_follow_the_ticket_through_its_life(api) -> None:
    # Given a warranty claim opened at 09:00
    customer_id = register(api)
    ticket_id = complain(
        api,
        customer_id,
        kind="warranty_claim",
        order_ref="A-1001",
        occurred_at="2026-01-05T09:00:00Z",
    )["ticket_id"]
    # When an agent answers at 09:45 and waits on the customer
    first = api.post(
        f"/v1/tickets/{ticket_id}/replies",
        json={"author": "agent", "body": "Serial number?", "occurred_at": "2026-01-05T09:45:00Z"},
    )
    pending = set_status(api, ticket_id, "pending")
    # And the customer answers, which opens the ticket again, and it is solved and rated
    answered = reply(api, ticket_id, "customer")
    solved = set_status(api, ticket_id, "solved")
    rated = api.post(f"/v1/tickets/{ticket_id}/satisfaction", json={"rating": 5, "comment": "Ok"})
    # Then every answer carries the new version
    assert (first.status_code, first.json()["version"]) == (201, 2)
    assert (pending.status_code, pending.json()) == (200, pending.json() | {"version": 3})
    assert (answered.status_code, answered.json()["status"]) == (201, "open")
    assert answered.json()["version"] == 5  # the reply and the reopening
    assert (solved.status_code, solved.json()["version"]) == (200, 6)
    assert (rated.status_code, rated.json()["version"]) == (201, 7)
    ticket = read_at_least(api, f"/v1/tickets/{ticket_id}", 7).json()
    assert (ticket["kind"], ticket["order_ref"], ticket["status"]) == (
        "warranty_claim",
        "A-1001",
        "solved",
    )
    assert ticket["first_response_at"] == "2026-01-05T09:45:00Z"
    assert ticket["first_response_seconds"] == 45 * 60
    assert [r["author"] for r in ticket["replies"]] == ["agent", "customer"]
    assert ticket["satisfaction"]["rating"] == 5


def test_a_reply_to_a_closed_ticket_is_a_409_naming_the_rule_and_records_nothing(api) -> None:
    # Given a closed ticket
    ticket_id = complain(api, register(api))["ticket_id"]
    closed = set_status(api, ticket_id, "closed")
    # When the customer replies
    refused = reply(api, ticket_id, "customer")
    # Then the reply is refused, naming the rule, and nothing is recorded
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["type"] == "/problems/ticket-closed"
    ticket = read_at_least(api, f"/v1/tickets/{ticket_id}", 2)
    assert ticket.json()["version"] == closed.json()["version"] == 2
    assert ticket.headers["ETag"] == '"2"'
    reopened = set_status(api, ticket_id, "open")
    assert (reopened.status_code, reopened.json()["type"]) == (409, "/problems/ticket-closed")


def test_asking_for_the_current_status_records_nothing(api) -> None:
    ticket_id = complain(api, register(api))["ticket_id"]
    same = set_status(api, ticket_id, "open")
    assert (same.status_code, same.json()["version"], same.json()["status"]) == (200, 1, "open")


def test_satisfaction_before_solving_is_a_409_and_a_second_rating_too(api) -> None:
    ticket_id = complain(api, register(api))["ticket_id"]
    early = api.post(f"/v1/tickets/{ticket_id}/satisfaction", json={"rating": 4})
    assert (early.status_code, early.json()["type"]) == (409, "/problems/ticket-not-solved")
    set_status(api, ticket_id, "solved")
    assert api.post(f"/v1/tickets/{ticket_id}/satisfaction", json={"rating": 4}).status_code == 201
    again = api.post(f"/v1/tickets/{ticket_id}/satisfaction", json={"rating": 1})
    assert (again.status_code, again.json()["type"]) == (409, "/problems/ticket-already-rated")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/status", {"status": "reopened"}, "status"),
        ("/replies", {"author": "bot", "body": "x"}, "author"),
        ("/replies", {"author": "agent", "body": "  "}, "body"),
        ("/satisfaction", {"rating": 6}, "rating"),
    ],
)
def test_unknown_values_are_a_422_naming_the_field_and_record_nothing(
    api, path: str, body: dict, field: str
) -> None:
    ticket_id = complain(api, register(api))["ticket_id"]
    response = api.post(f"/v1/tickets/{ticket_id}{path}", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert read_at_least(api, f"/v1/tickets/{ticket_id}", 1).json()["version"] == 1


def test_an_unknown_priority_or_kind_is_a_422_naming_the_field(api) -> None:
    path = f"/v1/customers/{register(api)}/complaints"
    for field, value in (("priority", "asap"), ("kind", "refund"), ("channel", "fax")):
        response = api.post(path, json=COMPLAINT | {field: value})
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [field]


def test_an_unknown_customer_or_ticket_is_404(api) -> None:
    customer_id = register(api)
    for response in (
        api.post(f"/v1/customers/{uuid4()}/complaints", json=COMPLAINT),
        api.post("/v1/customers/not-a-uuid/complaints", json=COMPLAINT),
        reply(api, str(uuid4())),
        set_status(api, "not-a-uuid", "solved"),
        api.get(f"/v1/tickets/{uuid4()}"),
        api.get(f"/v1/tickets/{customer_id}"),  # a customer is not a ticket
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM


def test_the_customer_of_the_path_owns_the_ticket_whatever_the_body_says(api) -> None:
    customer_id, other = register(api), register(api)
    ticket_id = complain(api, customer_id, customer_id=other)["ticket_id"]
    assert read_at_least(api, f"/v1/tickets/{ticket_id}", 1).json()["customer_id"] == customer_id


def test_a_repeated_complaint_with_the_same_idempotency_key_opens_one_ticket(api) -> None:
    customer_id = register(api)
    key = {"Idempotency-Key": str(uuid4())}
    path = f"/v1/customers/{customer_id}/complaints"
    first = api.post(path, json=COMPLAINT, headers=key)
    again = api.post(path, json=COMPLAINT, headers=key)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"


def test_the_tickets_events_appear_in_the_customers_timeline(api, auditor) -> None:
    # Given a customer whose complaint is answered and solved
    customer_id = register(api)
    ticket_id = complain(api, customer_id)["ticket_id"]
    reply(api, ticket_id)
    set_status(api, ticket_id, "solved")
    # When the auditor reads the customer's timeline
    items = auditor.get(f"/v1/customers/{customer_id}/timeline").json()["items"]
    # Then the ticket's events are there, oldest first, each naming the customer
    assert [i["type"] for i in items] == [
        "Customer.Registered",
        "Ticket.Opened",
        "Ticket.Replied",
        "Ticket.StatusChanged",
    ]
    assert {i["stream_id"] for i in items[1:]} == {ticket_id}
    assert {i["customer_id"] for i in items} == {customer_id}
    assert items[1]["data"]["personal"] == {"description": "It no longer heats."}
    assert items[3]["data"]["status"] == "solved"


def test_analysts_read_a_ticket_without_its_free_text(service, keys, api) -> None:
    ticket_id = complain(api, register(api))["ticket_id"]
    reply(api, ticket_id)
    with service.client(keys["analyst"]) as analyst:
        ticket = read_at_least(analyst, f"/v1/tickets/{ticket_id}", 2).json()
    assert {"subject", "description"}.isdisjoint(ticket)
    assert [set(r) for r in ticket["replies"]] == [{"reply_id", "author", "at"}]


def test_openapi_documents_the_ticket_routes_without_the_path_customer_in_the_body(api) -> None:
    spec = api.get("/openapi.json").json()
    complaint = spec["components"]["schemas"]["OpenComplaint"]
    assert "customer_id" not in complaint["properties"]
    assert "customer_id" not in complaint.get("required", [])
    assert complaint["examples"]
    for path in ("/replies", "/status", "/satisfaction"):
        assert f"/v1/tickets/{{ticket_id}}{path}" in spec["paths"]
