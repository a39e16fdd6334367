"""The `settings` table: its DDL; rows are read and upserted by id (`KeyedTable`)."""

from projections.keyed_table import KeyedTable
from projections.settings.evolve import evolve, key
from projections.table_schema import TableSchema

TABLE = "settings"

DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    id uuid PRIMARY KEY,
    kind text NOT NULL,
    version int NOT NULL,
    last_position bigint NOT NULL,
    document jsonb NOT NULL
);
"""
"""`kind` is the aggregate's class (Pipeline, LeadScoring, SalesTeam, CustomFieldSchema);
`document` holds what its configuration events said (see `evolve`)."""

ROWS = KeyedTable(("id", "kind", "version", "last_position", "document"))


SCHEMA = TableSchema(DDL)


PROJECTION = ROWS.projection(TABLE, SCHEMA, key, evolve)
