"""Distinct buyers per report bucket as additive counts, exact as of any business time and
any recording time.

For one customer, one bucket (a day, week or month) and one currency (or all of them),
take the purchases in the bucket as points (occurred_at, recorded_at). The customer counts
in a report as of (A, R) if a point has occurred_at <= A and recorded_at <= R. Read in
recording order, the earliest occurred_at known drops in steps (o1, r1), (o2, r2)...
(o falling, r rising), and the customer counts if a step is at or below (A, R). That
indicator is a sum: +1 at each step (o_i, r_i), and -1 at (o_{i-1}, r_i), where the
earliest purchase moved from o_{i-1} to o_i. Such marks add up over customers, so the
counts of whole days are sums of a table (`purchases_buyers`), and only the days holding
A or R need the marks of the customers with a purchase on them.

A customer counted in a bucket is returning if a purchase known at R occurred before the
bucket began (any currency); given the count, that holds if R >= s, the earliest
recording of such a purchase: the same steps over the points (o, max(r, s)).
"""

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import NamedTuple

from projections.purchases.periods import Period, start_of

ALL = ""
"""The currency of the counts over every currency."""
Point = tuple[datetime, datetime]
"""A purchase's (occurred_at, recorded_at)."""


@dataclass(frozen=True)
class Bought:
    """What the counts need of one purchase."""

    occurred_at: datetime
    recorded_at: datetime
    currency: str


class Mark(NamedTuple):
    """Where a count changes: a bucket (and currency), at a business time and a recording
    time; `returning` says which of the two counts."""

    period: Period
    bucket: date
    currency: str
    occurred_at: datetime
    recorded_at: datetime
    returning: bool


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=65_536)
def utc_day(moment: datetime) -> date:
    """The UTC date of an instant."""
    return EPOCH.date() + timedelta(days=(moment - EPOCH).days)


def steps(points: Iterable[Point]) -> Iterator[tuple[Point, int]]:
    """The signed marks of a set of points: +1 where the earliest occurred_at known (in
    recording order) drops, -1 at the one it dropped from, at the same recording time."""
    low: datetime | None = None
    for occurred, recorded in sorted(points, key=lambda p: (p[1], p[0])):
        if low is None or occurred < low:
            yield (occurred, recorded), 1
            if low is not None:
                yield (low, recorded), -1
            low = occurred


def marks(
    bought: Sequence[Bought],
    periods: Iterable[Period] = tuple(Period),
    starts: Mapping[Period, Container[date]] | None = None,
) -> Counter[Mark]:
    """One customer's marks, with their signs summed (zeros kept out); `starts`: only those
    of the buckets starting on these days, by period."""
    found: Counter[Mark] = Counter()
    earliest = _earliest_recorded_before(bought)
    days = [(utc_day(each.occurred_at), (each.occurred_at, each.recorded_at)) for each in bought]
    for period in periods:
        groups: dict[tuple[date, str], list[Point]] = defaultdict(list)
        kept = None if starts is None else starts[period]
        if kept is not None and not kept:
            continue
        for each, (day, point) in zip(bought, days, strict=True):
            start = start_of(day, period)
            if kept is not None and start not in kept:
                continue
            groups[start, each.currency].append(point)
            groups[start, ALL].append(point)
        for (start, currency), points in groups.items():
            for (o, r), sign in steps(points):
                found[Mark(period, start, currency, o, r, False)] += sign
            known = earliest(_midnight(start))
            if known is not None:
                for (o, r), sign in steps((o, max(r, known)) for o, r in points):
                    found[Mark(period, start, currency, o, r, True)] += sign
    return Counter({mark: sign for mark, sign in found.items() if sign})


def _earliest_recorded_before(bought: Sequence[Bought]) -> Callable[[datetime], datetime | None]:
    """The earliest recording of a purchase that occurred before an instant, if any."""
    ordered = sorted(bought, key=lambda b: b.occurred_at)
    times = [b.occurred_at for b in ordered]
    earliest = list(accumulate((b.recorded_at for b in ordered), min))

    def before(moment: datetime) -> datetime | None:
        count = bisect_left(times, moment)
        return earliest[count - 1] if count else None

    return before


def changes(before: Sequence[Bought], added: Sequence[Bought]) -> Counter[Mark]:
    """What a customer's marks become once `added` joins `before`, minus what they were
    (zeros kept out). Only the buckets that can differ are folded: those holding a purchase
    added, unless it comes after the others (`_touched`), and those whose earliest recording
    of a purchase before them moved."""
    if not added:
        return Counter()
    after = [*before, *added]
    earlier = _earliest_moved(before, after, added)
    starts = {period: kept | earlier(period) for period, kept in _touched(before, added).items()}
    if not any(starts.values()):
        return Counter()
    found = marks(after, Period, starts)
    found.subtract(marks(before, Period, starts))
    return Counter({mark: sign for mark, sign in found.items() if sign})


def _touched(before: Sequence[Bought], added: Sequence[Bought]) -> dict[Period, set[date]]:
    """The buckets of each period holding a purchase added, but for those it leaves
    with the same steps: a purchase recorded after every other, that occurred after another
    of its bucket and currency (so after the earliest of all currencies too), does not
    lower the earliest known at any time."""
    latest = max((each.recorded_at for each in before), default=None)
    occurred: dict[str, list[datetime]] = defaultdict(list)
    for each in before:
        occurred[each.currency].append(each.occurred_at)
    for times in occurred.values():
        times.sort()
    touched: dict[Period, set[date]] = {period: set() for period in Period}
    for each in added:
        previous = None  # the latest purchase before of its currency, that occurred before it
        if latest is not None and each.recorded_at >= latest:
            times = occurred.get(each.currency, [])
            at = bisect_right(times, each.occurred_at)
            previous = times[at - 1] if at else None
        day = utc_day(each.occurred_at)
        for period, starts in touched.items():
            start = start_of(day, period)
            if previous is None or previous < _midnight(start):
                starts.add(start)
    return touched


def _earliest_moved(
    before: Sequence[Bought], after: Sequence[Bought], added: Sequence[Bought]
) -> Callable[[Period], set[date]]:
    """The buckets of a period whose earliest recording of a purchase before them moved:
    none when each purchase added was recorded after, and occurred after, one before."""
    latest = max((each.recorded_at for each in before), default=None)
    lowest = min((each.occurred_at for each in before), default=None)
    if (
        latest is not None
        and lowest is not None
        and all(each.recorded_at >= latest and each.occurred_at >= lowest for each in added)
    ):
        return lambda period: set()
    first = min(utc_day(each.occurred_at) for each in added)
    # the buckets of earlier days have the same purchases before them
    held = {day for each in (*before, *after) if (day := utc_day(each.occurred_at)) > first}
    was, now = _earliest_recorded_before(before), _earliest_recorded_before(after)
    return lambda period: {
        start
        for start in {start_of(day, period) for day in held}
        if was(_midnight(start)) != now(_midnight(start))
    }


@lru_cache(maxsize=65_536)
def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)
