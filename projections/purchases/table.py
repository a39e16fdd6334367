"""The `purchases` table and the aggregates kept beside it (`purchases_sales`,
`purchases_buyers`, `purchases_products`): their DDL, indexes, and the projection that
writes a batch's orders and their tallies in one transaction."""

from collections.abc import Collection
from typing import Any

from psycopg import Connection

from projections.keyed_table import KeyedTable
from projections.projection import Projection, Row
from projections.purchases import buyers_table, products_table, sales_table, tallies
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
        ("recorded", "(recorded_at)"),
        ("items", "USING gin (items jsonb_path_ops)"),
    ),
)
SCHEMAS = (SCHEMA, sales_table.SCHEMA, buyers_table.SCHEMA, products_table.SCHEMA)
COMPANIONS = ("sales", "buyers", "products")
"""The aggregates are named `{table}_{companion}`, in the order of SCHEMAS."""


def create(conn: Connection[Any], table: str) -> None:
    """Creates the orders table and its aggregates under the name `table`; aggregates new
    beside an existing orders table are filled from it, in the same transaction."""
    names = PROJECTION.tables(table)
    with conn.transaction():
        missing = _missing(conn, names[1:])
        for schema, name in zip(SCHEMAS, names, strict=True):
            schema.create(conn, name)
        if missing:
            tallies.backfill(conn, table)


def index(conn: Connection[Any], table: str) -> None:
    """Creates the indexes of the orders table and its aggregates."""
    for schema, name in zip(SCHEMAS, PROJECTION.tables(table), strict=True):
        schema.index(conn, name)


def _missing(conn: Connection[Any], tables: list[str]) -> bool:
    (found,) = conn.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        " AND tablename = ANY(%s)",
        (tables,),
    ).fetchone() or (0,)
    return found < len(tables)


def _unread(conn: Connection[Any], keys: Collection[str], table: str) -> dict[str, Row]:
    """No stored order is read back: rows are only inserted, and the insert keeps an
    order's first record (tallies.INSERTED), so a batch need not know which it holds."""
    return {}


PROJECTION = Projection(
    TABLE, create, index, key, evolve, _unread, tallies.saver(ROWS), companions=COMPANIONS
)
