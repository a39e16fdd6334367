"""Business time: how much of a span counts against a service target, and when a target of
so many business minutes falls due.

An instant is business time when the wall clock of the business's time zone reads within
[start, end) on a business day (a listed weekday that is not a holiday). That definition
settles daylight-saving changes: 09:00-18:00 stays 9 hours on both change days, a window in
the spring gap loses the hour that never happens, one in the autumn fold counts the hour
that happens twice. No business hours (None) means round the clock.

Instants are integers, microseconds since the Unix epoch (UTC), so that the arithmetic is
exact; `BusinessClock` reads business time for many instants at once (numpy arrays).
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from domain.values import Value

if TYPE_CHECKING:  # numpy is imported by the clock's methods: a third of a second of CPU
    # that every process would pay for business hours, a value its events hold
    import numpy as np
    import numpy.typing as npt

    Instants = npt.NDArray[np.int64]

EPOCH = datetime(1970, 1, 1)
MICROS = timedelta(microseconds=1)
MINUTE = 60_000_000
"""A minute in microseconds."""
SEARCH_DAYS = 64
"""Days of windows added at a time when a clock must reach further."""
MAX_DAYS = 366 * 30
"""How far a clock looks for business time before it gives up (no business day at all)."""

Pause = tuple[datetime, datetime]
"""A span during which the clock stops (a ticket pending on the customer)."""


class Weekday(StrEnum):
    """A day of the week, as business hours name it."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAYS = tuple(Weekday)
"""Monday first, as `date.weekday()` counts."""


class BusinessHours(Value):
    """When the business clock runs: [start, end) by the wall clock of `timezone` (an IANA
    name) on `days`, except on `holidays` (local dates)."""

    timezone: str
    days: tuple[Weekday, ...]
    start: time
    end: time
    holidays: tuple[date, ...] = ()


def micros(instant: datetime) -> int:
    """An aware datetime as microseconds since the epoch."""
    return (instant.astimezone(UTC).replace(tzinfo=None) - EPOCH) // MICROS


def moment(instant: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return (EPOCH + int(instant) * MICROS).replace(tzinfo=UTC)


class BusinessClock:
    """Business time as a nondecreasing function of instants: `reading(t)` is the business
    time (µs) from a fixed origin to t, `instant(r)` the earliest instant reading r. With
    business hours it knows the windows of a span of days, which `clock` chooses."""

    def __init__(self, windows: Sequence[tuple[int, int]] | None) -> None:
        """`windows`: the [start, end) instants of business time, in order; None: round the
        clock."""
        import numpy as np

        self._round_the_clock = windows is None
        if windows is not None:
            spans = np.array(windows or [(0, 0)], dtype=np.int64).reshape(-1, 2)
            self._starts = spans[:, 0]
            lengths = spans[:, 1] - spans[:, 0]
            self._lengths = lengths
            self._before = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
            self._through = self._before + lengths

    @property
    def total(self) -> int:
        """The business time of the whole span (business hours only)."""
        return int(self._through[-1])

    def reading(self, instants: "npt.ArrayLike") -> "Instants":
        """Business time from the origin to each instant (within the clock's span)."""
        import numpy as np

        at = np.asarray(instants, dtype=np.int64)
        if self._round_the_clock:
            return at
        window = np.maximum(np.searchsorted(self._starts, at, side="right") - 1, 0)
        into = np.clip(at - self._starts[window], 0, self._lengths[window])
        return self._before[window] + into

    def instant(self, readings: "npt.ArrayLike") -> "Instants":
        """The earliest instant at which the clock shows each reading (at most `total`)."""
        import numpy as np

        wanted = np.asarray(readings, dtype=np.int64)
        if self._round_the_clock:
            return wanted
        if wanted.size and int(wanted.max()) > int(self._through[-1]):
            raise ValueError("reading beyond the clock's span")
        window = np.searchsorted(self._through, wanted, side="left")
        return self._starts[window] + (wanted - self._before[window])


def clock(hours: BusinessHours | None, since: int, until: int, spare: int = 0) -> BusinessClock:
    """A clock that reads every instant in [since, until] and runs on for at least `spare`
    µs of business time after `until` (so that targets reached later fall within it)."""
    if hours is None:
        return BusinessClock(None)
    first = _local_date(hours, since) - timedelta(days=1)
    last = _local_date(hours, until) + timedelta(days=1)
    ticking = _days_clock(hours, first, last)
    while ticking.total - int(ticking.reading([until])[0]) < spare:
        if (last - first).days > MAX_DAYS:
            raise ValueError("business hours with no business time")
        last += timedelta(days=SEARCH_DAYS)
        ticking = _days_clock(hours, first, last)
    return ticking


@lru_cache(maxsize=1024)
def _days_clock(hours: BusinessHours, first: date, last: date) -> BusinessClock:
    """The clock of the business windows of the local dates `first` to `last`."""
    windows = [w for day in _days(first, last) for w in day_windows(hours, day)]
    return BusinessClock(windows)


def elapsed(
    hours: BusinessHours | None, start: datetime, end: datetime, pauses: Sequence[Pause] = ()
) -> timedelta:
    """Business time from `start` to `end`, less the paused spans."""
    spans = list(running(micros(start), micros(end), _micro_pauses(pauses)))
    if not spans:
        return timedelta(0)
    ticking = clock(hours, spans[0][0], spans[-1][1])
    readings = ticking.reading([at for span in spans for at in span]).reshape(-1, 2)
    return int((readings[:, 1] - readings[:, 0]).sum()) * MICROS


def due(
    hours: BusinessHours | None, start: datetime, minutes: int, pauses: Sequence[Pause] = ()
) -> datetime:
    """The instant at which `minutes` of business time have run since `start`, the clock
    stopped during the paused spans (which must end)."""
    target, begin = minutes * MINUTE, micros(start)
    paused = _micro_pauses(pauses)
    horizon = max([begin, *(resumed for _, resumed in paused)])
    ticking = clock(hours, begin, horizon, spare=target)
    used = 0
    for span_start, span_end in running(begin, horizon, paused):
        begun, ended = ticking.reading([span_start, span_end])
        length = int(ended - begun)
        if used + length >= target:
            return _first_reaching(ticking, span_start, target - used)
        used += length
    return _first_reaching(ticking, horizon, target - used)


def running(start: int, end: int, pauses: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """The spans of [start, end) outside every pause, in order."""
    at = start
    for paused, resumed in sorted(pauses):
        if paused > at:
            yield at, min(paused, end)
        at = max(at, resumed)
        if at >= end:
            return
    if at < end:
        yield at, end


def _first_reaching(ticking: BusinessClock, start: int, amount: int) -> datetime:
    """The earliest instant from `start` by which `amount` of business time has run."""
    reached = ticking.instant(ticking.reading([start]) + amount)
    return moment(max(start, int(reached[0])))


def _micro_pauses(pauses: Sequence[Pause]) -> list[tuple[int, int]]:
    return [(micros(paused), micros(resumed)) for paused, resumed in pauses]


def _days(first: date, last: date) -> Iterator[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def _local_date(hours: BusinessHours, instant: int) -> date:
    return moment(instant).astimezone(ZoneInfo(hours.timezone)).date()


@lru_cache(maxsize=65_536)
def day_windows(hours: BusinessHours, day: date) -> tuple[tuple[int, int], ...]:
    """The business spans of one local date, as UTC instants: the instants whose wall clock
    reads within [start, end) that day (two spans when the window holds an autumn fold)."""
    if WEEKDAYS[day.weekday()] not in hours.days or day in hours.holidays:
        return ()
    zone = ZoneInfo(hours.timezone)
    opens, closes = datetime.combine(day, hours.start), datetime.combine(day, hours.end)
    low = min(_utc(opens, zone, fold) for fold in (0, 1))
    high = max(_utc(closes, zone, fold) for fold in (0, 1))
    spans: list[tuple[int, int]] = []
    for piece_start, piece_end, offset in _steady_offsets(zone, low, high):
        start = max(piece_start, _naive_micros(opens - offset))
        end = min(piece_end, _naive_micros(closes - offset))
        if start < end and spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], end)
        elif start < end:
            spans.append((start, end))
    return tuple(spans)


def _naive_micros(utc: datetime) -> int:
    return (utc - EPOCH) // MICROS


def _utc(wall: datetime, zone: ZoneInfo, fold: int) -> int:
    """A naive wall-clock time of `zone` as an instant (`fold` picks one in a fold)."""
    return micros(wall.replace(tzinfo=zone, fold=fold))


def _offset(zone: ZoneInfo, second: int) -> timedelta:
    offset = moment(second * 1_000_000).astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset


def _steady_offsets(zone: ZoneInfo, low: int, high: int) -> Iterator[tuple[int, int, timedelta]]:
    """[low, high] cut where the zone's UTC offset changes (always on a whole second), as
    (start, end, offset) pieces."""
    second, last = low // 1_000_000, -(-high // 1_000_000)
    while (offset := _offset(zone, second)) != _offset(zone, last):
        before, after = second, last  # the offset changes in (before, after]
        while after - before > 1:
            middle = (before + after) // 2
            before, after = (middle, after) if _offset(zone, middle) == offset else (before, middle)
        yield max(low, second * 1_000_000), after * 1_000_000, offset
        second = after
    yield max(low, second * 1_000_000), high, offset
