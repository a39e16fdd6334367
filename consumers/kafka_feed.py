"""Applies Kafka messages to projections, each with its consumed offsets in the same transaction.

One consumer feeds every projection of a `crm project` process (`consumers.projector`). Per
projection and partition, `crm_projection_offsets` holds the next offset to read, the position
of the last event applied from that partition, and the relay's generation it reads. The
consumer reads each partition from the lowest offset its projections stored there
(`read_from`), and each projection skips the messages below its own offset. Whenever a
projection's stored offset is behind where the consumer reads (a crash of PostgreSQL lost
its last commits, which run with `synchronous_commit = off`; a rebuild or a person reset
it), the projection applies nothing of that partition and the consumer is sent back to that
offset. When the relay starts a new generation (it publishes every event again into a topic
that was lost or recreated), a cursor of an older one moves to the start of the topic:
offsets there restart, positions stay. A message is applied to a projection when:
- its offset is not behind the projection's stored one (else it was handled before a
  restart, or the consumer reads from a lower offset for another projection),
- it belongs to the cursor's generation (else it is left over from a lost topic),
- its event's position is past what the partition has applied and past the projection's
  floor (`crm_projections.position`: a replay swapped in a table built up to there),
- the event the relay sent before it to this partition (header `previous_position`) has
  been applied; if not, an earlier message was lost and is being republished: this copy
  is dropped and its republished twin, which comes later, is applied in order.
A message that cannot be decoded, or whose event the projection cannot apply, is parked in
`crm_dead_letters` (for each projection that meets it). A poll's messages are decoded, and
their personal fields revealed, once for all projections; they are applied to every
projection in one transaction.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
"""Per partition, the next offset to read; None: the topic's start."""


@dataclass
class Cursor:
    """Where one partition is: the next offset to read, the last position applied."""

    next_offset: int
    position: int
    generation: int


@dataclass(frozen=True)
class Message:
    """A polled record, read once for every projection: its event (or why it has none) and
    the relay's headers (None, 0 when absent: sent by a relay of an older version, or by
    something else)."""

    record: "ConsumerRecord"
    event: Envelope | None
    problem: str
    generation: int | None
    previous_position: int


@dataclass
class Outcome:
    """What one batch of messages did to one projection, and where the consumer must read."""

    applied: int = 0
    duplicates: int = 0
    waiting: int = 0
    parked: int = 0
    seek: dict[int, int | None] = field(default_factory=dict)
    """Partitions this projection stored an offset for behind where the consumer read (or
    of an older generation): none of their messages applied; the consumer must read from
    here."""


def lowest(offsets: Collection[int | None]) -> int | None:
    """The lowest of some offsets (None, the topic's start, is below any)."""
    return None if None in offsets else min(offsets, default=None)  # type: ignore[type-var]


def read_from(
    conn: Connection[Any], projections: Collection[str], topic: str, partitions: Collection[int]
) -> dict[int, int | None]:
    """Where the consumer must read each partition from: the lowest offset the projections
    stored there (None if one has none: the topic's start). Cursors of an older generation
    than the relay's are moved to the topic's start first (committed at once)."""
    found: dict[int, list[int | None]] = {p: [] for p in partitions}
    with conn.transaction():
        generation = _generation(conn, topic)
        for name in sorted(projections):
            cursors = _lock_cursors(conn, name, topic, set(partitions))
            renewed = _renew(cursors, generation)
            _store_cursors(conn, name, topic, {p: cursors[p] for p in renewed}, {})
            for partition, offset in _offsets(cursors, partitions).items():
                found[partition].append(offset)
    return {partition: lowest(offsets) for partition, offsets in found.items()}


def feed(
    conn: Connection[Any],
    projections: Sequence[Projection],
    topic: str,
    records: Sequence["ConsumerRecord"],
    reading: Offsets,
    highwaters: dict[int, int | None] | None = None,
) -> dict[str, Outcome]:
    """Applies a batch of messages (in offset order per partition) to every projection, in
    one transaction; `reading` is where the consumer read each partition from. By
    projection, what the batch did."""
    with conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = off")  # a lost commit is detected
        generation = _generation(conn, topic)
        messages = _decoded(conn, records)
        return {
            p.name: _handle(conn, p, topic, messages, reading, generation, highwaters or {})
            for p in sorted(projections, key=lambda p: p.name)  # one lock order everywhere
        }


def _decoded(conn: Connection[Any], records: Sequence["ConsumerRecord"]) -> list[Message]:
    """The records' messages, their personal fields revealed in one call."""
    messages = [_message(record) for record in records]
    revealed = iter(keyring().reveal(conn, [m.event for m in messages if m.event is not None]))
    return [m if m.event is None else replace(m, event=next(revealed)) for m in messages]


def _message(record: "ConsumerRecord") -> Message:
    headers = dict(record.headers or ())
    generation = int(headers["generation"]) if "generation" in headers else None
    previous = int(headers.get("previous_position", 0))
    try:
        return Message(record, decode(record.value), "", generation, previous)
    except MalformedMessage as error:
        return Message(record, None, str(error), generation, previous)


def _handle(
    conn: Connection[Any],
    projection: Projection,
    topic: str,
    messages: Sequence[Message],
    reading: Offsets,
    generation: int,
    highwaters: dict[int, int | None],
) -> Outcome:
    """Applies to one projection the messages it has not handled, and stores its cursors."""
    (floor,) = conn.execute(
        "SELECT position FROM crm_projections WHERE name = %s FOR SHARE", (projection.name,)
    ).fetchone()
    partitions = {m.record.partition for m in messages}
    cursors = _lock_cursors(conn, projection.name, topic, partitions)
    outcome, fresh, letters = Outcome(), [], []
    renewed = _renew(cursors, generation)
    outcome.seek = {
        p: offset
        for p, offset in _offsets(cursors, partitions).items()
        if p in renewed or _behind(offset, reading[p])
    }
    for message in messages:
        record = message.record
        if record.partition in outcome.seek:
            continue
        cursor = cursors.setdefault(record.partition, Cursor(record.offset, floor, generation))
        if record.offset < cursor.next_offset:
            continue  # handled before a restart or a rebalance, or read for another projection
        cursor.next_offset = record.offset + 1
        if message.generation not in (None, cursor.generation):
            outcome.duplicates += 1  # left over from a topic that was lost
            continue
        _sort(message, cursor, floor, outcome, fresh, letters, projection.name)
    unapplicable = apply_or_park(conn, projection, fresh, projection.name)
    park(conn, letters)
    _store_cursors(conn, projection.name, topic, cursors, highwaters)
    outcome.applied = len(fresh) - unapplicable
    outcome.parked = len(letters) + unapplicable
    return outcome


def _behind(stored: int | None, reading: int | None) -> bool:
    """Whether a stored offset is below where the consumer read from (messages between
    them would be skipped)."""
    return reading is not None and (stored is None or stored < reading)


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
    message: Message,
    cursor: Cursor,
    floor: int,
    outcome: Outcome,
    fresh: list[Envelope],
    letters: list[DeadLetter],
    projection: str,
) -> None:
    """Files one new message as fresh, duplicate, waiting for its predecessor, or poison."""
    record, event = message.record, message.event
    if event is None:
        letters.append(
            DeadLetter(
                projection, message.problem, record.value, topic=record.topic,
                partition=record.partition, offset=record.offset, key=record.key,
            )
        )  # fmt: skip
        return
    applied = max(cursor.position, floor)
    if event.position <= applied:
        outcome.duplicates += 1
    elif message.previous_position > applied:
        outcome.waiting += 1
    else:
        cursor.position = event.position
        fresh.append(event)


def _lock_cursors(
    conn: Connection[Any], projection: str, topic: str, partitions: set[int]
) -> dict[int, Cursor]:
    rows = conn.execute(
        "SELECT partition, next_offset, position, generation FROM crm_projection_offsets"
        " WHERE projection = %s AND topic = %s AND partition = ANY(%s)"
        " ORDER BY partition FOR UPDATE",
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
