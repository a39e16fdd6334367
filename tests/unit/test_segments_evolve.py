"""The segments read model as a pure function of the segments' events."""

from dataclasses import replace
from datetime import UTC, datetime
from functools import reduce

from domain.events.envelope import Envelope
from projections.segments.evolve import evolve, key

SEGMENT = "9f1efcb5-5cc6-49f3-9cee-1266ef33cbdc"
VIP = {"tag": "vip", "min_purchases": None, "custom_fields": {}}
LOYAL = {"tag": None, "min_purchases": 3, "custom_fields": {"tier": "gold"}}


def event(type_: str, version: int, position: int, **data: object) -> Envelope:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    return Envelope(
        type=f"Segment.{type_}", stream_id=SEGMENT, stream_version=version, position=position,
        customer_id=None, occurred_at=at, recorded_at=at, actor="t", correlation_id="c",
        causation_id=None, schema_version=1, data=data,
    )  # fmt: skip


def test_a_segment_keeps_its_name_and_its_latest_criteria() -> None:
    # Given a segment defined, then redefined
    defined = event("Defined", 1, 3, name="Loyal", criteria=VIP)
    redefined = event("Redefined", 2, 8, criteria=LOYAL)
    # When folded / Then
    row = reduce(evolve, (defined, redefined), None)
    assert row == {
        "segment_id": SEGMENT, "name": "Loyal", "criteria": LOYAL, "version": 2, "last_position": 8,
    }  # fmt: skip
    assert key(redefined) == SEGMENT


def test_an_event_applied_again_changes_nothing() -> None:
    row = evolve(None, event("Defined", 1, 3, name="Loyal", criteria=VIP))
    assert evolve(row, event("Redefined", 2, 3, criteria=LOYAL)) == row


def test_a_redefinition_without_its_definition_makes_no_row() -> None:
    assert evolve(None, event("Redefined", 2, 8, criteria=LOYAL)) is None


def test_other_aggregates_events_have_no_row() -> None:
    registered = replace(event("Defined", 1, 1, name="x", criteria=VIP), type="Customer.Registered")
    assert (key(registered), evolve(None, registered)) == (None, None)
