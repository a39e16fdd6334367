"""Applies Kafka messages to a projection, with the consumed offsets in the same transaction.

Per partition, `crm_projection_offsets` holds the next offset to read, the position of the
last event applied from that partition, and the relay's generation it reads. The consumer
must read each partition from its stored offset. Whenever that differs from where the
consumer believes it is (a crash of PostgreSQL lost the last commits, which run with
`synchronous_commit = off`; another consumer of the group moved on), the partition's
messages are not applied and the consumer is sent back to the stored offset. When the relay
starts a new generation (it publishes every event again into a topic that was lost or
recreated), a cursor of an older one moves to the start of the topic: offsets there
restart, positions stay. A message is applied when:
- its offset is not behind the stored one (else it was handled before a restart),
- it belongs to the cursor's generation (else it is left over from a lost topic),
- its event's position is past what the partition has applied and past the projection's
  floor (`crm_projections.position`: a replay swapped in a table built up to there),
- the event the relay sent before it to this partition (header `previous_position`) has
  been applied; if not, an earlier message was lost and is being republished: this copy
  is dropped and its republished twin, which comes later, is applied in order.
A message that cannot be decoded, or whose event the projection cannot apply, is parked in
`crm_dead_letters`.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from psycopg import Connection

from domain.events.envelope import Envelope, MalformedMessage, decode
from infra.data_keys import keyring
from projections.dead_letters import DeadLetter, park
from projections.projection import Projection, apply_or_park

if TYPE_CHECKING:  # kafka costs half a second of CPU to import; every process reads DDL here
    from kafka.consumer.fetcher import ConsumerRecord

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
ALTER TABLE crm_projection_offsets ADD COLUMN IF NOT EXISTS generation int NOT NULL DEFAULT 0;
"""

Offsets = Mapping[int, int | None]
"""Per partition, the next offset to read; None: none stored, read from the topic's start."""


@dataclass
class Cursor:
    """Where one partition is: the next offset to read, the last position applied."""

    next_offset: int
    position: int
    generation: int


@dataclass
class Outcome:
    """What one batch of messages did, and where the consumer must read next."""

    applied: int = 0
    duplicates: int = 0
    waiting: int = 0
    parked: int = 0
    stored: dict[int, int | None] = field(default_factory=dict)
    """The offsets now stored for the batch's partitions: where the consumer now is."""
    seek: dict[int, int | None] = field(default_factory=dict)
    """Partitions whose messages were not looked at: the consumer must read from here."""


def stored_offsets(
    conn: Connection[Any], projection: str, topic: str, partitions: Collection[int]
) -> dict[int, int | None]:
    """Where each partition must be read from (committed at once): cursors of an older
    generation than the relay's are moved to the topic's start first."""
    with conn.transaction():
        cursors = _lock_cursors(conn, projection, topic, set(partitions))
        renewed = _renew(cursors, _generation(conn, topic))
        _store_cursors(conn, projection, topic, {p: cursors[p] for p in renewed}, {})
    return _offsets(cursors, partitions)


def handle(
    conn: Connection[Any],
    projection: Projection,
    topic: str,
    records: Sequence["ConsumerRecord"],
    believed: Offsets,
    highwaters: dict[int, int | None] | None = None,
) -> Outcome:
    """Applies a batch of messages (in offset order per partition) in one transaction;
    `believed` is where the consumer read each partition from."""
    with conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = off")  # a lost commit is detected
        (floor,) = conn.execute(
            "SELECT position FROM crm_projections WHERE name = %s FOR SHARE", (projection.name,)
        ).fetchone()
        partitions = {r.partition for r in records}
        cursors = _lock_cursors(conn, projection.name, topic, partitions)
        generation = _generation(conn, topic)
        outcome, fresh, letters = Outcome(), [], []
        renewed = _renew(cursors, generation)
        outcome.seek = {
            p: offset
            for p, offset in _offsets(cursors, partitions).items()
            if p in renewed or believed.get(p) != offset
        }
        for record in records:
            if record.partition in outcome.seek:
                continue
            cursor = cursors.setdefault(record.partition, Cursor(record.offset, floor, generation))
            if record.offset < cursor.next_offset:
                continue  # handled before a restart or a rebalance
            cursor.next_offset = record.offset + 1
            if _header(record, "generation", cursor.generation) != cursor.generation:
                outcome.duplicates += 1  # left over from a topic that was lost
                continue
            _sort(record, cursor, floor, outcome, fresh, letters, projection.name)
        opened = keyring().reveal(conn, fresh)
        unapplicable = apply_or_park(conn, projection, opened, projection.name)
        park(conn, letters)
        _store_cursors(conn, projection.name, topic, cursors, highwaters or {})
    outcome.applied = len(fresh) - unapplicable
    outcome.parked = len(letters) + unapplicable
    outcome.stored = _offsets(cursors, partitions)
    return outcome


def _offsets(cursors: dict[int, Cursor], partitions: Collection[int]) -> dict[int, int | None]:
    """The next offset to read of each partition (None: no cursor, the topic's start)."""
    return {p: cursors[p].next_offset if p in cursors else None for p in partitions}


def _renew(cursors: dict[int, Cursor], generation: int) -> list[int]:
    """Moves the cursors of an older generation to the topic's start; returns their
    partitions."""
    renewed = [p for p, c in cursors.items() if c.generation < generation]
    for partition in renewed:
        cursors[partition] = Cursor(0, cursors[partition].position, generation)
    return renewed


def _generation(conn: Connection[Any], topic: str) -> int:
    row = conn.execute("SELECT generation FROM crm_relay WHERE topic = %s", (topic,)).fetchone()
    return row[0] if row else 0


def _sort(
    record: "ConsumerRecord",
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
    elif _header(record, "previous_position", 0) > applied:
        outcome.waiting += 1
    else:
        cursor.position = event.position
        fresh.append(event)


def _header(record: "ConsumerRecord", wanted: str, absent: int) -> int:
    """A number the relay sent in a header (`absent` if a message has none: sent by a relay
    of an older version, or by something else)."""
    for name, value in record.headers or ():
        if name == wanted:
            return int(value)
    return absent


def _lock_cursors(
    conn: Connection[Any], projection: str, topic: str, partitions: set[int]
) -> dict[int, Cursor]:
    rows = conn.execute(
        "SELECT partition, next_offset, position, generation FROM crm_projection_offsets"
        " WHERE projection = %s AND topic = %s AND partition = ANY(%s) FOR UPDATE",
        (projection, topic, sorted(partitions)),
    ).fetchall()
    return {partition: Cursor(*cursor) for partition, *cursor in rows}


def _store_cursors(
    conn: Connection[Any],
    projection: str,
    topic: str,
    cursors: dict[int, Cursor],
    highwaters: dict[int, int | None],
) -> None:
    conn.cursor().executemany(
        "INSERT INTO crm_projection_offsets"
        " (projection, topic, partition, next_offset, position, generation, highwater)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (projection, topic, partition) DO UPDATE SET"
        " next_offset = EXCLUDED.next_offset, position = EXCLUDED.position,"
        " generation = EXCLUDED.generation,"
        " highwater = COALESCE(EXCLUDED.highwater, crm_projection_offsets.highwater)",
        [
            (projection, topic, p, c.next_offset, c.position, c.generation, highwaters.get(p))
            for p, c in cursors.items()
        ],
    )
