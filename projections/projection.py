"""What a projection is, and the applied-position bookkeeping shared by all of them."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import Connection

from projections.dead_letters import DeadLetter, park
from projections.envelope import Envelope, encode

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


@dataclass(frozen=True)
class Projection:
    """A read model: creates its table, and applies batches of events to it."""

    name: str
    create: Callable[[Connection[Any], str], None]
    apply: Callable[[Connection[Any], Sequence[Envelope], str], None]


def register(conn: Connection[Any], projection: Projection) -> None:
    """Creates the projection's table and its position row."""
    projection.create(conn, projection.name)
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
    """
    try:
        with conn.transaction():
            projection.apply(conn, events, table)
        return 0
    except POISON:
        pass
    letters = []
    for event in events:
        try:
            with conn.transaction():
                projection.apply(conn, [event], table)
        except POISON as error:
            letters.append((event, error))
    if len(letters) == len(events) > SYSTEMIC:
        raise letters[0][1]
    park(
        conn,
        [
            DeadLetter(projection.name, repr(error), encode(event), position=event.position)
            for event, error in letters
        ],
    )
    return len(letters)
