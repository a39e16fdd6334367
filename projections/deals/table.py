"""The `deals` table: its DDL, indexes, and batch reads and upserts of its rows."""

from projections.deals.evolve import blank, evolve, key
from projections.keyed_table import KeyedTable
from projections.table_schema import REWRITTEN, TableSchema

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

ROWS = KeyedTable(
    (
        "deal_id", "customer_id", "version", "last_position", "title", "amount", "currency",
        "stage", "status", "probability", "expected_close_date", "owner", "lost_reason",
        "opened_at", "closed_at", "won_at", "lost_at", "stage_history", "amount_history",
    )
)  # fmt: skip


SCHEMA = TableSchema(
    DDL,
    (
        ("status", "(status, stage)"),
        ("owner", "(owner, status)"),
        ("customer", "(customer_id)"),
    ),
    fillfactor=REWRITTEN,
)


PROJECTION = ROWS.projection(TABLE, SCHEMA, key, evolve, blank)
