"""The `purchases` table: its DDL, indexes, and batch reads and upserts of its rows."""

from collections.abc import Collection, Iterable
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from psycopg import Connection, sql
from psycopg.rows import dict_row

from projections.projection import Projection, Row
from projections.purchases.evolve import evolve, key

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

INDEXES = """
CREATE INDEX IF NOT EXISTS {customer_index} ON {table} (customer_id, occurred_at);
CREATE INDEX IF NOT EXISTS {occurred_index} ON {table} (occurred_at);
"""

COLUMNS = (
    "customer_id", "order_id", "occurred_at", "recorded_at", "total", "currency",
    "payment_method", "items", "last_position",
)  # fmt: skip


def create(conn: Connection[Any], table: str = TABLE) -> None:
    """Creates the table if missing."""
    conn.execute(sql.SQL(DDL).format(table=sql.Identifier(table)))


def index(conn: Connection[Any], table: str = TABLE) -> None:
    """Creates the indexes of a customer's purchases in business-time order and of reports'
    business-time ranges, if missing."""
    conn.execute(
        sql.SQL(INDEXES).format(
            table=sql.Identifier(table),
            customer_index=sql.Identifier(f"{table}_customer_idx"),
            occurred_index=sql.Identifier(f"{table}_occurred_idx"),
        )
    )


def load(conn: Connection[Any], keys: Collection[str], table: str = TABLE) -> dict[str, Row]:
    """The current rows of the given `customer/order` keys, by key."""
    pairs = [k.partition("/") for k in keys]
    query = sql.SQL(
        "SELECT * FROM {} WHERE (customer_id, order_id) IN"
        " (SELECT * FROM unnest(%s::uuid[], %s::text[]))"
    ).format(sql.Identifier(table))
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, ([p[0] for p in pairs], [p[2] for p in pairs])).fetchall()
    return {f"{row['customer_id']}/{row['order_id']}": row for row in rows}


def save(conn: Connection[Any], rows: Iterable[Row], table: str = TABLE) -> None:
    """Inserts or replaces rows in one statement (they travel as one JSON array)."""
    document = orjson.dumps([{c: row[c] for c in COLUMNS} for row in rows], default=_exact)
    if document != b"[]":
        conn.execute(_upsert(table), (document.decode(),))


def _exact(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)  # numeric columns read JSON strings exactly
    raise TypeError(f"{type(value).__name__} is not a read-model value")


@cache
def _upsert(table: str) -> sql.Composed:
    names = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
    return sql.SQL(
        "INSERT INTO {table} ({names}) SELECT {names}"
        " FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
        " ON CONFLICT (customer_id, order_id) DO UPDATE SET {updates}"
    ).format(
        table=sql.Identifier(table),
        names=names,
        updates=sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in COLUMNS[2:]
        ),
    )


PROJECTION = Projection(
    name=TABLE, create=create, index=index, key=key, evolve=evolve, load=load, save=save
)
