"""The pipeline report over deals rows folded from their events, against hand-computed answers.

The deals (business days of March 2026, 09:00 UTC; default stages prospecting 10,
qualification 20, proposal 50, negotiation 80):

| deal | amount      | close      | life                                                          |
| ---- | ----------- | ---------- | ------------------------------------------------------------- |
| d1   | 1000.00 EUR | 2026-04-30 | prospecting 1, qualification 3, proposal 7: open              |
| d2   | 2000.00 EUR | 2026-04-15 | qualification 2, negotiation 6 (skips proposal), won 11        |
| d3   | 500.00 USD  | 2026-05-10 | prospecting 1, lost 5 (price)                                 |
| d4   | 300.00 EUR  | none       | proposal 4, lost 8 (price), reopened in negotiation 9: open    |
| d5   | 800.00 USD  | 2026-04-20 | prospecting 2, 900.00 USD on day 4, lost 6 (timing)           |
| d6   | 50.00 GBP   | 2026-05-01 | qualification 3: open                                         |
| d7   | 100.00 EUR  | 2026-06-01 | negotiation 5, lost 7 (timing)                                |
| d8   | 1234.56 USD | 2026-04-02 | negotiation 10: open                                          |
"""

from datetime import UTC, datetime
from decimal import Decimal
from functools import reduce
from itertools import count
from uuid import uuid4

from domain.events.envelope import Envelope
from domain.pipeline import DEFAULT_STAGES, Stage, Stages
from projections.deals.evolve import evolve
from projections.deals.pipeline import (
    Conversion,
    ForecastMonth,
    LostReason,
    StageLine,
    Tally,
    WinRate,
    report,
)
from projections.projection import Row

PROBABILITY = {s.name: s.probability for s in DEFAULT_STAGES.open_stages}
POSITIONS = count(1)
D = Decimal


def envelope(stream: str, version: int, type_: str, day: int, **data: object) -> Envelope:
    at = datetime(2026, 3, day, 9, tzinfo=UTC)
    return Envelope(
        type=f"Deal.{type_}", stream_id=stream, stream_version=version, position=next(POSITIONS),
        customer_id="c", occurred_at=at, recorded_at=at, actor="t", correlation_id="c",
        causation_id=None, schema_version=1, data={"customer_id": "c", **data},
    )  # fmt: skip


def deal(amount: str, currency: str, stage: str, day: int, close: str | None, *steps) -> Row:
    """A deals row: opened, then each (event type, day, data) step."""
    stream = str(uuid4())
    opened = envelope(
        stream, 1, "Opened", day, title="t", amount=amount, currency=currency, stage=stage,
        probability=PROBABILITY[stage], expected_close_date=close, owner="o",
    )  # fmt: skip
    later = [envelope(stream, v, t, d, **data) for v, (t, d, data) in enumerate(steps, start=2)]
    return reduce(evolve, [opened, *later], None)


def moved(stage: str, day: int, type_: str = "StageMoved") -> tuple:
    return (type_, day, {"stage": stage, "probability": PROBABILITY[stage]})


def lost(reason: str, day: int) -> tuple:
    return ("Lost", day, {"reason": reason})


ROWS = [
    deal("1000.00", "EUR", "prospecting", 1, "2026-04-30", moved("qualification", 3),
         moved("proposal", 7)),
    deal("2000.00", "EUR", "qualification", 2, "2026-04-15", moved("negotiation", 6),
         ("Won", 11, {})),
    deal("500.00", "USD", "prospecting", 1, "2026-05-10", lost("price", 5)),
    deal("300.00", "EUR", "proposal", 4, None, lost("price", 8),
         moved("negotiation", 9, "Reopened")),
    deal("800.00", "USD", "prospecting", 2, "2026-04-20",
         ("AmountChanged", 4, {"amount": "900.00", "currency": "USD"}), lost("timing", 6)),
    deal("50.00", "GBP", "qualification", 3, "2026-05-01"),
    deal("100.00", "EUR", "negotiation", 5, "2026-06-01", lost("timing", 7)),
    deal("1234.56", "USD", "negotiation", 10, "2026-04-02"),
]  # fmt: skip


def test_each_stage_counts_its_deals_amounts_by_currency_and_completed_stays() -> None:
    # When
    lines = report(ROWS, DEFAULT_STAGES).stages
    # Then open stages in order, then won and lost; weighted = amount x probability on entry
    assert lines == [
        StageLine(0, {}, {}, "prospecting", 10, False, 3, 3.33),  # stays 2, 4, 4 days
        StageLine(1, {"GBP": D("50.00")}, {"GBP": D("10.00")}, "qualification", 20, False, 2,
                  4.0),  # d1 3->7, d2 2->6
        StageLine(1, {"EUR": D("1000.00")}, {"EUR": D("500.00")}, "proposal", 50, False, 1, 4.0),
        StageLine(2, {"EUR": D("300.00"), "USD": D("1234.56")},
                  {"EUR": D("240.00"), "USD": D("987.648")}, "negotiation", 80, False, 2,
                  3.5),  # d2 6->11, d7 5->7
        StageLine(1, {"EUR": D("2000.00")}, {"EUR": D("2000.00")}, "won", 100, True, 0, None),
        StageLine(3, {"EUR": D("100.00"), "USD": D("1400.00")}, {"EUR": D(0), "USD": D(0)},
                  "lost", 0, True, 1, 1.0),  # d4 lost 8->9
    ]  # fmt: skip


def test_open_totals_are_exact_and_never_mix_currencies() -> None:
    # When
    totals = report(ROWS, DEFAULT_STAGES).open
    # Then d1, d4, d6 and d8
    assert totals == Tally(
        4,
        {"EUR": D("1300.00"), "GBP": D("50.00"), "USD": D("1234.56")},
        {"EUR": D("740.00"), "GBP": D("10.00"), "USD": D("987.648")},
    )
    assert str(totals.weighted_amount["USD"]) == "987.648"


def test_conversion_counts_a_skipped_stage_as_reached_and_won_as_the_last_step() -> None:
    # Given the furthest steps: d1 proposal, d2 won, d3 and d5 prospecting, d4, d7 and d8
    # negotiation (d4 through lost), d6 qualification: reached 8, 6, 5, 4, 1
    # When
    conversion = report(ROWS, DEFAULT_STAGES).conversion
    # Then
    assert conversion == [
        Conversion("prospecting", "qualification", 8, 6, 0.75),
        Conversion("qualification", "proposal", 6, 5, 0.8333),
        Conversion("proposal", "negotiation", 5, 4, 0.8),
        Conversion("negotiation", "won", 4, 1, 0.25),
    ]


def test_win_rate_and_lost_reasons_count_closed_deals_as_they_are_now() -> None:
    # When (d4 was lost for price, then reopened: it counts no more)
    answer = report(ROWS, DEFAULT_STAGES)
    # Then
    assert answer.win_rate == WinRate(won=1, lost=3, rate=0.25)
    assert answer.lost_reasons == [LostReason("timing", 2), LostReason("price", 1)]


def test_the_forecast_weighs_open_deals_by_expected_close_month_undated_last() -> None:
    # When
    forecast = report(ROWS, DEFAULT_STAGES).forecast
    # Then April: d1 and d8; May: d6; no date: d4
    assert forecast == [
        ForecastMonth(2, {"EUR": D("1000.00"), "USD": D("1234.56")},
                      {"EUR": D("500.00"), "USD": D("987.648")}, "2026-04"),
        ForecastMonth(1, {"GBP": D("50.00")}, {"GBP": D("10.00")}, "2026-05"),
        ForecastMonth(1, {"EUR": D("300.00")}, {"EUR": D("240.00")}, None),
    ]  # fmt: skip


def test_a_stage_no_longer_configured_is_listed_after_the_configured_ones() -> None:
    # Given stages reconfigured to "qualification" (30 %) and "closing" (90 %), and d1 (in
    # proposal, entered at 50 %) and d2 (won)
    stages = Stages(open_stages=(Stage(name="qualification", probability=30),
                                 Stage(name="closing", probability=90)))  # fmt: skip
    # When
    answer = report(ROWS[:2], stages)
    # Then proposal is shown with no probability, its deal weighted as it entered it
    assert [(s.stage, s.probability, s.count, s.weighted_amount) for s in answer.stages] == [
        ("qualification", 30, 0, {}), ("closing", 90, 0, {}),
        ("proposal", None, 1, {"EUR": D("500.00")}), ("won", 100, 1, {"EUR": D("2000.00")}),
        ("lost", 0, 0, {}),
    ]  # fmt: skip
    # And conversion steps through the configured stages only
    assert answer.conversion == [
        Conversion("qualification", "closing", 2, 1, 0.5),
        Conversion("closing", "won", 1, 1, 1.0),
    ]


def test_no_deals_give_zeros_and_no_rates() -> None:
    answer = report([], DEFAULT_STAGES)
    assert answer.open == Tally(0, {}, {})
    assert {c.rate for c in answer.conversion} == {None}
    assert (answer.win_rate, answer.lost_reasons, answer.forecast) == (WinRate(0, 0, None), [], [])
