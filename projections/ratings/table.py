"""The `ratings` table: its DDL and index; rows are read and upserted by rating id."""

from projections.keyed_table import KeyedTable
from projections.ratings.evolve import evolve, key
from projections.table_schema import TableSchema

TABLE = "ratings"

DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    rating_id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    source text NOT NULL,
    rating smallint NOT NULL,
    rated_at timestamptz NOT NULL,
    last_position bigint NOT NULL
);
"""
"""`rating_id`: the feedback's id (source `feedback`) or the ticket's (source `ticket`, its
satisfaction); `rating` from 1 to 5; `rated_at` is business time."""

ROWS = KeyedTable(("rating_id", "customer_id", "source", "rating", "rated_at", "last_position"))


SCHEMA = TableSchema(DDL, (("customer", "(customer_id, rated_at)"),))


PROJECTION = ROWS.projection(TABLE, SCHEMA, key, evolve)
