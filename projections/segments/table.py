"""The `segments` table: its DDL and index; rows are read and upserted by id (`KeyedTable`)."""

from typing import Any

from psycopg import Connection, sql

from projections.keyed_table import KeyedTable
from projections.projection import Projection
from projections.segments.evolve import evolve, key

TABLE = "segments"

DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    segment_id uuid PRIMARY KEY,
    version int NOT NULL,
    last_position bigint NOT NULL,
    name text NOT NULL,
    criteria jsonb NOT NULL
);
"""
"""`criteria` as recorded: every criterion, null when not given."""

ROWS = KeyedTable(("segment_id", "version", "last_position", "name", "criteria"))


def create(conn: Connection[Any], table: str = TABLE) -> None:
    """Creates the table if missing."""
    conn.execute(sql.SQL(DDL).format(table=sql.Identifier(table)))


def index(conn: Connection[Any], table: str = TABLE) -> None:
    """Creates the index of segments by name (lists and lookups by name), if missing."""
    conn.execute(
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (name)").format(
            sql.Identifier(f"{table}_name_idx"), sql.Identifier(table)
        )
    )


PROJECTION = Projection(
    name=TABLE, create=create, index=index, key=key, evolve=evolve, load=ROWS.load, save=ROWS.save
)
