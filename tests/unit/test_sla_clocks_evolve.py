"""The `sla_clocks` read model as a pure function of a ticket's events."""

import struct
from functools import reduce

import pytest

from projections.sla.clocks_evolve import evolve
from tests.unit.test_tickets_evolve import CUSTOMER, OPENED, TICKET, at, event, reply, status

EPOCH_MICROS = 1_772_355_600_000_000
"""at(0), 2026-03-01 09:00 UTC, in µs since 1970-01-01."""


def fold(*events):
    return reduce(evolve, events, None)


def unpacked(changes: bytes) -> list[tuple[int, int]]:
    """(minutes after at(0), status index) of each packed change."""
    return [
        ((micros - EPOCH_MICROS) // 60_000_000, code)
        for micros, code in struct.iter_unpack(">qh", changes)
    ]


def test_a_ticket_s_clock_row_holds_its_first_reply_and_every_status_packed() -> None:
    # Given a ticket opened at 09:00, answered by the customer then an agent, put pending,
    # reopened and solved; then rated (no status change), and its breaches recorded
    row = fold(
        OPENED,
        reply(2, 3, "customer"),
        reply(3, 5, "agent"),
        status(4, 10, "pending"),
        reply(5, 20, "agent"),
        status(6, 30, "open"),
        status(7, 45, "solved"),
        event("SatisfactionRated", 8, 50, rating=5, personal={}),
        event("SlaBreached", 9, 55, target="resolution", policy_version=1),
        event("SlaBreached", 10, 56, target="first_response", policy_version=1),
    )
    # Then the row holds the first agent reply, the statuses with their times and the
    # breaches recorded
    assert {k: v for k, v in row.items() if k != "changes"} == {
        "ticket_id": TICKET, "customer_id": CUSTOMER, "version": 10, "last_position": 110,
        "priority": "high", "status": "solved", "opened_at": at(0), "updated_at": at(56),
        "first_response_at": at(5), "breaches": ["first_response", "resolution"],
    }  # fmt: skip
    assert unpacked(row["changes"]) == [(0, 0), (10, 1), (30, 0), (45, 2)]


def test_events_already_applied_or_before_the_opening_change_nothing() -> None:
    opened = fold(OPENED)
    assert evolve(opened, OPENED) == opened
    with pytest.raises(LookupError):  # parked: an event of a ticket never opened
        fold(status(2, 1, "solved"))
