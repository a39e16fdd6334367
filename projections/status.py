"""How far behind the event store each projection is, in both feeding modes.

Fed in-process, a projection's position is exact, and so are its lags. Fed through Kafka,
a projection has a position per partition; its lag in events is the events the relay has
not published yet plus the messages its partitions have not consumed yet (duplicates from a
republication count too). Its lag in seconds is measured from the oldest event it may not
have applied: an upper bound, exact for the relay's part.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection

from infra.event_store import EVENTS_TABLE
from projections import dead_letters, projection


@dataclass(frozen=True)
class PartitionStatus:
    """One partition of the events topic, as a projection consumed it."""

    partition: int
    next_offset: int
    end_offset: int | None
    position: int


@dataclass(frozen=True)
class ProjectionStatus:
    """Where one projection is, and why it stopped if it did."""

    name: str
    position: int
    lag_events: int
    lag_seconds: float
    dead_letters: int
    stopped: str | None
    partitions: list[PartitionStatus] | None = None


def in_process(conn: Connection[Any], now: datetime) -> list[ProjectionStatus]:
    """Every projection fed straight from the event store."""
    letters = dead_letters.counts(conn)
    return [
        ProjectionStatus(
            name,
            state.position,
            _events_after(conn, state.position),
            _seconds_since_first_after(conn, [state.position], now),
            letters.get(name, 0),
            state.error,
        )  # fmt: skip
        for name, state in sorted(projection.states(conn).items())
    ]


def through_kafka(
    conn: Connection[Any], topic: str, end_offsets: dict[int, int], now: datetime
) -> list[ProjectionStatus]:
    """Every projection fed from `topic`, given each partition's end offset (broker's view)."""
    published = _relay_position(conn, topic)
    unpublished = _events_after(conn, published)
    letters = dead_letters.counts(conn)
    statuses = []
    for name, state in sorted(projection.states(conn).items()):
        partitions = _partitions(conn, name, topic, end_offsets, state.position)
        lagging = [p for p in partitions if (p.end_offset or 0) > p.next_offset]
        behind = [published] if unpublished else []
        behind += [p.position for p in lagging]
        statuses.append(
            ProjectionStatus(
                name,
                max([state.position, *(p.position for p in partitions)]),
                unpublished + sum((p.end_offset or 0) - p.next_offset for p in lagging),
                _seconds_since_first_after(conn, behind, now),
                letters.get(name, 0),
                state.error,
                partitions,
            )
        )
    return statuses


def _partitions(
    conn: Connection[Any], name: str, topic: str, end_offsets: dict[int, int], floor: int
) -> list[PartitionStatus]:
    rows = conn.execute(
        "SELECT partition, next_offset, position, highwater FROM crm_projection_offsets"
        " WHERE projection = %s AND topic = %s",
        (name, topic),
    ).fetchall()
    stored = {partition: (offset, position, high) for partition, offset, position, high in rows}
    statuses = []
    for partition in sorted(set(stored) | set(end_offsets)):
        offset, position, high = stored.get(partition, (0, floor, None))
        ends = [e for e in (end_offsets.get(partition), high) if e is not None]
        statuses.append(
            PartitionStatus(partition, offset, max(ends) if ends else None, max(position, floor))
        )
    return statuses


def _relay_position(conn: Connection[Any], topic: str) -> int:
    row = conn.execute("SELECT position FROM crm_relay WHERE topic = %s", (topic,)).fetchone()
    return row[0] if row else 0


def _events_after(conn: Connection[Any], position: int) -> int:
    return conn.execute(
        f"SELECT count(*) FROM {EVENTS_TABLE} WHERE notification_id > %s", (position,)
    ).fetchone()[0]


def _seconds_since_first_after(conn: Connection[Any], positions: list[int], now: datetime) -> float:
    """Seconds since the first event after the lowest of `positions` was recorded (0 if none)."""
    if not positions:
        return 0.0
    row = conn.execute(
        f"SELECT convert_from(state, 'UTF8')::jsonb ->> 'timestamp' FROM {EVENTS_TABLE}"
        " WHERE notification_id > %s ORDER BY notification_id LIMIT 1",
        (min(positions),),
    ).fetchone()
    if row is None:
        return 0.0
    return max((now - datetime.fromisoformat(row[0])).total_seconds(), 0.0)
