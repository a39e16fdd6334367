"""The reports as they were computed before the aggregates: straight from the purchases
table, one query each. Kept as the reference the reports must equal, for any scope.

A product's name breaks ties of time and order id by customer, then by the line's place
in the order (the reports' rule); the queries are otherwise as they were."""

from typing import Any

from psycopg import Connection, sql
from psycopg.types.json import Jsonb

from projections.purchases.periods import Period
from projections.purchases.products import _ORDER, Ranking
from projections.purchases.sales import Tally
from projections.purchases.scope import IN_RANGE, KNOWN, Scope

SALES = f"""
WITH in_range AS NOT MATERIALIZED (
    SELECT customer_id, occurred_at, total, currency FROM purchases
    WHERE {KNOWN} AND {IN_RANGE}
), firsts AS (
    SELECT customer_id, min(occurred_at) AS first_at FROM purchases
    WHERE {KNOWN} AND customer_id IN (SELECT customer_id FROM in_range)
    GROUP BY customer_id
), sold AS (
    SELECT date_trunc(%(period)s, p.occurred_at, 'UTC') AS bucket, p.currency, p.total,
           p.customer_id, f.first_at >= date_trunc(%(period)s, p.occurred_at, 'UTC') AS new
    FROM in_range p JOIN firsts f USING (customer_id)
)
SELECT (bucket AT TIME ZONE 'UTC')::date, CASE WHEN GROUPING(currency) = 0 THEN currency END,
       count(*), sum(total), count(DISTINCT customer_id),
       count(DISTINCT customer_id) FILTER (WHERE new)
FROM sold GROUP BY GROUPING SETS ((bucket, currency), (bucket))
"""

LINES = f"""
SELECT p.customer_id, p.order_id, p.occurred_at, p.currency, p.items, line ->> 'sku' AS sku,
       line ->> 'name' AS name, (line ->> 'quantity')::numeric AS quantity,
       (line ->> 'unit_price')::numeric AS unit_price, number
FROM purchases p CROSS JOIN LATERAL jsonb_array_elements(p.items) WITH ORDINALITY AS l(line, number)
WHERE {KNOWN} AND {IN_RANGE} AND line ->> 'sku' IS NOT NULL
"""
LATEST = "occurred_at DESC, order_id DESC, customer_id DESC, number DESC"

BEST_SELLERS = f"""
WITH lines AS NOT MATERIALIZED ({LINES}), products AS (
    SELECT currency, sku, sum(quantity) AS quantity, count(*) AS orders,
           sum(revenue) AS revenue
    FROM (
        SELECT currency, sku, customer_id, order_id, sum(quantity) AS quantity,
               sum(quantity * unit_price) AS revenue
        FROM lines GROUP BY currency, sku, customer_id, order_id
    ) AS per_order
    GROUP BY currency, sku
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY currency ORDER BY {{order}}) AS rank FROM products
), best AS (SELECT * FROM ranked WHERE rank <= %(limit)s),
names AS (
    SELECT DISTINCT ON (sku) sku, name FROM lines
    WHERE name IS NOT NULL AND sku IN (SELECT sku FROM best)
    ORDER BY sku, {LATEST}
)
SELECT currency, sku, name, quantity, orders, revenue FROM best LEFT JOIN names USING (sku)
ORDER BY currency, rank
"""

BASKETS = f"""
SELECT count(*), count(*) FILTER (WHERE items @> %(containing)s)
FROM purchases WHERE {KNOWN} AND {IN_RANGE} AND items @? '$[*].sku ? (@ != null)'
"""

TOGETHER = f"""
WITH lines AS NOT MATERIALIZED ({LINES}),
together AS (
    SELECT sku, count(DISTINCT (customer_id, order_id)) AS orders FROM lines
    WHERE items @> %(containing)s AND sku <> %(sku)s
    GROUP BY sku HAVING count(DISTINCT (customer_id, order_id)) >= %(min_orders)s
),
theirs AS (
    SELECT sku, count(DISTINCT (customer_id, order_id)) AS orders,
           (array_agg(name ORDER BY {LATEST}) FILTER (WHERE name IS NOT NULL))[1] AS name
    FROM lines WHERE sku IN (SELECT sku FROM together) GROUP BY sku
)
SELECT sku, theirs.name, together.orders, theirs.orders FROM together JOIN theirs USING (sku)
"""


def sales(conn: Connection[Any], period: Period, scope: Scope) -> list[Tally]:
    """The tallies of each bucket and currency (and bucket: currency None) with sales."""
    rows = conn.execute(SALES, scope.params() | {"period": period.value}).fetchall()
    return [Tally(*row) for row in rows]


def best_sellers(
    conn: Connection[Any], scope: Scope, ranking: Ranking, limit: int
) -> list[tuple[Any, ...]]:
    """(currency, sku, name, quantity, orders, revenue) of the best sellers, best first."""
    query = sql.SQL(BEST_SELLERS).format(order=sql.SQL(_ORDER[ranking]))
    return conn.execute(query, scope.params() | {"limit": limit}).fetchall()


def bought_together(
    conn: Connection[Any], scope: Scope, sku: str, min_orders: int = 1
) -> tuple[tuple[int, int], list[tuple[Any, ...]]]:
    """(orders with a SKU, orders with `sku`), and (sku, name, orders with both, its
    orders) of each product bought with it in at least `min_orders` orders."""
    params = scope.params() | {
        "sku": sku, "min_orders": min_orders, "containing": Jsonb([{"sku": sku}])
    }  # fmt: skip
    counts = conn.execute(BASKETS, params).fetchone() or (0, 0)
    return (counts[0], counts[1]), conn.execute(TOGETHER, params).fetchall()
