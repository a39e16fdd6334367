"""Product reports from order lines with a SKU: the best sellers per currency, and the
products bought in the same orders as a given one (for cross-selling).

A product's revenue is the sum of quantity times unit price over its priced lines (lines
imported without a price count in quantity only); it is what the lines say, before any
order-level discount, and per currency. A product's name is the one its latest named line
gave.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from psycopg import Connection, sql
from psycopg.types.json import Jsonb

from projections.purchases.cut import EDGES, WHOLE_DAYS, cut
from projections.purchases.lines import lines
from projections.purchases.scope import IN_RANGE, KNOWN, Scope

TALLIES = f"""
SELECT sku, currency, quantity, orders, revenue, name, name_at, name_order, name_customer,
       name_line
FROM purchases_products WHERE {WHOLE_DAYS}
UNION ALL
SELECT sku, currency, quantity,
       (row_number() OVER (PARTITION BY customer_id, order_id, sku ORDER BY number) = 1)::int,
       quantity * unit_price, name, occurred_at, order_id, customer_id, number
FROM ({lines(EDGES)}) AS edge
"""
"""Each product's tallies in scope: the whole days' rows of `purchases_products`, and the
lines of the edges' purchases (an order counted at its first line of the SKU); each row
with the name of its latest named line and what ranks it."""

NAMES = """
SELECT DISTINCT ON (sku) sku, name FROM tallies
WHERE name IS NOT NULL AND sku IN (SELECT sku FROM {chosen})
ORDER BY sku, name_at DESC, name_order DESC, name_customer DESC, name_line DESC
"""
"""The name of each chosen product: its latest named line's, over every currency."""


class Ranking(StrEnum):
    """What best sellers are ranked by."""

    QUANTITY = "quantity"
    REVENUE = "revenue"


_ORDER = {
    Ranking.QUANTITY: "quantity DESC, revenue DESC NULLS LAST, sku",
    Ranking.REVENUE: "revenue DESC NULLS LAST, quantity DESC, sku",
}

BEST_SELLERS = f"""
WITH tallies AS MATERIALIZED ({TALLIES}), products AS (
    SELECT currency, sku, sum(quantity) AS quantity, sum(orders)::bigint AS orders,
           sum(revenue) AS revenue
    FROM tallies GROUP BY currency, sku
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY currency ORDER BY {{order}}) AS rank FROM products
), best AS (SELECT * FROM ranked WHERE rank <= %(limit)s),
names AS ({NAMES.format(chosen="best")})
SELECT currency, sku, name, quantity, orders, revenue FROM best LEFT JOIN names USING (sku)
ORDER BY currency, rank
"""
"""The `limit` best sellers of each currency (an order counts once however many lines of a
SKU it has); names over every currency."""

BASKETS = f"""
SELECT ((SELECT coalesce(sum(baskets), 0) FROM purchases_sales WHERE {WHOLE_DAYS})
        + (SELECT count(*) FROM ({EDGES}) AS edge WHERE items @? '$[*].sku ? (@ != null)'))::bigint,
       ((SELECT coalesce(sum(orders), 0) FROM purchases_products
         WHERE sku = %(sku)s AND {WHOLE_DAYS})
        + (SELECT count(*) FROM ({EDGES}) AS edge WHERE items @> %(containing)s))::bigint
"""
"""How many orders in scope have a SKU, and how many have the given one."""

WITH_IT = f"SELECT * FROM purchases WHERE items @> %(containing)s AND {KNOWN} AND {IN_RANGE}"
"""The orders in scope with the given SKU."""
TOGETHER = f"""
WITH together AS (
    SELECT sku, count(DISTINCT (customer_id, order_id)) AS orders
    FROM ({lines(WITH_IT)}) AS with_it
    WHERE sku <> %(sku)s
    GROUP BY sku HAVING count(DISTINCT (customer_id, order_id)) >= %(min_orders)s
), tallies AS MATERIALIZED (
    SELECT * FROM ({TALLIES}) AS all_tallies WHERE sku IN (SELECT sku FROM together)
), theirs AS (SELECT sku, sum(orders)::bigint AS orders FROM tallies GROUP BY sku),
names AS ({NAMES.format(chosen="together")})
SELECT sku, names.name, together.orders, theirs.orders
FROM together JOIN theirs USING (sku) LEFT JOIN names USING (sku)
"""
"""Each SKU bought in the same orders as the given one (found through the GIN index of
`items`): its name, how many orders have both, and how many have it."""


@dataclass(frozen=True)
class Product:
    """A product's sales in one currency."""

    sku: str
    name: str | None
    quantity: int
    orders: int
    revenue: Decimal | None


@dataclass(frozen=True)
class CurrencyProducts:
    """The best sellers in one currency, best first."""

    currency: str
    products: list[Product]


def best_sellers(
    conn: Connection[Any], scope: Scope, ranking: Ranking, limit: int
) -> list[CurrencyProducts]:
    """The `limit` best-selling products of each currency, by `ranking`."""
    parts = cut(conn, scope)
    query, params = parts.query(BEST_SELLERS, order=sql.SQL(_ORDER[ranking])), parts.params()
    _without_jit(conn)
    rows = conn.execute(query, params | {"limit": limit}).fetchall()
    found: dict[str, list[Product]] = {}
    for currency, sku, name, quantity, orders, revenue in rows:
        product = Product(sku, name, int(quantity), orders, revenue)
        found.setdefault(currency, []).append(product)
    return [CurrencyProducts(currency, products) for currency, products in found.items()]


@dataclass(frozen=True)
class Association:
    """A product bought in the same orders as another: `orders` have both; `support` is
    their share of all orders with a SKU, `confidence` their share of the other product's
    orders, and `lift` how much likelier it is in an order with the other than in any."""

    sku: str
    name: str | None
    orders: int
    support: float
    confidence: float
    lift: float


@dataclass(frozen=True)
class BoughtTogether:
    """The products bought with `sku`, most often first; `orders` have `sku`, and `baskets`
    are all the orders with a SKU in scope."""

    sku: str
    orders: int
    baskets: int
    items: list[Association]


def associate(
    sku: str, name: str | None, together: int, its_orders: int, given: int, baskets: int
) -> Association:
    """The association of a product with a given one, from order counts: `together` have
    both, `its_orders` have the product, `given` have the given one, of `baskets` orders."""
    return Association(
        sku=sku,
        name=name,
        orders=together,
        support=round(together / baskets, 4),
        confidence=round(together / given, 4),
        lift=round(together * baskets / (given * its_orders), 4),
    )


def ranked(associations: Iterable[Association], limit: int) -> list[Association]:
    """The `limit` strongest associations: most orders first, then highest lift, then SKU."""
    return sorted(associations, key=lambda a: (-a.orders, -a.lift, a.sku))[:limit]


def bought_together(
    conn: Connection[Any], scope: Scope, sku: str, limit: int, min_orders: int = 1
) -> BoughtTogether:
    """The products bought in at least `min_orders` of the orders that have `sku`."""
    containing = Jsonb([{"sku": sku}])
    parts = cut(conn, scope)
    params = parts.params() | {
        "sku": sku, "min_orders": min_orders, "containing": containing
    }  # fmt: skip
    _without_jit(conn)
    baskets, given = conn.execute(parts.query(BASKETS), params).fetchone() or (0, 0)
    rows = conn.execute(parts.query(TOGETHER), params).fetchall() if given else []
    found = (associate(other, name, both, its, given, baskets) for other, name, both, its in rows)
    return BoughtTogether(sku, given, baskets, ranked(found, limit))


def _without_jit(conn: Connection[Any]) -> None:
    """Turns JIT compilation off for the caller's transaction: the planner guesses 100 lines
    per order, and the compiling its inflated estimates set off took longer than the query
    (1 to 3 s of 3 to 7 s, 100,000 orders)."""
    conn.execute("SET LOCAL jit = off")
