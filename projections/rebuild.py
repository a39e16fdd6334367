"""Rebuilds a projection from position 0 into a new table, then swaps it in atomically;
or builds it as of a past time into a table of its own, for analysis."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import ApplicationRecorder
from psycopg import Connection, sql

from projections.envelope import Envelope, from_notification
from projections.projection import Projection, apply_or_park

Progress = Callable[[int, int], None]
"""Called with (position reached, head position)."""


def read_events(
    recorder: ApplicationRecorder, after: int, until: int | None = None, batch: int = 5000
) -> Iterator[list[Envelope]]:
    """The stored events after position `after` (up to `until`), in batches."""
    while True:
        notifications = recorder.select_notifications(
            start=after, limit=batch, stop=until, inclusive_of_start=False
        )
        if not notifications:
            return
        yield [from_notification(n) for n in notifications]
        if len(notifications) < batch:
            return
        after = notifications[-1].id


def rebuild(
    conn: Connection[Any],
    recorder: ApplicationRecorder,
    projection: Projection,
    progress: Progress = lambda _position, _head: None,
) -> int:
    """Builds `projection` afresh beside the live table, swaps it in, and returns its position.

    The live table keeps being served and fed during the build; at the swap, the position
    row is locked, the new table catches up to the head, and replaces the live one.
    """
    building = f"{projection.name}_rebuild"
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(building)))
    projection.create(conn, building)
    conn.commit()
    head = recorder.max_notification_id() or 0
    reached = _build(conn, recorder, projection, building, (0, head), progress, commit=True)
    with conn.transaction():
        conn.execute(
            "SELECT position FROM crm_projections WHERE name = %s FOR UPDATE", (projection.name,)
        )
        head = recorder.max_notification_id() or 0
        reached = _build(conn, recorder, projection, building, (reached, head), progress)
        _swap(conn, building, projection.name)
        conn.execute(
            "UPDATE crm_projections SET position = %s, error = NULL WHERE name = %s",
            (reached, projection.name),
        )
    return reached


def build_as_of(
    conn: Connection[Any],
    recorder: ApplicationRecorder,
    projection: Projection,
    until: datetime,
    progress: Progress = lambda _position, _head: None,
) -> str:
    """Builds `projection` from the events recorded at or before `until` into a table of its
    own, named after that time, and returns the table's name. The live table is untouched."""
    table = f"{projection.name}_as_of_{until.astimezone(UTC):%Y%m%dt%H%M%Sz}"  # unquoted SQL works
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
    projection.create(conn, table)
    conn.commit()
    head = recorder.max_notification_id() or 0
    _build(
        conn, recorder, projection, table, (0, head), progress,
        commit=True, keep=lambda event: event.recorded_at <= until,
    )  # fmt: skip
    return table


def _build(
    conn: Connection[Any],
    recorder: ApplicationRecorder,
    projection: Projection,
    table: str,
    span: tuple[int, int],
    progress: Progress,
    *,
    commit: bool = False,
    keep: Callable[[Envelope], bool] = lambda _event: True,
) -> int:
    """Applies the events in (after, head] that `keep` admits to `table`; commits each batch
    if asked."""
    reached, head = span
    for events in read_events(recorder, reached, until=head):
        kept = [event for event in events if keep(event)]
        if kept:
            apply_or_park(conn, projection, kept, table)
        if commit:
            conn.commit()
        reached = events[-1].position
        progress(reached, head)
    progress(head, head)
    return max(reached, head)


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
