"""The `sla_policies` table: its DDL; rows are read and upserted by id (`KeyedTable`)."""

from typing import Any

from psycopg import Connection, sql

from projections.keyed_table import KeyedTable
from projections.projection import Projection
from projections.sla.policies_evolve import evolve, key

TABLE = "sla_policies"

DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    id uuid PRIMARY KEY,
    priority text NOT NULL,
    version int NOT NULL,
    last_position bigint NOT NULL,
    versions jsonb NOT NULL
);
"""
"""One row per ticket priority. `versions`: [{version, effective_at, first_response_minutes,
resolution_minutes, business_hours: {timezone, days, start, end, holidays} or null}], oldest
first; `effective_at` is the business time the version took effect."""

ROWS = KeyedTable(("id", "priority", "version", "last_position", "versions"))


def create(conn: Connection[Any], table: str = TABLE) -> None:
    """Creates the table if missing."""
    conn.execute(sql.SQL(DDL).format(table=sql.Identifier(table)))


def index(_conn: Connection[Any], _table: str = TABLE) -> None:
    """No index but the primary key: one row per priority."""


PROJECTION = Projection(
    name=TABLE, create=create, index=index, key=key, evolve=evolve, load=ROWS.load, save=ROWS.save
)
