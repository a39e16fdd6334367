"""The `segments` table: its DDL and index; rows are read and upserted by id (`KeyedTable`)."""

from projections.keyed_table import KeyedTable
from projections.segments.evolve import evolve, key
from projections.table_schema import TableSchema

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


SCHEMA = TableSchema(DDL, (("name", "(name)"),))


PROJECTION = ROWS.projection(TABLE, SCHEMA, key, evolve)
