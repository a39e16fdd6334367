"""The `purchases` table: its DDL, indexes, and batch reads and upserts of its rows."""

from projections.keyed_table import KeyedTable
from projections.purchases.evolve import evolve, key
from projections.table_schema import TableSchema

TABLE = "purchases"

DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    customer_id uuid NOT NULL,
    order_id text NOT NULL,
    occurred_at timestamptz NOT NULL,
    occurred_on date GENERATED ALWAYS AS ((occurred_at AT TIME ZONE 'UTC')::date) STORED,
    recorded_at timestamptz NOT NULL,
    total numeric NOT NULL,
    currency text NOT NULL,
    payment_method text,
    items jsonb NOT NULL,
    last_position bigint NOT NULL,
    PRIMARY KEY (customer_id, order_id)
);
"""
"""`occurred_at` is business time, `occurred_on` its UTC date, `recorded_at` when the event
was stored; `items`: [{sku, name, quantity, unit_price}] (unit_price a decimal string or
null); `total` is exact, in `currency`."""

COLUMNS = (
    "customer_id", "order_id", "occurred_at", "recorded_at", "total", "currency",
    "payment_method", "items", "last_position",
)  # fmt: skip


ROWS = KeyedTable(COLUMNS, key_types=("uuid", "text"))
SCHEMA = TableSchema(
    DDL,
    (
        ("customer", "(customer_id, occurred_at)"),
        ("occurred", "(occurred_at)"),
    ),
)


PROJECTION = ROWS.projection(TABLE, SCHEMA, key, evolve)
