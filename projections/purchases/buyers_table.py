"""The `purchases_buyers` aggregate, kept beside `purchases` by its projection
(projections/purchases/tallies.py)."""

from projections.table_schema import TableSchema

TABLE = "purchases_buyers"

DDL = """
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

SCHEMA = TableSchema(DDL)
