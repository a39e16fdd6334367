"""The reports read from the aggregates equal the reports read straight from the purchases
table (tests/purchases_oracle.py), for random purchases, some recorded days or weeks after
they occurred (late imports), in several currencies, and random scopes: days, `as_of` and
`as_of_recorded` anywhere, on a purchase's very instant too."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.bootstrap import Container
from domain.events.envelope import Envelope
from projections.catalog import PURCHASES
from projections.projection import apply_batch
from projections.purchases.periods import Period, start_of, starts
from projections.purchases.products import (
    Ranking,
    associate,
    best_sellers,
    bought_together,
    ranked,
)
from projections.purchases.sales import buckets, sales
from projections.purchases.scope import Scope
from tests import purchases_oracle as oracle
from tests.integration.conftest import crm_on

START = datetime(2025, 1, 1, tzinfo=UTC)
CUSTOMERS = [UUID(int=n + 1) for n in range(5)]
SKUS = ["TEA", "JAM", "SCONE", "GIFT"]

hours = st.integers(0, 40 * 24).map(lambda h: START + timedelta(hours=h))
"""An hour of 40 days: purchases often share a day, a week or a month."""
lines = st.fixed_dictionaries(
    {
        "sku": st.one_of(st.none(), st.sampled_from(SKUS)),
        "name": st.one_of(st.none(), st.sampled_from(["Tea", "Jam", "Green tea"])),
        "quantity": st.integers(1, 3),
        "unit_price": st.one_of(st.none(), st.sampled_from(["2.50", "10.00", "0.99"])),
    }
)
orders = st.tuples(
    st.sampled_from(CUSTOMERS),
    st.sampled_from([f"order-{n}" for n in range(12)]),  # a repeat is a second record
    hours,
    st.sampled_from([timedelta(0), timedelta(hours=5), timedelta(days=9), timedelta(days=30)]),
    st.sampled_from(["EUR", "USD"]),
    st.sampled_from(["9.99", "100.00", "0.01", "42.5"]),
    st.lists(lines, max_size=3),
)
"""A customer's order: when it occurred, how much later it was recorded, its currency,
total and lines."""
days = st.integers(-3, 45).map(lambda d: START.date() + timedelta(days=d))
instants = st.one_of(st.none(), hours, hours.map(lambda h: h + timedelta(minutes=30)))


@pytest.fixture(scope="module")
def own(new_database) -> Iterator[Container]:
    """A container on a database of its own: the test writes the read model directly."""
    with crm_on(new_database()) as built:
        yield built


def recorded(position: int, order: tuple) -> Envelope:
    customer, order_id, occurred, late, currency, total, items = order
    return Envelope(
        type="Customer.PurchaseRecorded", stream_id=str(customer), stream_version=position,
        position=position, customer_id=str(customer), occurred_at=occurred,
        recorded_at=occurred + late, actor="t", correlation_id="c", causation_id=None,
        schema_version=1,
        data={"order_id": order_id, "items": items, "total": total, "currency": currency},
    )  # fmt: skip


def fed(conn, bought: list[tuple], cuts: list[int]) -> None:
    """The purchases read model holds exactly these orders, applied in batches."""
    tables = ", ".join(PURCHASES.tables(PURCHASES.name))
    conn.execute(f"TRUNCATE {tables}")
    conn.execute("UPDATE crm_projections SET position = 0 WHERE name = %s", (PURCHASES.name,))
    conn.commit()
    events = [recorded(n, order) for n, order in enumerate(bought, 1)]
    for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
        apply_batch(conn, PURCHASES, events[start:end])


scopes = st.builds(
    lambda first, length, as_of, recorded: Scope(
        first, first and first + timedelta(days=length), as_of, recorded
    ),
    st.one_of(st.none(), days),
    st.integers(0, 40),
    instants,
    instants,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(orders, max_size=25), st.lists(st.integers(0, 25)), scopes, st.data())
def test_every_report_equals_the_query_of_the_purchases_table(
    own, bought, cuts, scope, data
) -> None:
    with own.pool.connection() as conn:
        # Given the read model fed with random orders, in random batches
        fed(conn, bought, sorted({c for c in cuts if c <= len(bought)}))
        # and, when asked of every bought SKU, a moment an order occurred or was recorded
        moments = [o[2] for o in bought] + [o[2] + o[3] for o in bought]
        if moments and data.draw(st.booleans()):
            scope = replace(scope, as_of_recorded=data.draw(st.sampled_from(moments)))
        for period in Period:
            # When a sales report is asked for, the days widened to whole buckets
            first = scope.first or START.date()
            widened = replace(scope, first=start_of(first, period), last=first + timedelta(40))
            found = sales(conn, period, widened)
            conn.commit()
            # Then it is what the query of the purchases table gives
            expected = oracle.sales(conn, period, widened)
            assert found == buckets(starts(widened.first, widened.last, period), period, expected)
        for ranking in Ranking:
            found_products = best_sellers(conn, scope, ranking, 3)
            conn.commit()
            expected_products = oracle.best_sellers(conn, scope, ranking, 3)
            assert [
                (c.currency, p.sku, p.name, p.quantity, p.orders, p.revenue)
                for c in found_products
                for p in c.products
            ] == [(c, s, n, int(q), o, r) for c, s, n, q, o, r in expected_products]
        for sku in SKUS:
            together = bought_together(conn, scope, sku, 10)
            conn.commit()
            (baskets, given_), expected_together = oracle.bought_together(conn, scope, sku)
            assert (together.baskets, together.orders) == (baskets, given_)
            expected_items = (
                associate(s, n, both, its, given_, baskets) for s, n, both, its in expected_together
            )
            assert together.items == ranked(expected_items, 10)
