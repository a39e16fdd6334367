"""The `purchases` table and the aggregates kept beside it (`purchases_sales`,
`purchases_buyers`, `purchases_products`): their DDL, indexes, and the projection that
writes a batch's orders and their tallies in one transaction."""

from typing import Any

from psycopg import Connection

from projections.keyed_table import KeyedTable
from projections.projection import Projection
from projections.purchases import tallies
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

SALES_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    occurred_on date NOT NULL,
    recorded_on date NOT NULL,
    currency text NOT NULL,
    orders bigint NOT NULL,
    revenue numeric NOT NULL,
    baskets bigint NOT NULL,
    PRIMARY KEY (occurred_on, recorded_on, currency)
);
"""
"""Per UTC day of business time, UTC day of recording and currency: the orders, their
revenue (sum of `total`), and how many of them have a line with a SKU (`baskets`)."""

BUYERS_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    period text NOT NULL,
    bucket date NOT NULL,
    currency text NOT NULL,
    occurred_on date NOT NULL,
    recorded_on date NOT NULL,
    customers bigint NOT NULL,
    returning_customers bigint NOT NULL,
    PRIMARY KEY (period, bucket, currency, occurred_on, recorded_on)
);
"""
"""Signed counts of distinct buyers per report bucket (`period` day, week or month; the
bucket's first day; `currency` '' for all of them), placed at the UTC days of business
time and recording where a customer's earliest known purchase in the bucket moved
(projections/purchases/buyers.py): summed over the days known at a time, they give the
bucket's customers and how many of them had bought before it (`returning_customers`)."""

PRODUCTS_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    sku text NOT NULL,
    currency text NOT NULL,
    occurred_on date NOT NULL,
    recorded_on date NOT NULL,
    quantity numeric NOT NULL,
    orders bigint NOT NULL,
    revenue numeric,
    name text,
    name_at timestamptz,
    name_order text,
    name_customer uuid,
    name_line bigint,
    PRIMARY KEY (sku, currency, occurred_on, recorded_on)
);
"""
"""Per SKU, currency, UTC day of business time and of recording: quantity, orders with the
SKU, revenue of its priced lines (null: none priced), and the latest named line's name
with what ranks it (the order's time, order id, customer, line number)."""

COLUMNS = (
    "customer_id", "order_id", "occurred_at", "recorded_at", "total", "currency",
    "payment_method", "items", "last_position",
)  # fmt: skip

ROWS = KeyedTable(COLUMNS, key_types=("uuid", "text"))
SCHEMAS = (
    TableSchema(
        DDL,
        (
            ("customer", "(customer_id, occurred_at)"),
            ("occurred", "(occurred_at)"),
            ("recorded", "(recorded_at)"),
            ("items", "USING gin (items jsonb_path_ops)"),
        ),
    ),
    TableSchema(SALES_DDL),
    TableSchema(BUYERS_DDL),
    TableSchema(PRODUCTS_DDL),
)
COMPANIONS = ("sales", "buyers", "products")


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


PROJECTION = Projection(
    TABLE, create, index, key, evolve, ROWS.load, tallies.saver(ROWS), companions=COMPANIONS
)
