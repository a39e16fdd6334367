"""The customer 360 view as it stood at a business time, or as recorded by a time."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from projections.customer_360 import queries
from tests.unit.test_customer_360_evolve import purchase, registered


def at(day: int) -> datetime:
    return datetime(2026, 3, day, 12, tzinfo=UTC)


def history() -> list:
    """Registered on 1 March; a purchase of 5 March; one of 3 March recorded on 9 March."""
    events = [registered(1), purchase("10.00", 5), purchase("2.50", 3)]
    return [*events[:2], replace(events[2], recorded_at=at(9))]


def test_as_of_a_business_time_counts_a_purchase_recorded_later_but_occurred_before() -> None:
    # Given a purchase imported on 9 March that occurred on 3 March
    events = history()
    # When the view is asked as of 4 March (business time)
    view = queries.as_of(events, at(4))
    # Then it holds that purchase (the system knows now that it had happened)
    assert view is not None
    assert (view["purchases"]["count"], view["purchases"]["total"]) == (1, Decimal("2.50"))


def test_as_of_recorded_leaves_out_what_was_recorded_later_whenever_it_occurred() -> None:
    # Given the same history
    events = history()
    # When the view is asked as recorded by 6 March, by 9 March, and before the registration
    by_6th, by_9th = (queries.as_of(events, recorded=at(day)) for day in (6, 9))
    # Then on 6 March only the purchase of 5 March was known; on 9 March both were
    assert by_6th is not None and by_9th is not None
    assert (by_6th["purchases"]["count"], by_6th["purchases"]["first_at"]) == (1, at(5))
    assert (by_9th["purchases"]["count"], by_9th["purchases"]["first_at"]) == (2, at(3))
    assert queries.as_of(events, recorded=datetime(2026, 2, 1, tzinfo=UTC)) is None


def test_both_clocks_together_bound_both() -> None:
    # Given the same history
    events = history()
    # When asked as of 4 March (business) as recorded by 6 March
    view = queries.as_of(events, at(4), at(6))
    # Then neither purchase counts: one had not occurred, the other was not recorded
    assert view is not None and view["purchases"]["count"] == 0
