"""Business time: elapsed business time and due instants, against hand-computed answers and
against a minute-by-minute count of the definition (the wall clock within the window)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.business_time import WEEKDAYS, BusinessHours, Weekday, due, elapsed

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS_ONLY = (Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI)
OFFICE = BusinessHours(
    timezone="Europe/Paris",
    days=WEEKDAYS_ONLY,
    start=time(9),
    end=time(18),
    holidays=(date(2026, 12, 25),),
)
EVERY_DAY = OFFICE.model_copy(update={"days": tuple(Weekday), "holidays": ()})


def paris(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=PARIS)  # type: ignore[misc]


def hours(span: timedelta) -> float:
    return span / timedelta(hours=1)


def test_a_ticket_opened_after_hours_runs_from_the_next_opening() -> None:
    # Given a ticket opened on Tuesday at 20:00, after closing
    opened = paris(2026, 6, 16, 20)
    # When a one-hour target is due / Then it is Wednesday 10:00, and nothing ran overnight
    assert due(OFFICE, opened, 60) == paris(2026, 6, 17, 10)
    assert elapsed(OFFICE, opened, paris(2026, 6, 17, 9)) == timedelta(0)


def test_a_ticket_opened_before_opening_runs_from_the_opening() -> None:
    assert due(OFFICE, paris(2026, 6, 16, 7, 12), 90) == paris(2026, 6, 16, 10, 30)


def test_weekends_do_not_count() -> None:
    # Given a ticket opened on Friday at 17:30
    opened = paris(2026, 6, 19, 17, 30)
    # Then a one-hour target falls due on Monday 09:30
    assert due(OFFICE, opened, 60) == paris(2026, 6, 22, 9, 30)
    assert elapsed(OFFICE, opened, paris(2026, 6, 22, 12)) == timedelta(hours=3.5)


def test_holidays_do_not_count_even_when_the_ticket_is_opened_on_one() -> None:
    # Given Christmas (a Friday) is a holiday
    # When a ticket is opened on Christmas Eve at 17:00 with a two-hour target
    # Then the clock skips Christmas and the weekend
    assert due(OFFICE, paris(2026, 12, 24, 17), 120) == paris(2026, 12, 28, 10)
    # And a ticket opened on Christmas day starts on Monday
    assert due(OFFICE, paris(2026, 12, 25, 11), 30) == paris(2026, 12, 28, 9, 30)
    assert elapsed(OFFICE, paris(2026, 12, 24, 9), paris(2026, 12, 29, 9)) == timedelta(hours=18)


def test_a_target_can_span_several_days_and_windows_end_exclusively() -> None:
    # Given three business days (27 hours) from Monday 09:00
    # Then the target is reached at Wednesday 18:00 sharp, not Thursday
    assert due(OFFICE, paris(2026, 6, 15, 9), 27 * 60) == paris(2026, 6, 17, 18)
    assert due(OFFICE, paris(2026, 6, 15, 9), 27 * 60 + 1) == paris(2026, 6, 18, 9, 1)


def test_spring_forward_keeps_a_nine_hour_day() -> None:
    # Given a business open every day; Paris moves to summer time on Sunday 29 March 2026
    sunday = (paris(2026, 3, 29, 0), paris(2026, 3, 30, 0))
    # Then 09:00-18:00 that Sunday is nine hours, and a target crosses into it by wall clock
    assert elapsed(EVERY_DAY, *sunday) == timedelta(hours=9)
    assert due(EVERY_DAY, paris(2026, 3, 28, 17), 120) == paris(2026, 3, 29, 10)
    assert due(EVERY_DAY, paris(2026, 3, 28, 17), 120).astimezone(UTC).hour == 8


def test_fall_back_keeps_a_nine_hour_day() -> None:
    # Given Paris moves back to winter time on Sunday 25 October 2026
    sunday = (paris(2026, 10, 25, 0), paris(2026, 10, 26, 0))
    assert elapsed(EVERY_DAY, *sunday) == timedelta(hours=9)
    assert due(EVERY_DAY, paris(2026, 10, 24, 17), 120).astimezone(UTC) == datetime(
        2026, 10, 25, 9, tzinfo=UTC
    )


def test_a_window_in_the_gap_or_the_fold_counts_the_hours_that_happen() -> None:
    # Given a night window 02:00-03:00, every day
    night = EVERY_DAY.model_copy(update={"start": time(2), "end": time(3)})
    # Then the spring change day has no such hour, the autumn one has it twice
    spring = elapsed(night, paris(2026, 3, 29, 0), paris(2026, 3, 29, 12))
    autumn = elapsed(night, paris(2026, 10, 25, 0), paris(2026, 10, 25, 12))
    assert (hours(spring), hours(autumn)) == (0, 2)
    # And a window 01:00-04:00 is two hours in spring, four in autumn
    early = night.model_copy(update={"start": time(1), "end": time(4)})
    assert hours(elapsed(early, paris(2026, 3, 29, 0), paris(2026, 3, 29, 12))) == 2
    assert hours(elapsed(early, paris(2026, 10, 25, 0), paris(2026, 10, 25, 12))) == 4


def test_the_clock_stops_while_paused_even_over_a_night() -> None:
    # Given a ticket opened on Monday 10:00, pending from 17:00 to Tuesday 11:00
    opened = paris(2026, 6, 15, 10)
    pauses = [(paris(2026, 6, 15, 17), paris(2026, 6, 16, 11))]
    # Then an eight-hour target takes Monday's seven hours and one from Tuesday 11:00
    assert due(OFFICE, opened, 8 * 60, pauses) == paris(2026, 6, 16, 12)
    assert elapsed(OFFICE, opened, paris(2026, 6, 16, 12), pauses) == timedelta(hours=8)
    # And a pause not yet over at the end stops the clock up to the end
    assert elapsed(OFFICE, opened, paris(2026, 6, 16, 10), pauses) == timedelta(hours=7)


def test_round_the_clock_counts_every_minute_but_the_pauses() -> None:
    opened = datetime(2026, 6, 13, 23, 30, tzinfo=UTC)  # a Saturday night
    pause = (datetime(2026, 6, 14, 0, 0, tzinfo=UTC), datetime(2026, 6, 14, 1, 0, tzinfo=UTC))
    assert due(None, opened, 90) == datetime(2026, 6, 14, 1, 0, tzinfo=UTC)
    assert due(None, opened, 90, [pause]) == datetime(2026, 6, 14, 2, 0, tzinfo=UTC)
    assert elapsed(None, opened, opened + timedelta(hours=3), [pause]) == timedelta(hours=2)


ZONES = ("Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")


@st.composite
def business_hours(draw: st.DrawFn) -> BusinessHours | None:
    """Round the clock, or a window of whole quarter hours on some days, with holidays."""
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    opens = draw(st.integers(0, 95))
    closes = draw(st.integers(opens + 1, 96))
    return BusinessHours(
        timezone=draw(st.sampled_from(ZONES)),
        days=tuple(draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1))),
        start=time(opens // 4, opens % 4 * 15),
        end=time(23, 59) if closes == 96 else time(closes // 4, closes % 4 * 15),
        holidays=tuple(draw(st.lists(st.dates(date(2026, 1, 1), date(2026, 12, 31))))),
    )


instants = st.datetimes(datetime(2025, 12, 1), datetime(2027, 1, 31), timezones=st.just(UTC)).map(
    lambda at: at.replace(microsecond=at.microsecond // 1000 * 1000)
)


@st.composite
def pauses(draw: st.DrawFn, start: datetime) -> list[tuple[datetime, datetime]]:
    spans = draw(st.lists(st.tuples(st.integers(-600, 20_000), st.integers(1, 5_000)), max_size=3))
    return [
        (start + timedelta(minutes=after), start + timedelta(minutes=after + length))
        for after, length in spans
    ]


@settings(max_examples=300, deadline=None)
@given(business_hours(), instants, st.integers(0, 20_000), st.data())
def test_elapsed_until_due_is_the_target(
    hours: BusinessHours | None, start: datetime, minutes: int, data: st.DataObject
) -> None:
    paused = data.draw(pauses(start))
    assert elapsed(hours, start, due(hours, start, minutes, paused), paused) == timedelta(
        minutes=minutes
    )


def _counted_minutes(hours: BusinessHours, start: datetime, end: datetime) -> int:
    """The definition, minute by minute: the wall clock within the window on a business day."""
    zone, counted, at = ZoneInfo(hours.timezone), 0, start
    while at < end:
        local = at.astimezone(zone)
        counted += (
            WEEKDAYS[local.weekday()] in hours.days
            and local.date() not in hours.holidays
            and hours.start <= local.time() < hours.end
        )
        at += timedelta(minutes=1)
    return counted


CHANGES = [datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 10, 24, tzinfo=UTC)]
"""Days before Europe's daylight-saving changes (New York's are earlier: 8 March, 1 November)."""


@settings(max_examples=60, deadline=None)
@given(
    business_hours().filter(lambda h: h is not None),
    st.sampled_from(
        [*CHANGES, datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC)]
    ),
    st.integers(0, 24 * 60),
    st.integers(0, 3 * 24 * 60),
)
def test_elapsed_equals_the_definition_around_daylight_saving_changes(
    hours: BusinessHours, day: datetime, offset: int, length: int
) -> None:
    start = day + timedelta(minutes=offset)
    end = start + timedelta(minutes=length)
    assert elapsed(hours, start, end) == timedelta(minutes=_counted_minutes(hours, start, end))
