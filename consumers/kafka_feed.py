"""Applies Kafka messages to a projection, with the consumed offsets in the same transaction.

Per partition, `crm_projection_offsets` holds the next offset to read and the position of
the last event applied from that partition. A message is applied when:
- its offset is not behind the stored one (else it was handled before a restart),
- its event's position is past what the partition has applied and past the projection's
  floor (`crm_projections.position`: a replay swapped in a table built up to there),
- the event the relay sent before it to this partition (header `previous_position`) has
  been applied; if not, an earlier message was lost and is being republished: this copy
  is dropped and its republished twin, which comes later, is applied in order.
A message that cannot be decoded, or whose event the projection cannot apply, is parked in
`crm_dead_letters`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord
from psycopg import Connection

from projections.dead_letters import DeadLetter, park
from projections.envelope import Envelope, MalformedMessage, decode
from projections.projection import Projection, apply_or_park

DDL = """
CREATE TABLE IF NOT EXISTS crm_projection_offsets (
    projection text NOT NULL,
    topic text NOT NULL,
    partition int NOT NULL,
    next_offset bigint NOT NULL,
    position bigint NOT NULL,
    highwater bigint,
    PRIMARY KEY (projection, topic, partition)
);
"""


@dataclass
class Cursor:
    """Where one partition is: the next offset to read, the last position applied."""

    next_offset: int
    position: int


@dataclass
class Outcome:
    """What one batch of messages did."""

    applied: int = 0
    duplicates: int = 0
    waiting: int = 0
    parked: int = 0


def stored_offsets(
    conn: Connection[Any], projection: str, topic: str, partitions: Sequence[int]
) -> dict[int, int]:
    """The next offset to read for each partition that has one stored."""
    rows = conn.execute(
        "SELECT partition, next_offset FROM crm_projection_offsets"
        " WHERE projection = %s AND topic = %s AND partition = ANY(%s)",
        (projection, topic, list(partitions)),
    ).fetchall()
    return dict(rows)


def handle(
    conn: Connection[Any],
    projection: Projection,
    topic: str,
    records: Sequence[ConsumerRecord],
    highwaters: dict[int, int | None] | None = None,
) -> Outcome:
    """Applies a batch of messages (in offset order per partition) in one transaction."""
    with conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = off")  # a lost commit is consumed again
        (floor,) = conn.execute(
            "SELECT position FROM crm_projections WHERE name = %s FOR SHARE", (projection.name,)
        ).fetchone()
        cursors = _lock_cursors(conn, projection.name, topic, {r.partition for r in records})
        outcome, fresh, letters = Outcome(), [], []
        for record in records:
            cursor = cursors.setdefault(record.partition, Cursor(record.offset, floor))
            if record.offset < cursor.next_offset:
                continue  # handled before a restart or a rebalance
            cursor.next_offset = record.offset + 1
            _sort(record, cursor, floor, outcome, fresh, letters, projection.name)
        unapplicable = apply_or_park(conn, projection, fresh, projection.name)
        park(conn, letters)
        _store_cursors(conn, projection.name, topic, cursors, highwaters or {})
    outcome.applied = len(fresh) - unapplicable
    outcome.parked = len(letters) + unapplicable
    return outcome


def _sort(
    record: ConsumerRecord,
    cursor: Cursor,
    floor: int,
    outcome: Outcome,
    fresh: list[Envelope],
    letters: list[DeadLetter],
    projection: str,
) -> None:
    """Files one new message as fresh, duplicate, waiting for its predecessor, or poison."""
    try:
        event = decode(record.value)
    except MalformedMessage as error:
        letters.append(
            DeadLetter(
                projection, str(error), record.value, topic=record.topic,
                partition=record.partition, offset=record.offset, key=record.key,
            )
        )  # fmt: skip
        return
    applied = max(cursor.position, floor)
    if event.position <= applied:
        outcome.duplicates += 1
    elif _previous_position(record) > applied:
        outcome.waiting += 1
    else:
        cursor.position = event.position
        fresh.append(event)


def _previous_position(record: ConsumerRecord) -> int:
    for name, value in record.headers or ():
        if name == "previous_position":
            return int(value)
    return 0


def _lock_cursors(
    conn: Connection[Any], projection: str, topic: str, partitions: set[int]
) -> dict[int, Cursor]:
    rows = conn.execute(
        "SELECT partition, next_offset, position FROM crm_projection_offsets"
        " WHERE projection = %s AND topic = %s AND partition = ANY(%s) FOR UPDATE",
        (projection, topic, sorted(partitions)),
    ).fetchall()
    return {partition: Cursor(offset, position) for partition, offset, position in rows}


def _store_cursors(
    conn: Connection[Any],
    projection: str,
    topic: str,
    cursors: dict[int, Cursor],
    highwaters: dict[int, int | None],
) -> None:
    conn.cursor().executemany(
        "INSERT INTO crm_projection_offsets"
        " (projection, topic, partition, next_offset, position, highwater)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (projection, topic, partition) DO UPDATE SET"
        " next_offset = EXCLUDED.next_offset, position = EXCLUDED.position,"
        " highwater = COALESCE(EXCLUDED.highwater, crm_projection_offsets.highwater)",
        [
            (projection, topic, p, c.next_offset, c.position, highwaters.get(p))
            for p, c in cursors.items()
        ],
    )
