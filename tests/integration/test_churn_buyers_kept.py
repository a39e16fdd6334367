"""The buyers of a day (purchases read, BG/NBD model fitted, every buyer scored) are kept per
database: a database never gets another's, even with purchases tables alike in size; and
readers arriving together after a change share one computation."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from uuid import UUID

import psycopg
from prometheus_client import REGISTRY

from projections.catalog import PURCHASES
from projections.churn.buyers import buyers

AS_OF = date(2025, 12, 31)
GAPS = ((0, 20, 45, 90), (0, 30), (0, 7, 200), (0,))
"""Each customer's purchase days, from their first (alike in every database)."""


def purchases_of(url: str, first_id: int) -> None:
    """A purchases table in the database at `url`, of customers numbered from `first_id`."""
    rows = [
        (UUID(int=first_id + n), f"o{n}-{k}", date(2025, 3, 1) + timedelta(days=gap), k)
        for n, gaps in enumerate(GAPS)
        for k, gap in enumerate(gaps)
    ]
    with psycopg.connect(url) as conn:
        PURCHASES.create(conn, PURCHASES.name)
        for position, (customer, order, day, _) in enumerate(rows, start=1):
            conn.execute(
                "INSERT INTO purchases (customer_id, order_id, occurred_at, recorded_at, total,"
                " currency, items, last_position) VALUES (%s, %s, %s, %s, 10, 'EUR', '[]', %s)",
                (customer, order, f"{day}T12:00:00Z", f"{day}T12:00:00Z", position),
            )


def fits() -> float:
    return REGISTRY.get_sample_value("crm_churn_fit_seconds_count") or 0.0


def test_each_database_gets_its_own_buyers(new_database: Callable[[], str]) -> None:
    # Given two databases whose purchases tables have as many rows, up to the same position
    one, other = new_database(), new_database()
    purchases_of(one, 1)
    purchases_of(other, 100)
    # When each is asked for the buyers of the same day, one after the other
    with psycopg.connect(one) as a, psycopg.connect(other) as b:
        first, second = buyers(a, AS_OF, 60), buyers(b, AS_OF, 60)
        again = buyers(a, AS_OF, 60)
    # Then each has its own customers, and the first's are kept
    assert first.histories.customers == tuple(UUID(int=1 + n) for n in range(len(GAPS)))
    assert second.histories.customers == tuple(UUID(int=100 + n) for n in range(len(GAPS)))
    assert again is first


def test_readers_arriving_together_share_one_computation(
    new_database: Callable[[], str],
) -> None:
    # Given a database whose buyers of the day were computed, then a purchase more
    url = new_database()
    purchases_of(url, 1)
    with psycopg.connect(url) as conn:
        kept = buyers(conn, AS_OF)
        conn.execute(
            "INSERT INTO purchases (customer_id, order_id, occurred_at, recorded_at, total,"
            " currency, items, last_position) VALUES (%s, 'late', %s, %s, 10, 'EUR', '[]', 99)",
            (UUID(int=1), f"{AS_OF}T12:00:00Z", f"{AS_OF}T12:00:00Z"),
        )
    before = fits()

    # When four readers on their own connections ask at once
    def read(_: int) -> object:
        with psycopg.connect(url) as conn:
            return buyers(conn, AS_OF)

    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(read, range(4)))
    # Then the buyers were computed once, for all four, with the new purchase
    assert fits() - before == 1
    assert all(f is found[0] for f in found) and found[0] is not kept
    assert int(found[0].histories.x[0]) == len(GAPS[0])
