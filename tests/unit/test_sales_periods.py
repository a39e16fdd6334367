"""Report periods: UTC days, ISO weeks from Monday, calendar months."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from projections.purchases.periods import (
    Period,
    count,
    last_day,
    shifted,
    start_of,
    starts,
    whole_buckets,
)


def test_a_week_starts_on_monday_even_across_the_new_year() -> None:
    # Given Wednesday 7 January 2026 and Sunday 4 January 2026 (1 January was a Thursday)
    # When / Then
    assert start_of(date(2026, 1, 7), Period.WEEK) == date(2026, 1, 5)
    assert start_of(date(2026, 1, 4), Period.WEEK) == date(2025, 12, 29)
    assert last_day(date(2025, 12, 29), Period.WEEK) == date(2026, 1, 4)


def test_months_start_on_the_first_and_end_on_their_last_day() -> None:
    assert start_of(date(2026, 2, 17), Period.MONTH) == date(2026, 2, 1)
    assert last_day(date(2024, 2, 1), Period.MONTH) == date(2024, 2, 29)
    assert shifted(date(2026, 11, 1), Period.MONTH, 3) == date(2027, 2, 1)
    assert shifted(date(2026, 1, 1), Period.MONTH, -1) == date(2025, 12, 1)


def test_buckets_cover_every_day_asked_for() -> None:
    # Given a range from a month's end to another month's start
    # When / Then
    assert starts(date(2026, 1, 30), date(2026, 3, 2), Period.MONTH) == [
        date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1),
    ]  # fmt: skip
    assert starts(date(2025, 12, 31), date(2026, 1, 5), Period.WEEK) == [
        date(2025, 12, 29), date(2026, 1, 5),
    ]  # fmt: skip
    assert starts(date(2026, 3, 2), date(2026, 3, 1), Period.DAY) == []


def test_a_report_is_widened_to_whole_buckets_and_has_defaults() -> None:
    # Given Wednesday 7 January 2026 as today
    today = date(2026, 1, 7)
    # When / Then: 13 whole weeks ending with this one; 31 days; 12 months
    assert whole_buckets(None, None, Period.WEEK, today) == (date(2025, 10, 13), date(2026, 1, 11))
    assert whole_buckets(None, None, Period.DAY, today) == (date(2025, 12, 8), today)
    assert whole_buckets(None, None, Period.MONTH, today) == (date(2025, 2, 1), date(2026, 1, 31))
    # and a range asked for is widened to the months holding its days
    asked = whole_buckets(date(2026, 1, 15), date(2026, 3, 2), Period.MONTH, today)
    assert asked == (date(2026, 1, 1), date(2026, 3, 31))


days = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


@given(days, st.integers(0, 800), st.sampled_from(Period))
def test_count_is_the_number_of_buckets_and_each_holds_its_days(first, length, period) -> None:
    # Given a range of days
    last = date.fromordinal(first.toordinal() + length)
    # When it is cut into buckets
    found = starts(first, last, period)
    # Then count says how many, and consecutive buckets meet
    assert count(first, last, period) == len(found)
    assert found[0] <= first and last_day(found[-1], period) >= last
    for a, b in zip(found, found[1:], strict=False):
        assert date.fromordinal(last_day(a, period).toordinal() + 1) == b
        assert start_of(b, period) == b
