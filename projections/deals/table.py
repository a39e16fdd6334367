"""The `deals` table: its DDL, indexes, and batch reads and upserts of its rows."""

from typing import Any

from psycopg import Connection, sql

from projections.deals.evolve import evolve, key
from projections.keyed_table import KeyedTable
from projections.projection import Projection

TABLE = "deals"

DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    deal_id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    version int NOT NULL,
    last_position bigint NOT NULL,
    title text NOT NULL,
    amount numeric NOT NULL,
    currency text NOT NULL,
    stage text NOT NULL,
    status text NOT NULL,
    probability int NOT NULL,
    expected_close_date date,
    owner text,
    lost_reason text,
    opened_at timestamptz NOT NULL,
    closed_at timestamptz,
    won_at timestamptz,
    lost_at timestamptz,
    stage_history jsonb NOT NULL,
    amount_history jsonb NOT NULL
);
"""
"""Times are business times. `status` is open, won or lost; `probability` is the percent of
the current stage when the deal entered it; `stage_history`: [{stage, probability,
entered_at, left_at, recorded_at}, and `reason` when lost], `amount_history`: [{amount,
currency, at, recorded_at}], oldest first."""

INDEXES = """
CREATE INDEX IF NOT EXISTS {status_index} ON {table} (status, stage);
CREATE INDEX IF NOT EXISTS {owner_index} ON {table} (owner, status);
CREATE INDEX IF NOT EXISTS {customer_index} ON {table} (customer_id);
"""

ROWS = KeyedTable(
    (
        "deal_id", "customer_id", "version", "last_position", "title", "amount", "currency",
        "stage", "status", "probability", "expected_close_date", "owner", "lost_reason",
        "opened_at", "closed_at", "won_at", "lost_at", "stage_history", "amount_history",
    )
)  # fmt: skip


def create(conn: Connection[Any], table: str = TABLE) -> None:
    """Creates the table if missing."""
    conn.execute(sql.SQL(DDL).format(table=sql.Identifier(table)))


def index(conn: Connection[Any], table: str = TABLE) -> None:
    """Creates the indexes of the pipeline (by status and stage, by owner) and of a customer's
    deals, if missing."""
    conn.execute(
        sql.SQL(INDEXES).format(
            table=sql.Identifier(table),
            status_index=sql.Identifier(f"{table}_status_idx"),
            owner_index=sql.Identifier(f"{table}_owner_idx"),
            customer_index=sql.Identifier(f"{table}_customer_idx"),
        )
    )


PROJECTION = Projection(
    name=TABLE, create=create, index=index, key=key, evolve=evolve, load=ROWS.load, save=ROWS.save
)
