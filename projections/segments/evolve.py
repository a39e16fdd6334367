"""Pure `(row, event) -> row` functions of the segments read model.

A row is a saved segment: its name, its criteria as recorded (JSON) and its version.
Segments are never deleted: a row lives from `Segment.Defined` on.
"""

from collections.abc import Callable

from domain.events.envelope import Envelope
from domain.events.payload import Payload
from domain.events.payloads import segment
from domain.segment import Segment
from projections.projection import Row


def key(event: Envelope) -> str | None:
    """Rows are per segment."""
    return event.stream_id if event.aggregate is Segment else None


def evolve(row: Row | None, event: Envelope) -> Row | None:
    """The row after `event`; events already applied (by position) change nothing."""
    if event.aggregate is not Segment or (
        row is not None and event.position <= row["last_position"]
    ):
        return row
    if row is None and event.payload_type is not segment.Defined:
        return None
    change = _CHANGES.get(event.payload_type, _unchanged)
    return change(row or {}, event) | {
        "version": event.stream_version,
        "last_position": event.position,
    }


def _defined(row: Row, event: Envelope) -> Row:
    return row | {
        "segment_id": event.stream_id,
        "name": event.data["name"],
        "criteria": event.data["criteria"],
    }


def _redefined(row: Row, event: Envelope) -> Row:
    return row | {"criteria": event.data["criteria"]}


def _unchanged(row: Row, _event: Envelope) -> Row:
    return row


_CHANGES: dict[type[Payload], Callable[[Row, Envelope], Row]] = {
    segment.Defined: _defined,
    segment.Redefined: _redefined,
}
