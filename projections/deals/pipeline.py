"""The sales pipeline report: a pure function of deals rows and the configured stages.

- Amounts are exact and never summed across currencies: every amount is a map by currency.
  A deal's weighted amount is its amount times the win probability of its stage as the deal
  entered it (the deals row's `probability`: a later configuration change rewrites no
  forecast); won deals weigh 100 %, lost ones 0 %.
- Stage lines: the configured open stages in order, then any stage deals are in that is no
  longer configured (by name, `probability` null), then won and lost. Each counts the deals
  in the stage and averages, in days, the completed stays in it (entered and left: stays
  still running are not counted, so the answer needs no clock).
- Conversion, between consecutive open stages and from the last one to won: of the deals
  that reached a stage, the share that reached the next one. A deal reached every stage up
  to the furthest it ever entered (a skipped stage counts as reached; won is beyond every
  open stage; lost and unconfigured stages are on no step).
- Win rate: won / (won + lost), over the deals' current status. Ratios are rounded to 4
  places, days to 2; a ratio of nothing is null.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from typing import TypeVar

from domain.deal import OPEN
from domain.pipeline import CLOSED, LOST, WON, Stages
from projections.projection import Row

TOP_LOST_REASONS = 10
SECONDS_PER_DAY = 86_400
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Tally:
    """Deals counted, with their amounts and weighted amounts by currency."""

    count: int
    amount: dict[str, Decimal]
    weighted_amount: dict[str, Decimal]


@dataclass(frozen=True)
class StageLine(Tally):
    """The deals in a stage, and how long deals stayed in it (completed stays, in days)."""

    stage: str
    probability: int | None
    closed: bool
    completed_stays: int
    average_days_in_stage: float | None


@dataclass(frozen=True)
class Conversion:
    """Of the deals that reached `from_stage`, how many reached `to_stage`, and the share."""

    from_stage: str
    to_stage: str
    reached: int
    advanced: int
    rate: float | None


@dataclass(frozen=True)
class WinRate:
    """Closed deals: won / (won + lost)."""

    won: int
    lost: int
    rate: float | None


@dataclass(frozen=True)
class LostReason:
    """A reason deals were lost for, and how many."""

    reason: str
    count: int


@dataclass(frozen=True)
class ForecastMonth(Tally):
    """The open deals expected to close in a month (`YYYY-MM`; null: no date given)."""

    month: str | None


@dataclass(frozen=True)
class Pipeline:
    """The sales pipeline over a set of deals."""

    stages: list[StageLine]
    open: Tally
    conversion: list[Conversion]
    win_rate: WinRate
    lost_reasons: list[LostReason]
    forecast: list[ForecastMonth]


def report(rows: Sequence[Row], stages: Stages) -> Pipeline:
    """The pipeline of the deals `rows` (stage, status, probability, amount, currency,
    expected_close_date, lost_reason, stage_history), with the configured `stages`."""
    open_deals = [row for row in rows if row["status"] == OPEN]
    return Pipeline(
        stages=_stage_lines(rows, stages),
        open=tally(open_deals),
        conversion=_conversion(rows, stages),
        win_rate=_win_rate(rows),
        lost_reasons=_lost_reasons(rows),
        forecast=_forecast(open_deals),
    )


def tally(rows: Iterable[Row]) -> Tally:
    """The count, amounts and weighted amounts of deals, by currency."""
    count = 0
    amount: defaultdict[str, Decimal] = defaultdict(Decimal)
    weighted: defaultdict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        count += 1
        amount[row["currency"]] += row["amount"]
        weighted[row["currency"]] += row["amount"] * row["probability"] / 100
    return Tally(count, dict(sorted(amount.items())), dict(sorted(weighted.items())))


def _stage_lines(rows: Sequence[Row], stages: Stages) -> list[StageLine]:
    probabilities = {stage.name: stage.probability for stage in stages.all_stages()}
    unconfigured = sorted({row["stage"] for row in rows} - probabilities.keys())
    names = [*(stage.name for stage in stages.open_stages), *unconfigured, WON, LOST]
    in_stage = _grouped(rows, lambda row: row["stage"])
    days = _completed_stays(rows)
    return [
        StageLine(
            **_fields(tally(in_stage.get(name, []))),
            stage=name,
            probability=probabilities.get(name),
            closed=name in CLOSED,
            completed_stays=len(days[name]),
            average_days_in_stage=_mean(days[name]),
        )
        for name in names
    ]


def _completed_stays(rows: Iterable[Row]) -> defaultdict[str, list[float]]:
    """The length in days of every stay that ended, by stage."""
    days: defaultdict[str, list[float]] = defaultdict(list)
    for row in rows:
        for stay in row["stage_history"]:
            if stay["left_at"] is not None:
                days[stay["stage"]].append(_days(stay["entered_at"], stay["left_at"]))
    return days


def _conversion(rows: Iterable[Row], stages: Stages) -> list[Conversion]:
    steps = [*(stage.name for stage in stages.open_stages), WON]
    rank = {name: i for i, name in enumerate(steps)}
    furthest = [
        max((rank.get(stay["stage"], -1) for stay in row["stage_history"]), default=-1)
        for row in rows
    ]
    reached = [sum(f >= i for f in furthest) for i in range(len(steps))]
    return [
        Conversion(a, b, reached[i], reached[i + 1], _ratio(reached[i + 1], reached[i]))
        for i, (a, b) in enumerate(pairwise(steps))
    ]


def _win_rate(rows: Iterable[Row]) -> WinRate:
    statuses = Counter(row["status"] for row in rows)
    won, lost = statuses[WON], statuses[LOST]
    return WinRate(won, lost, _ratio(won, won + lost))


def _lost_reasons(rows: Iterable[Row]) -> list[LostReason]:
    reasons = Counter(row["lost_reason"] for row in rows if row["status"] == LOST)
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    return [LostReason(reason, count) for reason, count in ranked[:TOP_LOST_REASONS]]


def _forecast(open_deals: Iterable[Row]) -> list[ForecastMonth]:
    by_month = _grouped(
        open_deals,
        lambda row: close.strftime("%Y-%m") if (close := row["expected_close_date"]) else None,
    )
    months = sorted(by_month, key=lambda month: (month is None, month or ""))
    return [ForecastMonth(**_fields(tally(by_month[m])), month=m) for m in months]


def _grouped(rows: Iterable[Row], by: Callable[[Row], K]) -> dict[K, list[Row]]:
    groups: dict[K, list[Row]] = {}
    for row in rows:
        groups.setdefault(by(row), []).append(row)
    return groups


def _fields(found: Tally) -> dict[str, object]:
    return {field.name: getattr(found, field.name) for field in fields(Tally)}


def _days(start: str, end: str) -> float:
    spent = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return spent.total_seconds() / SECONDS_PER_DAY


def _mean(days: list[float]) -> float | None:
    return round(math.fsum(days) / len(days), 2) if days else None


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
