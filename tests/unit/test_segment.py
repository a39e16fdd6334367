"""Saved segments: their criteria, and what changing them records."""

from uuid import uuid4

import pytest
from pydantic import ValidationError

from commands.segments import CriteriaFields
from domain.segment import Criteria, Segment
from tests.unit.builders import META


def test_redefining_a_segment_records_only_a_real_change() -> None:
    segment = Segment(id=uuid4(), name="VIPs", criteria=Criteria(tag="vip"), meta=META)
    segment.redefine(Criteria(tag="vip"), META)
    segment.redefine(Criteria(tag="vip", min_purchases=2), META)
    assert [type(e).__name__ for e in segment.collect_events()] == ["Defined", "Redefined"]
    assert segment.criteria.min_purchases == 2


@pytest.mark.parametrize(
    ("low", "high"),
    [("min_purchases", "max_purchases"), ("min_total", "max_total")],
)
def test_a_range_whose_bounds_are_inverted_is_refused(low: str, high: str) -> None:
    with pytest.raises(ValidationError, match=f"{low} must not be greater than {high}"):
        CriteriaFields(**{low: 5, high: 4})


def test_dates_bound_the_last_purchase_in_order() -> None:
    with pytest.raises(ValidationError, match="last_purchase_after must not be greater"):
        CriteriaFields(
            last_purchase_after="2026-06-01T00:00:00Z", last_purchase_before="2026-01-01T00:00:00Z"
        )
