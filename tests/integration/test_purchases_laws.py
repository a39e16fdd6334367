"""Laws of the purchases read model over a real PostgreSQL: a rebuild equals the live table,
and the sales report equals a plain fold of the table's rows, whatever the time travel."""

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import product

from hypothesis import given
from hypothesis import strategies as st
from psycopg.rows import dict_row

import projections.rebuild
from commands.customers import ItemLine, RecordPurchase
from consumers.store_follower import StoreFollower
from projections.catalog import PURCHASES
from projections.purchases.periods import Period, start_of, starts
from projections.purchases.sales import Tally, buckets, sales
from projections.purchases.scope import Scope
from projections.rebuild import rebuild
from tests.integration.test_rebuild_equals_live import DB_SETTINGS, run_all
from tests.strategies import money, registrations, words

START = datetime(2025, 1, 1, tzinfo=UTC)
occurred = st.one_of(st.none(), st.integers(0, 70 * 24).map(lambda h: START + timedelta(hours=h)))
"""Now, or an hour of ten weeks of 2025: a customer's purchases often share a bucket."""
purchases = st.builds(
    RecordPurchase,
    order_id=st.sampled_from([f"order-{i}" for i in range(8)]),  # repeats are refused
    items=st.lists(
        st.builds(ItemLine, sku=words, quantity=st.integers(1, 3), unit_price=money), max_size=3
    ),
    total=money,
    currency=st.sampled_from(["EUR", "USD"]),
    occurred_at=occurred,
)
customers = st.lists(
    st.tuples(registrations, st.lists(purchases, max_size=6)), min_size=1, max_size=4
)
days = st.integers(-7, 70).map(lambda d: START.date() + timedelta(days=d))


def table(conn) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM purchases ORDER BY customer_id, order_id").fetchall()


def feed(container, bought) -> None:
    run_all(container.bus, bought)
    StoreFollower(container.store, container.pool, container.url, [PURCHASES]).catch_up()


@DB_SETTINGS
@given(customers)
def test_rebuilding_purchases_equals_the_live_table(container, monkeypatch, bought) -> None:
    # Given the live table, fed in-process, caught up with random purchases
    feed(container, bought)
    # and a rebuild that reads 7 events at a time and holds at most 3 rows in memory
    monkeypatch.setattr(projections.rebuild, "BATCH", 7)
    monkeypatch.setattr(projections.rebuild, "ROWS_IN_MEMORY", 3)
    with container.pool.connection() as conn:
        live = tables(conn)
        # When it is rebuilt from position 0 and swapped in
        rebuild(conn, PURCHASES)
        # Then it is the same, row for row, and so are its aggregates
        assert tables(conn) == live


def tables(conn) -> dict[str, list[tuple]]:
    """The rows of the purchases table and of its aggregates, in order."""
    with conn.cursor() as cur:
        return {
            name: cur.execute(f"SELECT * FROM {name} ORDER BY 1, 2, 3, 4, 5").fetchall()
            for name in PURCHASES.tables(PURCHASES.name)
        }


def folded(rows: list[dict], period: Period, scope: Scope) -> list[Tally]:
    """The tallies of the sales report, by a plain fold of the purchases table's rows."""
    limit = datetime.max.replace(tzinfo=UTC)
    known = [
        r for r in rows
        if r["occurred_at"] <= (scope.as_of or limit)
        and r["recorded_at"] <= (scope.as_of_recorded or limit)
    ]  # fmt: skip
    first: dict = {}
    for r in known:
        first[r["customer_id"]] = min(r["occurred_at"], first.get(r["customer_id"], limit))
    groups: dict = defaultdict(lambda: [0, Decimal(0), set(), set()])
    for r in known:
        day = r["occurred_at"].astimezone(UTC).date()
        if not scope.first <= day <= scope.last:
            continue
        bucket = start_of(day, period)
        new = start_of(first[r["customer_id"]].astimezone(UTC).date(), period) == bucket
        for currency in (r["currency"], None):
            group = groups[bucket, currency]
            group[0] += 1
            group[1] += r["total"]
            group[2].add(r["customer_id"])
            if new:
                group[3].add(r["customer_id"])
    return [
        Tally(b, c, n, total, len(who), len(new)) for (b, c), (n, total, who, new) in groups.items()
    ]


@DB_SETTINGS
@given(customers, days, st.integers(0, 100), st.one_of(st.none(), days), st.floats(0, 1))
def test_the_sales_report_equals_a_fold_of_the_known_purchases(
    container, bought, first, length, as_of_day, recorded_share
) -> None:
    # Given random purchases, some historical, in the live table
    feed(container, bought)
    with container.pool.connection() as conn:
        rows = table(conn)
        # and a time travel: a business day, and a point in the recording of the purchases
        recorded = sorted(r["recorded_at"] for r in rows) or [None]
        as_of = datetime.combine(as_of_day, datetime.min.time(), UTC) if as_of_day else None
        travel = Scope(
            as_of=as_of, as_of_recorded=recorded[int(recorded_share * (len(recorded) - 1))]
        )
        for period, known in product(Period, (Scope(), travel)):
            # When the report is asked for, by each period, now and with the time travel
            last = first + timedelta(days=length)
            scope = replace(known, first=start_of(first, period), last=last)
            found = sales(conn, period, scope)
            # Then it is what folding the known purchases gives
            expected = folded(rows, period, scope)
            assert found == buckets(starts(scope.first, scope.last, period), period, expected)
