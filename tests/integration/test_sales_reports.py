"""The sales and product reports over a real PostgreSQL, against hand-computed numbers:
purchases recorded through the command bus, one of them a historical import that arrives
late, read as they are now, as of a business time and as of what the system knew."""

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from api.bootstrap import Container
from commands.context import Target
from commands.customers import ItemLine, RecordPurchase
from consumers.store_follower import StoreFollower
from projections.catalog import PURCHASES
from projections.purchases.periods import Period
from projections.purchases.products import (
    Association,
    CurrencyProducts,
    Product,
    Ranking,
    best_sellers,
    bought_together,
)
from projections.purchases.sales import Bucket, CurrencySales, sales
from projections.purchases.scope import Scope
from tests.integration.conftest import context, crm_on, register

EUR, USD = "EUR", "USD"
SPRING = Scope(date(2025, 2, 1), date(2025, 3, 31))
FEB_17, FEB_24, MAR_3, MAR_10 = (
    date(2025, 2, 17),
    date(2025, 2, 24),
    date(2025, 3, 3),
    date(2025, 3, 10),
)


def line(sku: str | None, quantity: int, price: str | None = None, name: str | None = None):
    return ItemLine(sku=sku, name=name, quantity=quantity, unit_price=price and Decimal(price))


def purchase(crm: Container, customer: UUID, order: str, at: str, total: str, currency: str,
             *items: ItemLine) -> None:  # fmt: skip
    command = RecordPurchase(
        order_id=order, items=list(items), total=Decimal(total), currency=currency,
        occurred_at=datetime.fromisoformat(at),
    )  # fmt: skip
    crm.bus.execute(Target(customer), command, context())


@pytest.fixture(scope="module")
def crm(new_database) -> Iterator[Container]:
    """A container on a database of its own: reports count every customer's purchases."""
    with crm_on(new_database()) as built:
        yield built


@pytest.fixture(scope="module")
def before_import(crm: Container) -> datetime:
    """Records the purchases (Cy's first one last, imported late) and feeds the read model;
    returns a time after every purchase was recorded but Cy's first."""
    ada, bob, cy, dee = (register(crm.bus, name=name) for name in ("Ada", "Bob", "Cy", "Dee"))
    purchase(crm, dee, "D1", "2025-01-10T12:00:00+00:00", "9.00", "GBP",
             line("TEA", 1, "2.00"), line("SCONE", 1, "1.00"), line("TEA", 2, "2.00"))  # fmt: skip
    purchase(crm, ada, "A1", "2025-03-03T10:00:00+00:00", "100.00", EUR,
             line("TEA", 2, "10.00", "Tea"), line("SCONE", 1, "5.00", "Scone"))  # fmt: skip
    # Sunday 9 March 22:30 UTC, though Monday where it was bought
    purchase(crm, bob, "B1", "2025-03-10T00:30:00+02:00", "30.00", EUR,
             line("TEA", 1, "10.00"), line("JAM", 2, "7.50", "Jam"), line(None, 1, None, "Wrap"))  # fmt: skip
    purchase(crm, ada, "A2", "2025-03-12T09:00:00+00:00", "50.00", EUR,
             line("TEA", 1, "10.00", "Green tea"))  # fmt: skip
    purchase(crm, ada, "A3", "2025-03-12T10:00:00+00:00", "20.00", USD,
             line("JAM", 1, "20.00"), line("GIFT", 1))  # fmt: skip
    purchase(crm, cy, "C2", "2025-03-11T09:00:00+00:00", "40.00", USD, line("SCONE", 4, "2.50"))
    time.sleep(0.01)
    known_then = datetime.now(UTC)
    time.sleep(0.01)
    purchase(crm, cy, "C1", "2025-02-20T15:00:00+00:00", "10.00", EUR,
             line("TEA", 1, "10.00"), line("SCONE", 1, "2.50"))  # fmt: skip
    StoreFollower(crm.store, crm.pool, crm.url, [PURCHASES]).catch_up()
    return known_then


def weekly(crm: Container, **known: datetime) -> list[Bucket]:
    with crm.pool.connection() as conn:
        return sales(conn, Period.WEEK, Scope(FEB_17, date(2025, 3, 16), **known))


def eur(revenue: str, orders: int, aov: str, customers: int, new: int) -> CurrencySales:
    return CurrencySales(
        EUR, Decimal(revenue), orders, Decimal(aov), customers, new, customers - new
    )


def usd(revenue: str, orders: int, aov: str, customers: int, new: int) -> CurrencySales:
    return CurrencySales(
        USD, Decimal(revenue), orders, Decimal(aov), customers, new, customers - new
    )


def test_weekly_sales_count_the_late_import_in_the_week_it_occurred(crm, before_import) -> None:
    # Given the purchases, Cy's first imported after his second
    # When the weekly report is asked for, 17 February to 16 March 2025
    found = weekly(crm)
    # Then Cy is new in February's week and returning in March's; Bob's purchase, Sunday in
    # UTC, is in the week of 3 March
    assert found == [
        Bucket(FEB_17, date(2025, 2, 23), 1, 1, 1, 0, [eur("10.00", 1, "10.00", 1, 1)]),
        Bucket(FEB_24, date(2025, 3, 2), 0, 0, 0, 0, []),
        Bucket(MAR_3, date(2025, 3, 9), 2, 2, 2, 0, [eur("130.00", 2, "65.00", 2, 2)]),
        Bucket(MAR_10, date(2025, 3, 16), 3, 2, 0, 2,
               [eur("50.00", 1, "50.00", 1, 0), usd("60.00", 2, "30.00", 2, 0)]),
    ]  # fmt: skip


def test_as_of_recorded_shows_what_was_known_before_the_import(crm, before_import) -> None:
    # When the report is asked as the system knew it before Cy's first purchase was imported
    found = weekly(crm, as_of_recorded=before_import)
    # Then February is empty and Cy was new in March
    assert found[0] == Bucket(FEB_17, date(2025, 2, 23), 0, 0, 0, 0, [])
    assert found[3] == Bucket(MAR_10, date(2025, 3, 16), 3, 2, 1, 1,
                              [eur("50.00", 1, "50.00", 1, 0), usd("60.00", 2, "30.00", 2, 1)])  # fmt: skip


def test_as_of_counts_only_what_had_occurred_by_then(crm, before_import) -> None:
    # When the report is asked as of the end of 11 March 2025 (business time)
    found = weekly(crm, as_of=datetime(2025, 3, 11, 23, 59, 59, tzinfo=UTC))
    # Then Ada's purchases of 12 March are not there yet
    assert found[3] == Bucket(
        MAR_10, date(2025, 3, 16), 1, 1, 0, 1, [usd("40.00", 1, "40.00", 1, 0)]
    )


def test_monthly_sales_count_a_customer_new_in_every_currency_they_bought_in(
    crm, before_import
) -> None:
    # When the monthly report is asked for
    with crm.pool.connection() as conn:
        feb, mar = sales(conn, Period.MONTH, Scope(date(2025, 2, 1), date(2025, 3, 31)))
    # Then in March Ada and Bob are new (Ada in euros and in dollars), Cy returning
    assert (feb.orders, feb.new_customers) == (1, 1)
    assert mar == Bucket(date(2025, 3, 1), date(2025, 3, 31), 5, 3, 2, 1,
                         [eur("180.00", 3, "60.00", 2, 2), usd("60.00", 2, "30.00", 2, 1)])  # fmt: skip


def test_best_sellers_by_quantity_and_by_revenue_per_currency(crm, before_import) -> None:
    # When the best sellers are asked for, by quantity then by revenue
    with crm.pool.connection() as conn:
        by_quantity = best_sellers(conn, SPRING, Ranking.QUANTITY, 10)
        by_revenue = best_sellers(conn, SPRING, Ranking.REVENUE, 2)
    # Then a tie in quantity goes to revenue; a line without a price has no revenue; a
    # name is the latest named line's, in any currency (Ada's green tea, 12 March)
    tea = Product("TEA", "Green tea", 5, 4, Decimal("50.00"))
    jam_eur, scone_eur = (
        Product("JAM", "Jam", 2, 1, Decimal("15.00")),
        Product("SCONE", "Scone", 2, 2, Decimal("7.50")),
    )
    scone_usd, jam_usd = (
        Product("SCONE", "Scone", 4, 1, Decimal("10.00")),
        Product("JAM", "Jam", 1, 1, Decimal("20.00")),
    )
    gift = Product("GIFT", None, 1, 1, None)
    assert by_quantity == [
        CurrencyProducts(EUR, [tea, jam_eur, scone_eur]),
        CurrencyProducts(USD, [scone_usd, jam_usd, gift]),
    ]
    assert by_revenue == [
        CurrencyProducts(EUR, [tea, jam_eur]),
        CurrencyProducts(USD, [jam_usd, scone_usd]),
    ]


def test_products_bought_with_tea_now_and_before_the_import(crm, before_import) -> None:
    # When the products bought with tea are asked for, now and before Cy's import
    with crm.pool.connection() as conn:
        now = bought_together(conn, SPRING, "TEA", 10)
        strong = bought_together(conn, SPRING, "TEA", 10, min_orders=2)
        then = bought_together(conn, replace(SPRING, as_of_recorded=before_import), "TEA", 10)
        unknown = bought_together(conn, SPRING, "NOPE", 10)
    # Then: 6 orders with a SKU, 4 with tea; scones in 2 of them (3 orders have scones),
    # jam in 1 (2 orders have jam)
    assert (now.orders, now.baskets) == (4, 6)
    assert now.items == [
        Association("SCONE", "Scone", 2, 0.3333, 0.5, 1.0),
        Association("JAM", "Jam", 1, 0.1667, 0.25, 0.75),
    ]
    assert [a.sku for a in strong.items] == ["SCONE"]
    # and before it: 5 orders, 3 with tea; scones and jam each in 1, each in 2 orders
    assert (then.orders, then.baskets) == (3, 5)
    assert then.items == [
        Association("JAM", "Jam", 1, 0.2, 0.3333, 0.8333),
        Association("SCONE", "Scone", 1, 0.2, 0.3333, 0.8333),
    ]
    assert (unknown.orders, unknown.items) == (0, [])


def test_an_order_with_two_lines_of_a_sku_counts_once(crm, before_import) -> None:
    # When January 2025 is asked for: Dee's one order, with tea on two lines, and a scone
    january = Scope(date(2025, 1, 1), date(2025, 1, 31))
    with crm.pool.connection() as conn:
        (pounds,) = best_sellers(conn, january, Ranking.QUANTITY, 10)
        with_tea = bought_together(conn, january, "TEA", 10)
    # Then tea sold 3 in 1 order, and scones were in every order with tea (no line in
    # January named them)
    assert pounds == CurrencyProducts("GBP", [
        Product("TEA", None, 3, 1, Decimal("6.00")), Product("SCONE", None, 1, 1, Decimal("1.00")),
    ])  # fmt: skip
    assert (with_tea.orders, with_tea.baskets) == (1, 1)
    assert with_tea.items == [Association("SCONE", None, 1, 1.0, 1.0, 1.0)]


def test_the_table_keeps_both_times_and_the_utc_day(crm, before_import) -> None:
    # When Bob's order is read with SQL
    with crm.pool.connection() as conn:
        row = conn.execute(
            "SELECT occurred_at, occurred_on, recorded_at > occurred_at, total, items"
            " FROM purchases WHERE order_id = 'B1'"
        ).fetchone()
    # Then
    assert row[:4] == (
        datetime(2025, 3, 9, 22, 30, tzinfo=UTC),
        date(2025, 3, 9),
        True,
        Decimal("30.00"),
    )
    assert row[4][2] == {"sku": None, "name": "Wrap", "quantity": 1, "unit_price": None}
