"""Rebuilds a projection from position 0 into a new table, then swaps it in atomically;
or builds it as of a past time into a table of its own, for analysis.

A build reads the event store's table directly (`stored_events.scan`) and folds the events
into rows kept in memory, written out in bulk when ROWS_IN_MEMORY of them are held, and at
the end: each row is written about once, not once per batch of events that touches it. The
indexes are made once the rows are in. The fold is the live feed's own
(`Projection.evolve`), and an event it cannot apply is parked as the live feed parks it,
so a rebuild equals the live table.
"""

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from psycopg import Connection, sql

from domain.events.envelope import Envelope
from infra.stored_events import head, scan
from projections.dead_letters import DeadLetter, park
from projections.projection import POISON, Projection, Row, apply_or_park, dead_letters

Progress = Callable[[int, int], None]
"""Called with (position reached, head position)."""
Keep = Callable[[Envelope], bool]

BATCH = 5000
"""Events read per query."""
ROWS_IN_MEMORY = 50_000
"""Rows a build holds before writing them out (memory: docs/decisions/0006-replay-in-memory.md)."""


def rebuild(
    conn: Connection[Any], projection: Projection, progress: Progress = lambda _r, _h: None
) -> int:
    """Builds `projection` afresh beside the live table, swaps it in, and returns its position.

    The live table keeps being served and fed during the build; at the swap, the position
    row is locked, the new table catches up to the head, and replaces the live one.
    """
    building = f"{projection.name}_rebuild"
    _new_table(conn, projection, building)
    reached = _fold(conn, projection, building, head(conn), progress, _everything)
    projection.index(conn, building)
    conn.commit()
    with conn.transaction():
        conn.execute(
            "SELECT position FROM crm_projections WHERE name = %s FOR UPDATE", (projection.name,)
        )
        latest = head(conn)
        for events in scan(conn, reached, latest):
            apply_or_park(conn, projection, events, building)
        swapped = zip(projection.tables(building), projection.tables(projection.name), strict=True)
        for built, live in swapped:
            _swap(conn, built, live)
        conn.execute(
            "UPDATE crm_projections SET position = %s, error = NULL WHERE name = %s",
            (latest, projection.name),
        )
    progress(latest, latest)
    return latest


def build_as_of(
    conn: Connection[Any],
    projection: Projection,
    until: datetime,
    progress: Progress = lambda _r, _h: None,
) -> str:
    """Builds `projection` from the events recorded at or before `until` into a table of its
    own, named after that time, and returns the table's name. The live table is untouched."""
    table = f"{projection.name}_as_of_{until.astimezone(UTC):%Y%m%dt%H%M%Sz}"  # unquoted SQL works
    _new_table(conn, projection, table)
    _fold(conn, projection, table, head(conn), progress, lambda event: event.recorded_at <= until)
    projection.index(conn, table)
    conn.commit()
    return table


def _everything(_event: Envelope) -> bool:
    return True


def _new_table(conn: Connection[Any], projection: Projection, table: str) -> None:
    for each in projection.tables(table):
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(each)))
    projection.create(conn, table)
    conn.commit()


def _fold(
    conn: Connection[Any],
    projection: Projection,
    table: str,
    until: int,
    progress: Progress,
    keep: Keep,
) -> int:
    """Folds the events in positions (0, until] that `keep` admits into `table`, committing
    each time rows are written out; returns `until`."""
    held = _Held(conn, projection, table, keep)
    with _collector_paused():
        for events in scan(conn, 0, until, BATCH):
            held.fold([event for event in events if keep(event)], events[-1].position)
            if len(held.rows) >= ROWS_IN_MEMORY:
                held.write_out()
            progress(events[-1].position, until)
        held.write_out()
    return until


class _Held:
    """Rows in memory, and the dead letters of the events folded into them since the last
    write; `written` is the position up to which `table` holds every event."""

    def __init__(self, conn: Connection[Any], projection: Projection, table: str, keep: Keep):
        self._conn, self._projection, self._table, self._keep = conn, projection, table, keep
        self.rows: dict[str, Row] = {}
        self._letters: list[DeadLetter] = []
        self.written = self._reached = 0

    def fold(self, events: Sequence[Envelope], reached: int) -> None:
        """Folds a batch of events into the rows, loading from the table those written out."""
        projection, rows = self._projection, self.rows
        if self.written:
            keys = {k for e in events if (k := projection.key(e)) is not None} - rows.keys()
            rows.update(projection.load(self._conn, keys, self._table))
        failures: list[tuple[Envelope, Exception]] = []
        for event in events:
            key = projection.key(event)
            if key is None:
                continue
            try:
                row = projection.evolve(rows.get(key), event)
            except POISON as error:
                failures.append((event, error))
                continue
            if row is not None:
                rows[key] = row
        self._letters += dead_letters(projection, failures, len(events))
        self._reached = reached

    def write_out(self) -> None:
        """Writes the rows and dead letters, commits, and lets go of them.

        Should PostgreSQL refuse a row (a data error), the events since the last write are
        applied again the live feed's way instead, batch by batch, which parks the one at
        fault: the table then holds what the live feed would have made of them.
        """
        try:
            with self._conn.transaction():
                self._projection.save(self._conn, self.rows.values(), self._table)
                park(self._conn, self._letters)
        except POISON:
            for events in scan(self._conn, self.written, self._reached):
                kept = [event for event in events if self._keep(event)]
                apply_or_park(self._conn, self._projection, kept, self._table)
        self._conn.commit()
        self.rows.clear()
        self._letters.clear()
        self.written = self._reached


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses the cycle collector: a fold makes many short-lived objects, and each collection
    would walk all the rows held again (docs/decisions/0006-replay-in-memory.md)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _swap(conn: Connection[Any], building: str, live: str) -> None:
    """Replaces table `live` with `building`, renaming its indexes after the live table."""
    indexes = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s",
        (building,),
    ).fetchall()
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(live)))
    conn.execute(
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(
            sql.Identifier(building), sql.Identifier(live)
        )
    )
    for (index,) in indexes:
        conn.execute(
            sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(index), sql.Identifier(live + index.removeprefix(building))
            )
        )
