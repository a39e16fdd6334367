"""How far behind the event store each projection is, in both feeding modes.

Fed in-process, a projection's position is exact, and so are its lags.

Fed through Kafka, lag is measured against the positions the store holds, never only
against broker offsets, so a stalled partition or a lost message shows as lag. What is known:
- the projection has applied every event of partition p up to a[p] = max(the position
  stored for p in `crm_projection_offsets`, its floor `crm_projections.position`): events
  reach a partition in position order and are applied in order, and a replay's swapped-in
  table holds every event up to the floor;
- the relay (`crm_relay`) has had every event up to R acknowledged, and sent to partition p,
  in its current generation, events up to c[p];
- H is the newest stored position.
A partition lags when a[p] < c[p]. Let L be the lowest a[p] of the lagging partitions, U =
max(R, the lowest a[p] of all partitions) if R < H (none otherwise), and M = min(L, U).
Every event the projection misses comes after M:
- a missed event e <= R was sent to its partition p in this generation, so c[p] >= e > a[p]:
  p lags, and L <= a[p] < e;
- a missed event e > R exists only if R < H, and its partition p has a[p] < e (else e was
  applied), so U < e.
So `lag_events`, the events stored after M, counts every missed event and is 0 only when none
is missed. It is an upper bound, exact with one partition: events of other partitions after M
may be applied, and so may events after R that the relay sent but has not recorded yet (a
batch in flight, a new generation being published again). `lag_seconds`, since the first
event after M was recorded, is at least the age of the oldest missed event, and grows with the
clock while a projection does not advance. Before the relay has recorded its partitions, M is
the floor.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection

from infra import stored_events
from infra.event_store import EVENTS_TABLE
from projections import dead_letters, projection


@dataclass(frozen=True)
class PartitionStatus:
    """One partition of the events topic, as a projection consumed it."""

    partition: int
    next_offset: int
    end_offset: int | None
    """The broker's end offset (or the highest one the projector saw), for information."""
    position: int
    """Every event of this partition up to this position is applied."""
    published: int | None = None
    """The position of the last event the relay sent to this partition (None: unknown)."""


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


@dataclass(frozen=True)
class RelayStatus:
    """How far the relay has published the store to the topic, and why not further."""

    position: int
    generation: int
    lag_events: int
    lag_seconds: float
    fault: str | None
    checked_seconds_ago: float | None


@dataclass(frozen=True)
class _Relay:
    position: int
    partition_positions: list[int]
    generation: int
    fault: str | None
    checked_at: datetime | None


@contextmanager
def snapshot(conn: Connection[Any]) -> Iterator[None]:
    """Runs the block's reads in one read-only REPEATABLE READ transaction, so that the
    relay, the offsets, the states and the store are seen at one instant. `conn` must be
    idle (no transaction open)."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def lag_floor(
    applied: Mapping[int, int],
    published: Sequence[int],
    relay_position: int,
    head: int,
    floor: int = 0,
) -> int | None:
    """M of the module docstring: every event a projection misses is after it; None when it
    misses none. `applied` holds the stored position per partition, `published` the relay's
    position per partition (empty: partitions unknown), `floor` the projection's position."""
    if not published:
        return floor if floor < head else None
    reached = [max(applied.get(p, floor), floor) for p in range(len(published))]
    bounds = [a for a, c in zip(reached, published, strict=True) if a < c]
    if relay_position < head:
        bounds.append(max(relay_position, min(reached)))
    lowest = min(bounds, default=None)
    return lowest if lowest is not None and lowest < head else None


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
    """Every projection fed from `topic`, against the store's positions (module docstring);
    `end_offsets`, each partition's end offset from the broker, are shown for information.
    Call it inside `snapshot(conn)` for figures of one instant."""
    relay = _relay(conn, topic)
    head = stored_events.head(conn)
    letters = dead_letters.counts(conn)
    after: dict[int, tuple[int, float]] = {}  # lag by M, shared by projections alike
    statuses = []
    for name, state in sorted(projection.states(conn).items()):
        partitions = _partitions(conn, name, topic, end_offsets, relay, state.position)
        applied = {p.partition: p.position for p in partitions}
        missed_after = lag_floor(
            applied, relay.partition_positions, relay.position, head, state.position
        )
        if missed_after is not None and missed_after not in after:
            after[missed_after] = (
                _events_after(conn, missed_after),
                _seconds_since_first_after(conn, [missed_after], now),
            )
        lag_events, lag_seconds = (0, 0.0) if missed_after is None else after[missed_after]
        statuses.append(
            ProjectionStatus(
                name,
                max([state.position, *applied.values()]),
                lag_events,
                lag_seconds,
                letters.get(name, 0),
                state.error,
                partitions,
            )
        )
    return statuses


def relay_status(conn: Connection[Any], topic: str, now: datetime) -> RelayStatus:
    """The relay of `topic`: its position, the events stored after it, its fault if any."""
    relay = _relay(conn, topic)
    checked = None if relay.checked_at is None else (now - relay.checked_at).total_seconds()
    return RelayStatus(
        relay.position,
        relay.generation,
        _events_after(conn, relay.position),
        _seconds_since_first_after(conn, [relay.position], now),
        relay.fault,
        None if checked is None else max(checked, 0.0),
    )


def relay_fault(conn: Connection[Any], topic: str) -> str | None:
    """Why the relay of `topic` cannot publish, as it last reported (None: it can)."""
    return _relay(conn, topic).fault


def _relay(conn: Connection[Any], topic: str) -> _Relay:
    row = conn.execute(
        "SELECT position, partition_positions, generation, fault, checked_at"
        " FROM crm_relay WHERE topic = %s",
        (topic,),
    ).fetchone()
    if row is None:  # the relay never ran
        return _Relay(0, [], 0, None, None)
    position, chain, generation, fault, checked_at = row
    return _Relay(position, list(chain), generation, fault, checked_at)


def _partitions(
    conn: Connection[Any],
    name: str,
    topic: str,
    end_offsets: dict[int, int],
    relay: _Relay,
    floor: int,
) -> list[PartitionStatus]:
    rows = conn.execute(
        "SELECT partition, next_offset, position, highwater FROM crm_projection_offsets"
        " WHERE projection = %s AND topic = %s",
        (name, topic),
    ).fetchall()
    stored = {partition: (offset, position, high) for partition, offset, position, high in rows}
    published = dict(enumerate(relay.partition_positions))
    statuses = []
    for partition in sorted(set(stored) | set(end_offsets) | set(published)):
        offset, position, high = stored.get(partition, (0, floor, None))
        ends = [e for e in (end_offsets.get(partition), high) if e is not None]
        statuses.append(
            PartitionStatus(
                partition,
                offset,
                max(ends) if ends else None,
                max(position, floor),
                published.get(partition),
            )
        )
    return statuses


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
