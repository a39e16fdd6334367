"""SLA compliance by period and priority, measured at query time like the ticket list.

Tickets are grouped by the UTC day, ISO week (from Monday) or month they were opened in, and
by priority. For each target, `met` and `breached` count the tickets whose fate is decided
(a running ticket past its due time is breached already); `compliance` is met over decided
(None when none is). `median_seconds` is the median business time to the first agent reply,
over the tickets that got one; `resolution_rate` the share of the tickets solved or closed.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from psycopg import Connection

from domain.business_time import micros
from projections.sla.measure import BREACHED, MET, PRIORITIES, SOLVED, Measures, measure
from projections.sla.policies import policies
from projections.sla.ticket_clocks import TicketRun, ticket_run
from projections.sla.tickets import LONGEST_RUN

PERIODS = ("day", "week", "month")
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Facts:
    """What the summary counts, one entry per measured ticket."""

    bucket: Ints
    response_state: Ints
    response_elapsed: Ints
    responded: npt.NDArray[np.bool_]
    resolution_state: Ints
    settled: npt.NDArray[np.bool_]

    @staticmethod
    def joined(parts: list["_Facts"]) -> "_Facts":
        return _Facts(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


_FIELDS = (
    "bucket",
    "response_state",
    "response_elapsed",
    "responded",
    "resolution_state",
    "settled",
)


def sla_summary(
    conn: Connection[Any],
    as_of: datetime,
    period: str,
    since: datetime,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per period (of opening, from `since` to `until` if given, both included) and priority:
    tickets, both targets' compliance, the median first response and the resolution rate, as
    of `as_of`; oldest first."""
    conn.execute("SET LOCAL jit = off")
    known = policies(conn)
    instant, after, parts = micros(as_of), None, []
    first, last = micros(since), None if until is None else micros(until)
    while known:
        run = ticket_run(conn, known, None, instant, after, LONGEST_RUN, first, until=last)
        if len(run):
            parts.append(_facts(run, measure(run.clocks, known, instant), period, instant))
        if len(run) < LONGEST_RUN:
            break
        after = run.ticket_id(len(run) - 1)
    return _buckets(_Facts.joined(parts)) if parts else []


def _facts(run: TicketRun, measured: Measures, period: str, instant: int) -> _Facts:
    shown = measured.version > 0
    opened = measured.opened[shown].astype("datetime64[us]").astype("datetime64[D]")
    start = _period_start(opened, period).astype(np.int64)
    return _Facts(
        bucket=start * len(PRIORITIES) + run.clocks.priority[shown],
        response_state=measured.first_response.state[shown],
        response_elapsed=measured.first_response.elapsed[shown],
        responded=run.clocks.first_response[shown] <= instant,
        resolution_state=measured.resolution.state[shown],
        settled=measured.status[shown] >= SOLVED,
    )


def _period_start(days: npt.NDArray[np.datetime64], period: str) -> npt.NDArray[np.datetime64]:
    if period == "day":
        return days
    if period == "week":  # 1970-01-01 was a Thursday: day 0 is 3 days after a Monday
        number = days.astype(np.int64)
        return (number - (number + 3) % 7).astype("datetime64[D]")
    return days.astype("datetime64[M]").astype("datetime64[D]")


def _buckets(facts: _Facts) -> list[dict[str, Any]]:
    keys, group = np.unique(facts.bucket, return_inverse=True)
    count = np.bincount(group, minlength=len(keys))
    settled = np.bincount(group, weights=facts.settled, minlength=len(keys))
    medians = _medians(group[facts.responded], facts.response_elapsed[facts.responded], len(keys))
    response = _outcomes(group, facts.response_state, len(keys))
    resolution = _outcomes(group, facts.resolution_state, len(keys))
    return [
        {
            "start": date.fromordinal(date(1970, 1, 1).toordinal() + int(key) // len(PRIORITIES)),
            "priority": PRIORITIES[int(key) % len(PRIORITIES)].value,
            "tickets": int(count[i]),
            "first_response": response[i] | {"median_seconds": medians[i]},
            "resolution": resolution[i],
            "resolution_rate": round(float(settled[i] / count[i]), 4),
        }
        for i, key in enumerate(keys)
    ]


def _outcomes(group: Ints, state: Ints, size: int) -> list[dict[str, Any]]:
    met = np.bincount(group, weights=state == MET, minlength=size).astype(np.int64)
    breached = np.bincount(group, weights=state == BREACHED, minlength=size).astype(np.int64)
    return [
        {
            "met": int(m),
            "breached": int(b),
            "compliance": round(m / (m + b), 4) if m + b else None,
        }
        for m, b in zip(met, breached, strict=True)
    ]


def _medians(group: Ints, values: Ints, size: int) -> list[float | None]:
    """The median of `values` in each group (None for an empty one), in seconds."""
    order = np.lexsort((values, group))
    grouped, ranked = group[order], values[order]
    low, high = (
        np.searchsorted(grouped, np.arange(size)),
        np.searchsorted(grouped, np.arange(size), side="right"),
    )
    return [
        (int(ranked[lo + (hi - lo - 1) // 2]) + int(ranked[lo + (hi - lo) // 2])) / 2_000_000
        if hi > lo
        else None
        for lo, hi in zip(low, high, strict=True)
    ]
