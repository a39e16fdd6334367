"""The churn fits an API process keeps (`ChurnModels`) on a real PostgreSQL: readers of a day
never fitted share its first fit; after purchases a reader is answered from the fit kept at
once while the new one is computed in the background; just after midnight, answers for now
come from yesterday's fit until today's is ready."""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import psycopg
import pytest
from prometheus_client import REGISTRY

from projections.catalog import PURCHASES
from projections.churn.models import ChurnModels
from tests.waiting import wait_for

AS_OF = date(2025, 12, 31)
GAPS = ((0, 20, 45, 90), (0, 30), (0, 7, 200), (0,))
"""Each customer's purchase days, from 1 March 2025."""


@pytest.fixture
def url(new_database: Callable[[], str]) -> str:
    """A database with the purchases of GAPS."""
    url = new_database()
    with psycopg.connect(url) as conn:
        PURCHASES.create(conn, PURCHASES.name)
        for n, gaps in enumerate(GAPS):
            for gap in gaps:
                bought(conn, UUID(int=1 + n), date(2025, 3, 1) + timedelta(days=gap))
    return url


def bought(conn: psycopg.Connection, customer: UUID, day: date) -> None:
    """A purchase row more, at the next position."""
    conn.execute(
        "INSERT INTO purchases (customer_id, order_id, occurred_at, recorded_at, total,"
        " currency, items, last_position) SELECT %s, gen_random_uuid()::text, %s, %s, 10, 'EUR',"
        " '[]', 1 + coalesce(max(last_position), 0) FROM purchases",
        (customer, f"{day}T12:00:00Z", f"{day}T12:00:00Z"),
    )


class Today:
    """A clock for `ChurnModels` whose day the test moves."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> datetime:
        return datetime.combine(self.day, time(0, 5), UTC)


@pytest.fixture
def today() -> Today:
    return Today(AS_OF)


@pytest.fixture
def models(url: str, today: Today) -> Iterator[ChurnModels]:
    """Fits checked again on every read (CRM_CHURN_REFIT_SECONDS=0), two kept."""
    built = ChurnModels(lambda: psycopg.connect(url, autocommit=True), 0, 2, now=today)
    yield built
    built.stop()


def fits() -> float:
    return REGISTRY.get_sample_value("crm_churn_fit_seconds_count") or 0.0


def test_readers_of_a_day_never_fitted_share_its_first_fit(models) -> None:
    before = fits()
    # When four readers ask for a day at once
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: models.fit(AS_OF), range(4)))
    # Then it was fitted once, for all four
    assert fits() - before == 1
    assert all(f is found[0] for f in found)
    assert [found[0].customer(i) for i in range(len(found[0]))] == [
        UUID(int=1 + n) for n in range(len(GAPS))
    ]


def test_after_a_purchase_the_kept_fit_answers_until_the_new_one_is_ready(url, models) -> None:
    # Given the day's fit, then a purchase more (the refit window, 0 s, passed)
    kept = models.fit(AS_OF)
    with psycopg.connect(url) as conn:
        bought(conn, UUID(int=4), AS_OF)
    # When the day's buyers are read again
    served = models.fit(AS_OF)
    # Then the kept fit answered, and a later read sees the new fit, with the purchase
    assert served is kept
    wait_for(lambda: models.fit(AS_OF) is not kept)
    assert int(models.fit(AS_OF).x[3]) == 1


def test_just_after_midnight_now_is_answered_from_yesterdays_fit(models, today) -> None:
    # Given the fit of 31 December, for now
    yesterday, _ = models.current()
    # When the day turns, and now is asked for
    today.day = AS_OF + timedelta(days=1)
    found, at = models.current()
    # Then yesterday's fit answers, as of its last instant, until today's is ready
    assert (found, at) == (yesterday, datetime.combine(AS_OF, time.max, UTC))
    wait_for(lambda: models.current()[0].day == today.day)
    assert models.current()[1] == today()
