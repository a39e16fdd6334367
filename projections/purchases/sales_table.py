"""The `purchases_sales` aggregate, kept beside `purchases` by its projection
(projections/purchases/tallies.py)."""

from projections.table_schema import TableSchema

TABLE = "purchases_sales"

DDL = """
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

SCHEMA = TableSchema(DDL)
