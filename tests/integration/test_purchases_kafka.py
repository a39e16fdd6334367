"""Law, through Kafka: the purchases table fed by relay -> topic -> projector equals a build
from the event store, so the reports answer the same in both modes."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from psycopg.rows import dict_row

from infra.bootstrap import Container, bootstrap
from infra.settings import Settings
from projections.catalog import PURCHASES
from projections.rebuild import build_as_of
from tests.conftest import kafka_settings, started_broker
from tests.integration.kafka_helpers import projector, relay_all
from tests.integration.test_kafka_rebuild_equals_live import NO_SHRINKING
from tests.integration.test_purchases_laws import customers
from tests.integration.test_rebuild_equals_live import run_all
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def kafka_crm(new_database: Callable[[], str]) -> Iterator[tuple[Container, Settings]]:
    """A CRM on the Kafka path with the purchases projector running for the whole module."""
    with started_broker() as kafka_bootstrap:
        chosen = kafka_settings(new_database(), kafka_bootstrap)
        built = bootstrap(chosen)
        built.start()
        with projector(built, chosen, PURCHASES.name):
            yield built, chosen
        built.close()


def rows(conn, table: str, ids: list) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        query = f"SELECT * FROM {table} WHERE customer_id = ANY(%s) ORDER BY customer_id, order_id"
        return cur.execute(query, (ids,)).fetchall()


@settings(max_examples=5, deadline=None, phases=NO_SHRINKING)
@given(customers)
def test_purchases_through_kafka_equal_a_build_from_the_event_store(kafka_crm, bought) -> None:
    crm, chosen = kafka_crm
    # Given random purchases, relayed to Kafka
    ids = run_all(crm.bus, bought)
    relay_all(crm, chosen)
    with crm.pool.connection() as conn:
        # When the projection is built straight from the event store
        table = build_as_of(conn, PURCHASES, datetime.now(UTC) + timedelta(days=1))
        rebuilt = rows(conn, table, ids)

    # Then the projector, once caught up, has the same rows
    def same() -> bool:
        with crm.pool.connection() as conn:
            return rows(conn, "purchases", ids) == rebuilt

    wait_for(same, seconds=30)
