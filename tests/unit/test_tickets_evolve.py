"""The tickets read model as a pure function of a ticket's events."""

from dataclasses import replace
from datetime import UTC, datetime
from functools import reduce

import pytest

from domain.events.envelope import Envelope
from projections.tickets.evolve import evolve, key
from projections.tickets.queries import view

TICKET = "3b8e2f0a-1c4d-4e5f-8a9b-0c1d2e3f4a5b"
CUSTOMER = "5f0c6a47-3c7e-4a8e-9a3a-0d6f3c1e2b11"
REPLY = "9c2d1e0f-4b3a-4c5d-8e6f-7a8b9c0d1e2f"


def at(minute: int) -> datetime:
    return datetime(2026, 3, 1, 9, minute, tzinfo=UTC)


def event(type_: str, version: int, minute: int, **data: object) -> Envelope:
    return Envelope(
        type=f"Ticket.{type_}", stream_id=TICKET, stream_version=version,
        position=100 + version, customer_id=CUSTOMER, occurred_at=at(minute),
        recorded_at=at(minute), actor="t", correlation_id="c", causation_id=None,
        schema_version=1, data={"customer_id": CUSTOMER, **data},
    )  # fmt: skip


OPENED = event(
    "Opened", 1, 0, kind="complaint", subject="Late", priority="high", channel="email",
    order_ref="A-1", personal={"description": "Where is it?"},
)  # fmt: skip


def status(version: int, minute: int, to: str) -> Envelope:
    return event("StatusChanged", version, minute, status=to)


def reply(version: int, minute: int, author: str) -> Envelope:
    return event("Replied", version, minute, reply_id=REPLY, author=author, personal={"body": "Hi"})


def fold(*events: Envelope):
    return reduce(evolve, events, None)


def test_an_opened_ticket_is_a_row_of_its_facts() -> None:
    # Given / When
    row = fold(OPENED)
    # Then
    assert row == {
        "ticket_id": TICKET, "customer_id": CUSTOMER, "version": 1, "last_position": 101,
        "kind": "complaint", "subject": "Late", "description": "Where is it?",
        "priority": "high", "channel": "email", "order_ref": "A-1", "status": "open",
        "opened_at": at(0), "updated_at": at(0), "first_response_at": None,
        "solved_at": None, "closed_at": None, "reopened": 0, "replies": [],
        "satisfaction": None, "status_history": [{"status": "open", "at": at(0).isoformat()}],
    }  # fmt: skip


def test_the_first_agent_reply_is_the_first_response_and_customer_replies_are_not() -> None:
    # Given a customer's reply at 09:05, then agents' at 09:20 and 09:30
    row = fold(OPENED, reply(2, 5, "customer"), reply(3, 20, "agent"), reply(4, 30, "agent"))
    # Then
    assert row["first_response_at"] == at(20)
    assert [(r["author"], r["at"]) for r in row["replies"]] == [
        ("customer", at(5).isoformat()),
        ("agent", at(20).isoformat()),
        ("agent", at(30).isoformat()),
    ]
    assert row["replies"][0] == {
        "reply_id": REPLY, "author": "customer", "at": at(5).isoformat(), "body": "Hi",
    }  # fmt: skip
    assert (row["version"], row["updated_at"]) == (4, at(30))
    assert view(row)["first_response_seconds"] == 20 * 60


def test_leaving_solved_for_anything_but_closed_reopens_and_forgets_solved_at() -> None:
    # Given a ticket solved at 09:10, opened again at 09:20, solved at 09:30 and closed at 09:40
    row = fold(OPENED, status(2, 10, "solved"), status(3, 20, "open"))
    # Then it counts one reopening and is not solved any more
    assert (row["status"], row["reopened"], row["solved_at"]) == ("open", 1, None)
    # And solving then closing it keeps the solving time, without another reopening
    row = fold(OPENED, status(2, 10, "solved"), status(3, 20, "open"), status(4, 30, "solved"),
               status(5, 40, "closed"))  # fmt: skip
    assert (row["status"], row["reopened"]) == ("closed", 1)
    assert (row["solved_at"], row["closed_at"], row["updated_at"]) == (at(30), at(40), at(40))
    assert row["status_history"] == [
        {"status": s, "at": at(m).isoformat()}
        for s, m in (("open", 0), ("solved", 10), ("open", 20), ("solved", 30), ("closed", 40))
    ]


def test_pending_to_open_is_not_a_reopening() -> None:
    row = fold(OPENED, status(2, 10, "pending"), status(3, 20, "open"))
    assert (row["status"], row["reopened"]) == ("open", 0)
    assert [s["status"] for s in row["status_history"]] == ["open", "pending", "open"]


def test_a_rating_is_kept_with_its_comment_and_time() -> None:
    rated = event("SatisfactionRated", 3, 15, rating=4, personal={"comment": "Quick"})
    row = fold(OPENED, status(2, 10, "solved"), rated)
    assert row["satisfaction"] == {"rating": 4, "at": at(15).isoformat(), "comment": "Quick"}
    assert (row["version"], row["last_position"], row["updated_at"]) == (3, 103, at(15))


def test_an_earlier_business_time_does_not_move_updated_at_back() -> None:
    # Given a reply imported with a business time before the ticket's last change
    row = fold(OPENED, status(2, 30, "pending"), reply(3, 10, "agent"))
    # Then
    assert (row["updated_at"], row["first_response_at"]) == (at(30), at(10))


def test_an_event_applied_again_changes_nothing() -> None:
    once = fold(OPENED, reply(2, 5, "agent"))
    assert evolve(once, reply(2, 5, "agent")) == once
    assert evolve(once, OPENED) == once


def test_a_ticket_event_this_model_does_not_show_moves_only_its_version_and_time() -> None:
    once = fold(OPENED)
    assert evolve(once, event("PriorityRaised", 2, 5)) == once | {
        "version": 2, "last_position": 102, "updated_at": at(5),
    }  # fmt: skip


def test_other_events_have_no_row_and_a_ticket_is_opened_first() -> None:
    other = replace(OPENED, type="Deal.Opened")
    assert (key(other), evolve(None, other)) == (None, None)
    with pytest.raises(LookupError):  # parked: an event of a ticket never opened
        evolve(None, reply(2, 5, "agent"))
    assert key(OPENED) == TICKET
