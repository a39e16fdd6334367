"""The `settings` table: its DDL; rows are read and upserted by id (`KeyedTable`)."""

from typing import Any

from psycopg import Connection, sql

from projections.keyed_table import KeyedTable
from projections.projection import Projection
from projections.settings.evolve import evolve, key

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


def create(conn: Connection[Any], table: str = TABLE) -> None:
    """Creates the table if missing."""
    conn.execute(sql.SQL(DDL).format(table=sql.Identifier(table)))


def index(_conn: Connection[Any], _table: str = TABLE) -> None:
    """No index but the primary key: a handful of rows, read by id."""


PROJECTION = Projection(
    name=TABLE, create=create, index=index, key=key, evolve=evolve, load=ROWS.load, save=ROWS.save
)
