"""Report periods: UTC days, ISO weeks (Monday to Sunday) and calendar months, as pure
functions of dates. A bucket is named by its first day."""

from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache


class Period(StrEnum):
    """The length of a report's buckets (PostgreSQL's `date_trunc` unit of the same name)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


DEFAULT_BUCKETS = {Period.DAY: 31, Period.WEEK: 13, Period.MONTH: 12}
"""How many buckets a report covers when it is given no `from`."""
MAX_BUCKETS = 1000
"""The most buckets one report answers."""


@lru_cache(maxsize=65_536)
def start_of(day: date, period: Period) -> date:
    """The first day of the bucket holding `day`."""
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return day


def shifted(start: date, period: Period, buckets: int) -> date:
    """The first day of the bucket `buckets` after (or, negative, before) the one at `start`."""
    if period is Period.MONTH:
        months = start.year * 12 + start.month - 1 + buckets
        return date(months // 12, months % 12 + 1, 1)
    return start + timedelta(days=buckets * (7 if period is Period.WEEK else 1))


def last_day(start: date, period: Period) -> date:
    """The last day of the bucket starting on `start`."""
    return shifted(start, period, 1) - timedelta(days=1)


def starts(first: date, last: date, period: Period) -> list[date]:
    """The first days of the buckets holding every day from `first` to `last`, in order."""
    found, start = [], start_of(first, period)
    while start <= last:
        found.append(start)
        start = shifted(start, period, 1)
    return found


def default_first(last: date, period: Period) -> date:
    """The first day of a report ending on `last` and given no start: DEFAULT_BUCKETS
    whole buckets, the last one holding `last`."""
    return shifted(start_of(last, period), period, 1 - DEFAULT_BUCKETS[period])


def count(first: date, last: date, period: Period) -> int:
    """How many buckets hold the days from `first` to `last` (0 if `last` is before)."""
    if last < first:
        return 0
    a, b = start_of(first, period), start_of(last, period)
    if period is Period.MONTH:
        return (b.year - a.year) * 12 + b.month - a.month + 1
    return (b - a).days // (7 if period is Period.WEEK else 1) + 1


def whole_buckets(
    first: date | None, last: date | None, period: Period, today: date
) -> tuple[date, date]:
    """The first and last days of a report asked for days `first` to `last`, widened to
    whole buckets; `last` defaults to `today`, and `first` to DEFAULT_BUCKETS buckets."""
    last = last or today
    first = first or default_first(last, period)
    return start_of(first, period), last_day(start_of(last, period), period)
