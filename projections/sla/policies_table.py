"""The `sla_policies` table: its DDL; rows are read and upserted by id (`KeyedTable`)."""

from projections.keyed_table import KeyedTable
from projections.sla.policies_evolve import evolve, key
from projections.table_schema import TableSchema

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


SCHEMA = TableSchema(DDL)


PROJECTION = ROWS.projection(TABLE, SCHEMA, key, evolve)
