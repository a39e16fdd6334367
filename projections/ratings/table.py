"""The `ratings` table: its DDL and index; rows are read and upserted by rating id."""

from typing import Any

from psycopg import Connection, sql

from projections.keyed_table import KeyedTable
from projections.projection import Projection
from projections.ratings.evolve import evolve, key

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


def create(conn: Connection[Any], table: str = TABLE) -> None:
    """Creates the table if missing."""
    conn.execute(sql.SQL(DDL).format(table=sql.Identifier(table)))


def index(conn: Connection[Any], table: str = TABLE) -> None:
    """Creates the index of a customer's ratings by time, if missing."""
    conn.execute(
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (customer_id, rated_at)").format(
            sql.Identifier(f"{table}_customer_idx"), sql.Identifier(table)
        )
    )


PROJECTION = Projection(
    name=TABLE, create=create, index=index, key=key, evolve=evolve, load=ROWS.load, save=ROWS.save
)
