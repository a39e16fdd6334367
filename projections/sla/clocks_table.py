"""The `sla_clocks` table: its DDL and indexes; rows are read and upserted by ticket id."""

from collections.abc import Iterable
from typing import Any

from psycopg import Connection

from projections.keyed_table import KeyedTable
from projections.projection import Projection, Row
from projections.sla.clocks_evolve import evolve, key
from projections.table_schema import REWRITTEN, TableSchema

TABLE = "sla_clocks"

DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    ticket_id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    version int NOT NULL,
    last_position bigint NOT NULL,
    priority text NOT NULL,
    status text NOT NULL,
    opened_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    first_response_at timestamptz,
    changes bytea NOT NULL,
    breaches text[] NOT NULL
);
"""
"""One row per ticket; times are business times, `updated_at` the latest of its events.
`changes`: every status the ticket had, oldest first, 10 bytes each: the business time as a
big-endian int8 of µs since 1970-01-01 UTC, then the status as a big-endian int2 (0 open,
1 pending, 2 solved, 3 closed); the `tickets` table shows the same history as JSON.
`breaches`: the targets (first_response, resolution) whose breach the ticket recorded."""

ROWS = KeyedTable(
    ("ticket_id", "customer_id", "version", "last_position", "priority", "status", "opened_at",
     "updated_at", "first_response_at", "changes", "breaches")
)  # fmt: skip


def save(conn: Connection[Any], rows: Iterable[Row], table: str) -> None:
    """Inserts or replaces rows; `changes` travels in bytea's hex form inside the JSON."""
    ROWS.save(
        conn, ({**row, "changes": "\\x" + bytes(row["changes"]).hex()} for row in rows), table
    )


SCHEMA = TableSchema(
    DDL,
    (
        ("status", "(status, priority)"),
        ("updated", "(updated_at)"),
        ("customer", "(customer_id)"),
    ),
    fillfactor=REWRITTEN,
)


PROJECTION = Projection(
    name=TABLE,
    create=SCHEMA.create,
    index=SCHEMA.index,
    key=key,
    evolve=evolve,
    load=ROWS.load,
    save=save,
)
