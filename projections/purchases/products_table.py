"""The `purchases_products` aggregate, kept beside `purchases` by its projection
(projections/purchases/tallies.py)."""

from projections.table_schema import TableSchema

TABLE = "purchases_products"

DDL = """
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

SCHEMA = TableSchema(DDL)
