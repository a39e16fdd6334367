"""The sales report: per period bucket (UTC) and currency, revenue, orders, average order
value, and new vs returning customers.

A customer is new in the bucket holding their first known purchase, and returning in a
later one. "Known" follows the report's scope: a historical purchase imported late makes
its customer new earlier, and the report as of a time before the import (`as_of_recorded`)
still shows what was known then. Currencies are never added together; order and customer
counts are also given for the whole bucket.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from psycopg import Connection

from projections.purchases.periods import Period, last_day, starts
from projections.purchases.scope import IN_RANGE, KNOWN, Scope

CENT = Decimal("0.01")

QUERY = f"""
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
"""One row per bucket and currency, and one per bucket (currency NULL): orders, revenue,
customers, new customers. A customer's first purchase is in the purchase's bucket when it
is not before the bucket's start."""


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
    """Every bucket of the scope's days, the empty ones too; the scope must bound them."""
    if scope.first is None or scope.last is None:
        raise ValueError("a sales report needs its first and last days")
    rows = conn.execute(QUERY, scope.params() | {"period": period.value}).fetchall()
    return buckets(starts(scope.first, scope.last, period), period, (Tally(*r) for r in rows))


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
