"""Writes a batch of orders and the tallies of the new ones, in the caller's transaction.

An order row is inserted once (a second record of an order changes nothing), and only the
rows actually inserted are added to the aggregates: each order is counted once, however
often a feed delivers its event, because its row and its tallies commit together. The
additive tables take `x = x + EXCLUDED.x` upserts in key order, so that feeds of other
customers (Kafka partitions) may add to the same rows at once without deadlocks.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from psycopg import Connection, sql

from projections.keyed_table import KeyedTable
from projections.projection import Row
from projections.purchases.buyers import Bought, Mark, changes, utc_day
from projections.purchases.lines import NAME_ORDER, lines

Saver = Callable[[Connection[Any], Iterable[Row], str], None]

TALLY = """
WITH new AS ({new}), sales AS (
    INSERT INTO {sales} AS t (occurred_on, recorded_on, currency, orders, revenue, baskets)
    SELECT occurred_on, recorded_on, currency, count(*), sum(total),
           count(*) FILTER (WHERE items @? '$[*].sku ? (@ != null)')
    FROM new GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (occurred_on, recorded_on, currency) DO UPDATE SET
        orders = t.orders + EXCLUDED.orders, revenue = t.revenue + EXCLUDED.revenue,
        baskets = t.baskets + EXCLUDED.baskets
), lines AS ({lines}), named AS (
    SELECT DISTINCT ON (sku, currency, occurred_on, recorded_on)
           sku, currency, occurred_on, recorded_on, name, occurred_at AS name_at,
           order_id AS name_order, customer_id AS name_customer, number AS name_line
    FROM lines WHERE name IS NOT NULL
    ORDER BY sku, currency, occurred_on, recorded_on, {name_order}
), products AS (
    INSERT INTO {products} AS t (sku, currency, occurred_on, recorded_on, quantity, orders,
        revenue, name, name_at, name_order, name_customer, name_line)
    SELECT sku, currency, occurred_on, recorded_on, q.quantity, q.orders, q.revenue,
           n.name, n.name_at, n.name_order, n.name_customer, n.name_line
    FROM (
        SELECT sku, currency, occurred_on, recorded_on, sum(quantity) AS quantity,
               count(DISTINCT (customer_id, order_id)) AS orders,
               sum(quantity * unit_price) AS revenue
        FROM lines GROUP BY 1, 2, 3, 4
    ) AS q LEFT JOIN named n USING (sku, currency, occurred_on, recorded_on)
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (sku, currency, occurred_on, recorded_on) DO UPDATE SET
        quantity = t.quantity + EXCLUDED.quantity, orders = t.orders + EXCLUDED.orders,
        revenue = coalesce(t.revenue + EXCLUDED.revenue, t.revenue, EXCLUDED.revenue),
        {renamed}
)
SELECT customer_id, order_id FROM new
"""
"""Adds the orders of `new` (a query of purchases rows, with `recorded_on`) to the sales
and products tallies, and answers their keys."""

NAMED = ("name", "name_at", "name_order", "name_customer", "name_line")
RENAMED = sql.SQL(", ").join(
    sql.SQL(
        "{0} = CASE WHEN EXCLUDED.name_at IS NOT NULL AND (t.name_at IS NULL OR"
        " (EXCLUDED.name_at, EXCLUDED.name_order, EXCLUDED.name_customer, EXCLUDED.name_line)"
        " > (t.name_at, t.name_order, t.name_customer, t.name_line))"
        " THEN EXCLUDED.{0} ELSE t.{0} END"
    ).format(sql.Identifier(column))
    for column in NAMED
)
"""A product's name is its latest named line's: by the order's time, id, customer, line."""

RETURNED = (
    "customer_id, order_id, occurred_at, occurred_on,"
    " (recorded_at AT TIME ZONE 'UTC')::date AS recorded_on, total, currency, items"
)
INSERTED = (
    "INSERT INTO {orders} ({columns}) SELECT {columns}"
    " FROM jsonb_populate_recordset(NULL::{orders}, %s::jsonb)"
    " ON CONFLICT (customer_id, order_id) DO NOTHING RETURNING " + RETURNED
)
"""The new orders of a batch: those whose row it inserts."""
EXISTING = "SELECT " + RETURNED + " FROM {orders} WHERE customer_id = ANY(%s::uuid[])"
"""Every order of some customers (to fill new aggregates)."""

BUYERS = """
WITH added AS (
    INSERT INTO {buyers} AS t
    SELECT * FROM unnest(
        %b::text[], %b::date[], %b::text[], %b::date[], %b::date[], %b::bigint[], %b::bigint[]
    ) ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (period, bucket, currency, occurred_on, recorded_on) DO UPDATE SET
        customers = t.customers + EXCLUDED.customers, returning_customers = t.returning_customers + EXCLUDED.returning_customers
    RETURNING *
)
SELECT period, bucket, currency, occurred_on, recorded_on FROM added
WHERE customers = 0 AND returning_customers = 0
"""
EMPTIED = """
DELETE FROM {buyers} WHERE (period, bucket, currency, occurred_on, recorded_on) IN (
    SELECT * FROM unnest(%s::text[], %s::date[], %s::text[], %s::date[], %s::date[])
) AND customers = 0 AND returning_customers = 0
"""
"""Rows whose counts came back to zero go, as a rebuild would not make them."""
HISTORIES = (
    "SELECT customer_id::text, order_id, occurred_at, recorded_at, currency FROM {orders}"
    " WHERE customer_id = ANY(%s::uuid[])"
)
BACKFILL_CUSTOMERS = 5000
"""Customers whose orders are added at a time when aggregates are filled from the table."""


def saver(rows: KeyedTable) -> Saver:
    """The projection's `save`: inserts the new orders and adds them to the aggregates."""

    def save(conn: Connection[Any], batch: Iterable[Row], table: str) -> None:
        document = rows.document(batch)
        if document == "[]":
            return
        inserted = sql.SQL(INSERTED).format(
            orders=sql.Identifier(table),
            columns=sql.SQL(", ").join(map(sql.Identifier, rows.columns)),
        )
        _tally(conn, table, inserted, document)

    return save


def backfill(conn: Connection[Any], table: str) -> None:
    """Fills empty aggregates from every order already in `table`."""
    customers = [
        c for (c,) in conn.execute(sql.SQL("SELECT DISTINCT customer_id FROM {}").format(
            sql.Identifier(table)))
    ]  # fmt: skip
    existing = sql.SQL(EXISTING).format(orders=sql.Identifier(table))
    for start in range(0, len(customers), BACKFILL_CUSTOMERS):
        _tally(conn, table, existing, customers[start : start + BACKFILL_CUSTOMERS])


def _tally(conn: Connection[Any], table: str, new: sql.Composable, param: object) -> None:
    tally = sql.SQL(TALLY).format(
        new=new,
        sales=sql.Identifier(f"{table}_sales"),
        products=sql.Identifier(f"{table}_products"),
        renamed=RENAMED,
        lines=sql.SQL(lines("SELECT * FROM new", "p.occurred_on, p.recorded_on")),
        name_order=sql.SQL(NAME_ORDER),
    )
    added = conn.execute(tally, (param,)).fetchall()
    if added:
        _count_buyers(conn, table, added)


def _count_buyers(conn: Connection[Any], table: str, inserted: Sequence[tuple[Any, str]]) -> None:
    """Adds the changes the new orders make to their customers' buyer marks."""
    new = {(str(c), o) for c, o in inserted}
    customers = sorted({c for c, _ in new})
    histories: dict[str, list[tuple[str, Bought]]] = defaultdict(list)
    query = sql.SQL(HISTORIES).format(orders=sql.Identifier(table))
    for customer, order, occurred, recorded, currency in conn.execute(query, (customers,)):
        histories[customer].append((order, Bought(occurred, recorded, currency)))
    total: Counter[Mark] = Counter()
    for customer, orders in histories.items():
        before: list[Bought] = []
        added: list[Bought] = []
        for order, bought in orders:
            (added if (customer, order) in new else before).append(bought)
        total.update(changes(before, added))
    _add_marks(conn, f"{table}_buyers", total)


def _add_marks(conn: Connection[Any], buyers: str, marks: Counter[Mark]) -> None:
    days: dict[tuple[str, date, str, date, date], list[int]] = defaultdict(lambda: [0, 0])
    for mark, sign in marks.items():
        day = (
            mark.period.value, mark.bucket, mark.currency,
            utc_day(mark.occurred_at), utc_day(mark.recorded_at),
        )  # fmt: skip
        days[day][mark.returning] += sign
    rows = [(*key, *counts) for key, counts in days.items() if any(counts)]
    if not rows:
        return
    table = sql.Identifier(buyers)
    emptied = conn.execute(
        sql.SQL(BUYERS).format(buyers=table), [list(c) for c in zip(*rows, strict=True)]
    )
    gone = emptied.fetchall()
    if gone:
        conn.execute(
            sql.SQL(EMPTIED).format(buyers=table), [list(c) for c in zip(*gone, strict=True)]
        )
