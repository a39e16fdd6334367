"""What a projection is, and the applied-position bookkeeping shared by all of them."""

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import Connection

from domain.events.catalogue import BY_PAYLOAD
from domain.events.envelope import Envelope, encode
from domain.events.payload import Payload
from domain.events.payloads.customer import Erased
from infra.customer_streams import owned_streams
from projections.dead_letters import DeadLetter, forget_customer, park

POISON = (LookupError, ValueError, TypeError, ArithmeticError, psycopg.DataError)
"""What a projection raises for an event whose data it cannot apply: the event is parked."""
SYSTEMIC = 20
"""A batch of more events than this that all fail is a bug, not poison: it stops the projection."""

POSITIONS_DDL = """
CREATE TABLE IF NOT EXISTS crm_projections (
    name text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    error text
);
"""


Row = dict[str, Any]
"""A read-model row: its columns by name."""
Applier = Callable[[Row, Envelope], Row]
"""The columns an event changes in a row (given the row so far)."""
Appliers = Mapping[type[Payload], Applier]
"""The applier of each event type a read model shows, by payload model."""


def fold_stream(
    row: Row | None,
    event: Envelope,
    first: type[Payload],
    appliers: Appliers,
    latest: str | None = None,
) -> Row:
    """The row of one aggregate's stream after `event` (the caller checked it is that
    stream's): an event already applied (by position) changes nothing; one without an
    applier moves only `version` (and the `latest` column, if named: the latest business
    time of the stream's events). An event of a stream whose `first` event was never
    applied raises LookupError: it is parked, not skipped."""
    if row is not None and event.position <= row["last_position"]:
        return row
    if row is None and event.payload_type is not first:
        raise LookupError(f"{event.type} of {event.stream_id}, before its {BY_PAYLOAD[first].name}")
    apply = appliers.get(event.payload_type)
    changes = apply(row or {}, event) if apply else {}
    moved = {"version": event.stream_version, "last_position": event.position}
    if latest is not None:
        moved[latest] = max(row[latest], event.occurred_at) if row else event.occurred_at
    return (row or {}) | changes | moved


@dataclass(frozen=True)
class Projection:
    """A read model of one row per key (a customer, a deal, a campaign...).

    `evolve(row, event)` is the pure fold that gives a key's row after an event (None: no
    row). Live feeds load the rows a batch concerns and save them back; a rebuild keeps rows
    in memory. Both apply events with `evolve`, so a rebuild equals the live table.
    """

    name: str
    create: Callable[[Connection[Any], str], None]
    """Creates the named table, without its indexes."""
    index: Callable[[Connection[Any], str], None]
    """Creates the indexes of the named table (after a rebuild has filled it)."""
    key: Callable[[Envelope], str | None]
    """The key of the row an event changes, if any."""
    evolve: Callable[[Row | None, Envelope], Row | None]
    load: Callable[[Connection[Any], Collection[str], str], dict[str, Row]]
    """The rows of the given keys in the named table, by key."""
    save: Callable[[Connection[Any], Iterable[Row], str], None]
    """Inserts or replaces rows in the named table."""
    blank: Callable[[Row], Row] | None = None
    """For rows keyed by a stream a customer owns (a ticket, a deal, a converted lead): the
    row with the customer's personal data blank, as its events fold once the customer is
    erased (their personal fields read as blanks). Applied to those rows on
    `Customer.Erased`. None: the rows hold no personal data, or are keyed by customer and
    `evolve` blanks them."""
    companions: tuple[str, ...] = ()
    """Suffixes of the tables `save` keeps beside the projection's own (`{table}_{suffix}`,
    e.g. aggregates of its rows), written in the same transaction: made, rebuilt and swapped
    in with it."""

    def tables(self, table: str) -> list[str]:
        """The tables the projection keeps under the name `table`: that one, then its
        companions."""
        return [table, *(f"{table}_{suffix}" for suffix in self.companions)]

    def apply(self, conn: Connection[Any], events: Sequence[Envelope], table: str) -> None:
        """Folds a batch of events into the rows of the keys they concern, in `table`; at each
        `Customer.Erased`, blanks the rows of the customer's streams (`blank`)."""
        start = 0
        for end, event in enumerate(events, 1):
            if self.blank is not None and event.payload_type is Erased:
                self._fold(conn, events[start:end], table)
                owned = self.load(conn, _owned(conn, event.stream_id), table)
                self.save(conn, [self.blank(row) for row in owned.values()], table)
                start = end
        self._fold(conn, events[start:], table)

    def _fold(self, conn: Connection[Any], events: Sequence[Envelope], table: str) -> None:
        rows = self.load(conn, {k for e in events if (k := self.key(e)) is not None}, table)
        changed: dict[str, Row] = {}
        for event in events:
            key = self.key(event)
            if key is not None and (row := self.evolve(rows.get(key), event)) is not None:
                rows[key] = changed[key] = row
        self.save(conn, changed.values(), table)


def _owned(conn: Connection[Any], customer_id: str) -> list[str]:
    return [str(stream_id) for stream_id in owned_streams(conn, [customer_id])]


def register(conn: Connection[Any], projection: Projection) -> None:
    """Creates the projection's table, its indexes and its position row."""
    projection.create(conn, projection.name)
    projection.index(conn, projection.name)
    conn.execute(
        "INSERT INTO crm_projections (name) VALUES (%s) ON CONFLICT DO NOTHING", (projection.name,)
    )


@dataclass(frozen=True)
class State:
    """Where a projection is: the last position applied, and why it stopped (if it did)."""

    position: int
    error: str | None


def states(conn: Connection[Any]) -> dict[str, State]:
    """Every projection's state, by name."""
    rows = conn.execute("SELECT name, position, error FROM crm_projections").fetchall()
    return {name: State(position, error) for name, position, error in rows}


def failures(conn: Connection[Any]) -> dict[str, str]:
    """Projections stopped by an event they could not apply, with the reason."""
    rows = conn.execute("SELECT name, error FROM crm_projections WHERE error IS NOT NULL")
    return dict(rows.fetchall())


def record_failure(conn: Connection[Any], name: str, reason: str) -> None:
    """Stops a projection: it is fed again once rebuilt."""
    conn.rollback()
    conn.execute("UPDATE crm_projections SET error = %s WHERE name = %s", (reason, name))
    conn.commit()


def apply_batch(conn: Connection[Any], projection: Projection, events: Sequence[Envelope]) -> int:
    """Applies the events not yet applied, and records the position, in one transaction.

    The position row is locked first, so a rebuild's swap and a live feed never interleave.
    The commit does not wait for its fsync: a crash can lose the last batches, but it loses
    their rows and their position together, and they are applied again from the event store.
    """
    with conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = off")
        (applied,) = conn.execute(
            "SELECT position FROM crm_projections WHERE name = %s FOR UPDATE", (projection.name,)
        ).fetchone() or (0,)
        fresh = [e for e in events if e.position > applied]
        if fresh:
            apply_or_park(conn, projection, fresh, projection.name)
            conn.execute(
                "UPDATE crm_projections SET position = %s WHERE name = %s",
                (fresh[-1].position, projection.name),
            )
        return len(fresh)


def apply_or_park(
    conn: Connection[Any], projection: Projection, events: Sequence[Envelope], table: str
) -> int:
    """Applies events to `table` in the caller's transaction; returns how many were parked.

    If the batch fails with a data error, its events are applied one by one, and each one
    that fails is parked as a dead letter. Any other error propagates and stops the feed.
    At a `Customer.Erased`, the projection's dead letters of the customer's events lose
    their payload and error (`dead_letters.forget_customer`).
    """
    parked = _apply_or_park(conn, projection, events, table)
    for erased in (e.stream_id for e in events if e.payload_type is Erased):
        forget_customer(conn, projection.name, erased, _owned(conn, erased))
    return parked


def _apply_or_park(
    conn: Connection[Any], projection: Projection, events: Sequence[Envelope], table: str
) -> int:
    try:
        with conn.transaction():
            projection.apply(conn, events, table)
        return 0
    except POISON:
        pass
    failures: list[tuple[Envelope, Exception]] = []
    for event in events:
        try:
            with conn.transaction():
                projection.apply(conn, [event], table)
        except POISON as error:
            failures.append((event, error))
    letters = dead_letters(projection, failures, len(events))
    park(conn, letters)
    return len(letters)


def dead_letters(
    projection: Projection, failures: Sequence[tuple[Envelope, Exception]], out_of: int
) -> list[DeadLetter]:
    """The dead letters of events that failed to apply, out of `out_of` events; raises the
    first error instead if every one of more than SYSTEMIC events failed."""
    if len(failures) == out_of > SYSTEMIC:
        raise failures[0][1]
    return [
        DeadLetter(projection.name, repr(error), encode(event), position=event.position)
        for event, error in failures
    ]
