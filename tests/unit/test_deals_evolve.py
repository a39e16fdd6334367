"""The deals read model as a pure function of a deal's events."""

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import reduce

import pytest

from domain.events.envelope import Envelope
from projections.deals.evolve import evolve, key
from projections.deals.queries import view

DEAL = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CUSTOMER = "5f0c6a47-3c7e-4a8e-9a3a-0d6f3c1e2b11"


def at(day: int) -> datetime:
    return datetime(2026, 3, day, 9, tzinfo=UTC)


def event(type_: str, version: int, day: int, **data: object) -> Envelope:
    return Envelope(
        type=f"Deal.{type_}", stream_id=DEAL, stream_version=version, position=200 + version,
        customer_id=CUSTOMER, occurred_at=at(day), recorded_at=at(day), actor="t",
        correlation_id="c", causation_id=None, schema_version=1,
        data={"customer_id": CUSTOMER, **data},
    )  # fmt: skip


OPENED = event(
    "Opened", 1, 1, title="Renewal", amount="12000.00", currency="EUR", stage="prospecting",
    probability=10, expected_close_date="2026-09-30", owner="jane.doe",
)  # fmt: skip


def stay(stage: str, probability: int, entered: int, left: int | None = None, **more) -> dict:
    return {
        "stage": stage, "probability": probability, "entered_at": at(entered).isoformat(),
        "left_at": at(left).isoformat() if left else None,
        "recorded_at": at(entered).isoformat(), **more,
    }  # fmt: skip


def amount(value: str, currency: str, day: int) -> dict:
    return {
        "amount": value, "currency": currency, "at": at(day).isoformat(),
        "recorded_at": at(day).isoformat(),
    }  # fmt: skip


def fold(*events: Envelope):
    return reduce(evolve, events, None)


def test_an_opened_deal_is_a_row_in_its_first_stage() -> None:
    # Given / When
    row = fold(OPENED)
    # Then
    assert row == {
        "deal_id": DEAL, "customer_id": CUSTOMER, "version": 1, "last_position": 201,
        "title": "Renewal", "amount": Decimal("12000.00"), "currency": "EUR",
        "stage": "prospecting", "status": "open", "probability": 10,
        "expected_close_date": date(2026, 9, 30), "owner": "jane.doe", "lost_reason": None,
        "opened_at": at(1), "closed_at": None, "won_at": None, "lost_at": None,
        "stage_history": [stay("prospecting", 10, 1)],
        "amount_history": [amount("12000.00", "EUR", 1)],
    }  # fmt: skip


def test_moves_close_the_stay_in_the_stage_left_and_winning_closes_the_deal() -> None:
    # Given a deal moved to proposal on day 3 and won on day 8
    row = fold(OPENED, event("StageMoved", 2, 3, from_stage="prospecting", stage="proposal",
                             probability=50), event("Won", 3, 8, from_stage="proposal"))  # fmt: skip
    # Then
    assert (row["stage"], row["status"], row["probability"]) == ("won", "won", 100)
    assert (row["won_at"], row["lost_at"], row["closed_at"]) == (at(8), None, at(8))
    assert row["stage_history"] == [
        stay("prospecting", 10, 1, 3),
        stay("proposal", 50, 3, 8),
        stay("won", 100, 8),
    ]
    assert (row["version"], row["last_position"]) == (3, 203)


def test_a_lost_deal_keeps_its_reason_until_it_is_reopened() -> None:
    # Given a deal lost on day 4
    lost = fold(OPENED, event("Lost", 2, 4, from_stage="prospecting", reason="price"))
    assert (lost["status"], lost["probability"], lost["lost_reason"]) == ("lost", 0, "price")
    assert (lost["lost_at"], lost["closed_at"]) == (at(4), at(4))
    # When it is reopened in qualification on day 6
    reopened = evolve(
        lost, event("Reopened", 3, 6, from_stage="lost", stage="qualification", probability=20)
    )
    # Then it is open again, with nothing of its closing but its history
    assert {k: reopened[k] for k in ("stage", "status", "probability", "lost_reason")} == {
        "stage": "qualification", "status": "open", "probability": 20, "lost_reason": None,
    }  # fmt: skip
    assert (reopened["lost_at"], reopened["won_at"], reopened["closed_at"]) == (None,) * 3
    assert reopened["stage_history"] == [
        stay("prospecting", 10, 1, 4),
        stay("lost", 0, 4, 6, reason="price"),
        stay("qualification", 20, 6),
    ]


def test_an_amount_change_is_exact_and_kept_in_the_amount_history() -> None:
    changed = event(
        "AmountChanged", 2, 2, old_amount="12000.00", old_currency="EUR", amount="15000.50",
        currency="USD",
    )  # fmt: skip
    row = fold(OPENED, changed)
    assert (row["amount"], str(row["amount"]), row["currency"]) == (
        Decimal("15000.50"), "15000.50", "USD",
    )  # fmt: skip
    assert row["amount_history"] == [
        amount("12000.00", "EUR", 1), amount("15000.50", "USD", 2),
    ]  # fmt: skip


def test_the_view_shows_the_history_without_when_stays_ended() -> None:
    row = fold(OPENED, event("Won", 2, 5, from_stage="prospecting"))
    shown = view(row)
    assert shown["history"] == [
        {"stage": "prospecting", "probability": 10, "entered_at": at(1).isoformat()},
        {"stage": "won", "probability": 100, "entered_at": at(5).isoformat()},
    ]
    assert (shown["id"], shown["status"], shown["opened_at"], shown["closed_at"]) == (
        DEAL, "won", at(1), at(5),
    )  # fmt: skip


def test_an_event_applied_again_changes_nothing() -> None:
    moved = event("StageMoved", 2, 3, from_stage="prospecting", stage="proposal", probability=50)
    once = fold(OPENED, moved)
    assert evolve(once, moved) == once
    assert evolve(once, OPENED) == once


def test_a_deal_event_this_model_does_not_show_moves_only_its_version() -> None:
    once = fold(OPENED)
    assert evolve(once, event("OwnerNoted", 2, 2)) == once | {"version": 2, "last_position": 202}


def test_other_events_have_no_row_and_a_deal_is_opened_first() -> None:
    other = replace(OPENED, type="Ticket.Opened")
    assert (key(other), evolve(None, other)) == (None, None)
    with pytest.raises(LookupError):  # parked: an event of a deal never opened
        evolve(None, event("Won", 2, 5, from_stage="prospecting"))
    assert key(OPENED) == DEAL
