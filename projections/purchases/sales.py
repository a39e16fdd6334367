"""The sales report: per period bucket (UTC) and currency, revenue, orders, average order
value, and new vs returning customers.

A customer is new in the bucket holding their first known purchase, and returning in a
later one. "Known" follows the report's scope: a historical purchase imported late makes
its customer new earlier, and the report as of a time before the import (`as_of_recorded`)
still shows what was known then. Currencies are never added together; order and customer
counts are also given for the whole bucket.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from psycopg import Connection

from projections.purchases.buyers import Bought, marks, utc_day
from projections.purchases.cut import EDGES, WHOLE_DAYS, Cut, cut
from projections.purchases.periods import Period, last_day, start_of, starts
from projections.purchases.scope import Scope

CENT = Decimal("0.01")

SOLD = f"""
WITH sold AS (
    SELECT occurred_on, currency, orders, revenue FROM purchases_sales WHERE {WHOLE_DAYS}
    UNION ALL
    SELECT occurred_on, currency, 1, total FROM ({EDGES}) AS edge
), bucketed AS (
    SELECT date_trunc(%(period)s, occurred_on)::date AS bucket, currency, orders, revenue
    FROM sold
)
SELECT bucket, CASE WHEN GROUPING(currency) = 0 THEN currency END, sum(orders)::bigint,
       sum(revenue)
FROM bucketed GROUP BY GROUPING SETS ((bucket, currency), (bucket))
"""
"""Orders and revenue per bucket and currency, and per bucket (currency NULL): whole days
from `purchases_sales`, the edges' days from the purchases."""

BUYERS = """
SELECT bucket, nullif(currency, ''), sum(customers)::bigint,
       sum(returning_customers)::bigint
FROM purchases_buyers
WHERE period = %(period)s AND bucket BETWEEN %(first_day)s AND %(last_day)s
  AND occurred_on <= %(last_day)s
  AND occurred_on < coalesce(%(occurred_edge)s::date, 'infinity')
  AND recorded_on < coalesce(%(recorded_edge)s::date, 'infinity')
GROUP BY bucket, currency
"""
"""Customers and returning customers per bucket and currency ('' for all), over the marks
of whole days (a last bucket cut short counts the marks up to its last day)."""

EDGE_CUSTOMERS = "SELECT DISTINCT customer_id FROM purchases WHERE {on_edges}"
"""The customers with a purchase on an edge's day: only they have marks there."""
HISTORIES = (
    "SELECT customer_id, occurred_at, recorded_at, currency FROM purchases"
    " WHERE customer_id = ANY(%(customers)s)"
)
"""Every purchase of some customers (read by the customer index)."""

Counts = Counter[tuple[date, str | None, bool]]
"""Customers (False) and returning customers (True) per bucket and currency (None: all)."""


@dataclass(frozen=True)
class Tally:
    """What the query counted in one bucket, for one currency or (None) for all."""

    start: date
    currency: str | None
    orders: int
    revenue: Decimal
    customers: int
    new_customers: int


@dataclass(frozen=True)
class CurrencySales:
    """One currency's sales in a bucket."""

    currency: str
    revenue: Decimal
    orders: int
    average_order_value: Decimal
    customers: int
    new_customers: int
    returning_customers: int


@dataclass(frozen=True)
class Bucket:
    """A period's sales: its first and last UTC days, counts over every currency, and
    revenue per currency (by currency code)."""

    start: date
    end: date
    orders: int
    customers: int
    new_customers: int
    returning_customers: int
    currencies: list[CurrencySales]


def sales(conn: Connection[Any], period: Period, scope: Scope) -> list[Bucket]:
    """Every bucket of the scope's days, the empty ones too; the scope must bound them, and
    begin a bucket (the last one may end early)."""
    if scope.first is None or scope.last is None:
        raise ValueError("a sales report needs its first and last days")
    if start_of(scope.first, period) != scope.first:
        raise ValueError("a sales report begins a bucket")
    parts = cut(conn, scope)
    params = parts.params() | {"period": period.value}
    counts = _buyers(conn, parts, period, params)
    tallies = [
        Tally(start, currency, orders, revenue, counts[start, currency, False],
              counts[start, currency, False] - counts[start, currency, True])
        for start, currency, orders, revenue in conn.execute(parts.query(SOLD), params)
    ]  # fmt: skip
    return buckets(starts(scope.first, scope.last, period), period, tallies)


def _buyers(conn: Connection[Any], parts: Cut, period: Period, params: dict[str, Any]) -> Counts:
    """The buyer counts of whole days, plus the marks of the edges' customers on them."""
    counts: Counts = Counter()
    for start, currency, customers, returning in conn.execute(BUYERS, params):
        counts[start, currency, False] += customers
        counts[start, currency, True] += returning
    if parts.occurred_edge is None and parts.recorded_edge is None:
        return counts
    histories: dict[Any, list[Bought]] = {}
    edge = [c for (c,) in conn.execute(parts.query(EDGE_CUSTOMERS), params)]
    for customer, occurred, recorded, currency in conn.execute(HISTORIES, {"customers": edge}):
        histories.setdefault(customer, []).append(Bought(occurred, recorded, currency))
    first, last = params["first_day"], params["last_day"]
    for bought in histories.values():
        for mark, sign in marks(bought, (period,)).items():
            at = (mark.occurred_at, mark.recorded_at)
            in_scope = first <= mark.bucket and utc_day(mark.occurred_at) <= last
            if in_scope and parts.on_edge(*at) and parts.known(*at):
                counts[mark.bucket, mark.currency or None, mark.returning] += sign
    return counts


def buckets(firsts: list[date], period: Period, tallies: Iterable[Tally]) -> list[Bucket]:
    """The buckets starting on `firsts`, from the tallies of those that had sales."""
    whole: dict[date, Tally] = {}
    by_currency: dict[date, list[CurrencySales]] = {}
    for tally in tallies:
        if tally.currency is None:
            whole[tally.start] = tally
        else:
            by_currency.setdefault(tally.start, []).append(_currency(tally))
    return [
        _bucket(start, period, whole.get(start), by_currency.get(start, [])) for start in firsts
    ]


def _bucket(
    start: date, period: Period, tally: Tally | None, currencies: list[CurrencySales]
) -> Bucket:
    orders, customers, new = (
        (tally.orders, tally.customers, tally.new_customers) if tally else (0, 0, 0)
    )
    return Bucket(
        start=start,
        end=last_day(start, period),
        orders=orders,
        customers=customers,
        new_customers=new,
        returning_customers=customers - new,
        currencies=sorted(currencies, key=lambda c: c.currency),
    )


def _currency(tally: Tally) -> CurrencySales:
    return CurrencySales(
        currency=str(tally.currency),
        revenue=tally.revenue,
        orders=tally.orders,
        average_order_value=(tally.revenue / tally.orders).quantize(CENT),
        customers=tally.customers,
        new_customers=tally.new_customers,
        returning_customers=tally.customers - tally.new_customers,
    )
