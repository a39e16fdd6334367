"""Each projection's live table compared with its rebuild from the event store.

A rebuild is `projections.rebuild.build_as_of` at a time far in the future: every stored
event, folded into a table of its own beside the live one (dropped after the comparison).
Rows are compared both ways with EXCEPT ALL, in the live table's column order: the count
is the live rows the rebuild lacks plus the rebuilt rows the live table lacks. Like any
rebuild, it parks the events it cannot apply in `crm_dead_letters`, as the live feed does.
"""

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import Connection, sql

from infra.stored_events import head
from projections.catalog import PROJECTIONS
from projections.projection import Projection
from projections.rebuild import build_as_of

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def differences(database_url: str, names: list[str] | None = None) -> dict[str, int]:
    """By projection (all of them unless `names` are given): the rows that differ between
    its live table and its rebuild from every stored event."""
    with psycopg.connect(database_url) as conn:
        return {name: difference(conn, PROJECTIONS[name]) for name in names or PROJECTIONS}


def difference(conn: Connection[Any], projection: Projection) -> int:
    """The rows that differ between `projection`'s live table and its rebuild, both ways."""
    rebuilt = build_as_of(conn, projection, FAR_FUTURE)
    try:
        columns = sql.SQL(", ").join(map(sql.Identifier, _columns(conn, projection.name)))
        live, built = sql.Identifier(projection.name), sql.Identifier(rebuilt)
        one_way = "SELECT count(*) FROM (SELECT {c} FROM {%s} EXCEPT ALL SELECT {c} FROM {%s}) d"
        both_ways = f"SELECT ({one_way % ('a', 'b')}) + ({one_way % ('b', 'a')})"
        (count,) = conn.execute(
            sql.SQL(both_ways).format(c=columns, a=live, b=built)  # type: ignore[arg-type]
        ).fetchone()
        return count
    finally:
        conn.rollback()
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(rebuilt)))
        conn.commit()


def at_lag_zero(database_url: str, status: dict) -> dict[str, int] | None:
    """Compares each projection that `status` (a `GET /v1/projections` answer) shows at lag
    0 with its rebuild: by projection, the rows that differ.

    A projection at lag 0 claims to hold every event up to the status's `head`; the rebuild
    folds every event stored when it is made. None if events were stored after that head
    (before the comparisons ended): they would differ without any fault, so the status
    proves nothing; ask for a fresh one.
    """
    shown = [p["name"] for p in status["items"] if p["lag_events"] == 0]
    with psycopg.connect(database_url) as conn:
        if head(conn) != status["head"]:
            return None
        conn.commit()
        found = {name: difference(conn, PROJECTIONS[name]) for name in shown}
        return found if head(conn) == status["head"] else None


def _columns(conn: Connection[Any], table: str) -> list[str]:
    """The columns of `table`, in order."""
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum",
        (table,),
    ).fetchall()
    return [name for (name,) in rows]
