"""A deals row read back to a past time equals the fold of the deal's events up to then."""

from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events.envelope import Envelope
from projections.deals.evolve import evolve
from projections.deals.history import as_of
from tests.unit.test_deals_evolve import OPENED, event

START = datetime(2026, 3, 1, tzinfo=UTC)
OPEN_STAGES = {"prospecting": 10, "qualification": 20, "proposal": 50}
STAGED = ("stage", "probability", "amount", "currency", "stage_history", "amount_history")
SHOWN = (*STAGED, "status")
"""What a pipeline reads of a row (and the lost reason of a lost deal)."""


def day(n: int) -> datetime:
    return START + timedelta(days=n)


def fold(events: list[Envelope]):
    """The row the events give, each event of a deal not opened yet parked (skipped)."""
    row = None
    for known in events:
        with suppress(LookupError):
            row = evolve(row, known)
    return row


def shown(row) -> dict | None:
    if row is None:
        return None
    return {k: row[k] for k in SHOWN} | {
        "lost_reason": row["lost_reason"] if row["status"] == "lost" else None
    }


def decided(kind: str, closed: bool, draw) -> tuple[str, dict]:
    """An event a deal in that state may record, and its data."""
    stage = draw(st.sampled_from(sorted(OPEN_STAGES)))
    moved = {"stage": stage, "probability": OPEN_STAGES[stage]}
    if closed:
        return ("Reopened", moved) if kind != "note" else ("Noted", {})
    return {
        "move": ("StageMoved", moved),
        "amount": ("AmountChanged", {"amount": str(draw(st.integers(0, 999))), "currency": "USD"}),
        "win": ("Won", {}),
        "lose": ("Lost", {"reason": draw(st.sampled_from(["price", "timing"]))}),
        "note": ("Noted", {}),
    }[kind]


@st.composite
def lives(draw, ordered: bool) -> list[Envelope]:
    """A deal's events as the domain records them, recorded in order; their business times in
    the same order, or (`ordered` False: imports) in any order."""
    events, closed = [OPENED], False
    for version in range(2, draw(st.integers(1, 9)) + 1):
        kind = draw(st.sampled_from(["move", "amount", "win", "lose", "note"]))
        type_, data = decided(kind, closed, draw)
        closed = type_ in ("Won", "Lost") or (closed and type_ == "Noted")
        events.append(event(type_, version, 1, **data))
    days = draw(st.lists(st.integers(0, 20), min_size=len(events), max_size=len(events)))
    return [
        replace(e, occurred_at=day(d), recorded_at=day(i))
        for i, (e, d) in enumerate(zip(events, sorted(days) if ordered else days, strict=True))
    ]


bounds = st.one_of(st.none(), st.integers(-1, 21).map(day))


def known_then(events: list[Envelope], occurred, recorded) -> list[Envelope]:
    return [
        e
        for e in events
        if (occurred is None or e.occurred_at <= occurred)
        and (recorded is None or e.recorded_at <= recorded)
    ]


@settings(max_examples=300)
@given(lives(ordered=True), bounds, bounds)
def test_a_row_as_of_a_time_is_the_fold_of_the_events_known_then(events, occurred, recorded):
    # Given a deal's events, and a business time and a recorded time (None: no bound)
    # When its full row is read back to those times
    then = as_of(fold(events), occurred, recorded)
    # Then it shows what folding only the events known then shows
    assert shown(then) == shown(fold(known_then(events, occurred, recorded)))


@settings(max_examples=300)
@given(lives(ordered=False), bounds, bounds)
def test_with_business_times_out_of_order_the_status_follows_the_stage_then(
    events, occurred, recorded
):
    # Given events whose business times are not in the order they were recorded, the events
    # known at a time may be no sequence the domain records (won, then moved: the reopening
    # happened later), and their fold is no deal the domain holds
    then = as_of(fold(events), occurred, recorded)
    folded = fold(known_then(events, occurred, recorded))
    assert (then is None) == (folded is None)
    if then is not None:
        # Then the row read back has the fold's stages and amounts, its status their stage's
        assert {k: then[k] for k in STAGED} == {k: folded[k] for k in STAGED}
        assert then["status"] == (then["stage"] if then["stage"] in ("won", "lost") else "open")


def test_a_deal_reads_back_to_its_stage_amount_and_reason_then() -> None:
    # Given a deal opened on day 1, its amount changed on day 2 (recorded on day 5), lost on
    # day 3, reopened in proposal on day 6
    changed = event("AmountChanged", 2, 2, amount="9000", currency="USD")
    lost = event("Lost", 3, 3, reason="price")
    reopened = event("Reopened", 4, 6, stage="proposal", probability=50)
    row = fold([OPENED, replace(changed, recorded_at=lost.recorded_at + timedelta(days=2)), lost,
                reopened])  # fmt: skip
    # When read back to day 4 (business time)
    on_day_4 = as_of(row, occurred=OPENED.occurred_at + timedelta(days=3))
    # Then it was lost for its reason, at 9000 USD, and its stay in prospecting had ended
    assert on_day_4 is not None
    assert (on_day_4["status"], on_day_4["lost_reason"], on_day_4["lost_at"]) == (
        "lost", "price", lost.occurred_at,
    )  # fmt: skip
    assert (on_day_4["amount"], on_day_4["currency"]) == (Decimal(9000), "USD")
    assert [s["left_at"] for s in on_day_4["stage_history"]] == [
        lost.occurred_at.isoformat(), None,
    ]  # fmt: skip
    # And as recorded by day 4, the amount change was not known yet
    recorded = as_of(row, recorded=OPENED.recorded_at + timedelta(days=3))
    assert recorded is not None
    assert (recorded["status"], recorded["amount"]) == ("lost", Decimal("12000.00"))
    # And before it was opened, there was no deal
    assert as_of(row, occurred=OPENED.occurred_at - timedelta(seconds=1)) is None
