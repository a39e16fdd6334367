"""The buyer marks a batch adds (projections/purchases/buyers.py): folding only the buckets
that can change gives the same difference as folding every bucket before and after."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from projections.purchases.buyers import Bought, changes, marks

START = datetime(2025, 1, 1, tzinfo=UTC)
hours = st.integers(0, 120 * 24).map(lambda h: START + timedelta(hours=h))
currencies = st.sampled_from(["EUR", "USD"])
bought = st.builds(Bought, hours, hours, currencies)
later = st.builds(Bought, hours, hours.map(lambda h: h + timedelta(days=90)), currencies)
"""Mostly recorded after the purchases before (as a feed in recording order adds them)."""


@given(st.lists(bought, max_size=8), st.lists(st.one_of(bought, later), max_size=4))
def test_changes_are_the_marks_after_minus_the_marks_before(before, added) -> None:
    # Given a customer's purchases, and some added in any order of both times
    after = before + added
    # When the changes are folded from the buckets they can touch
    found = changes(before, added)
    # Then they are every bucket's marks after, minus every bucket's marks before
    expected = marks(after)
    expected.subtract(marks(before))
    assert found == Counter({mark: sign for mark, sign in expected.items() if sign})
