"""Law, through Kafka: customer_360 fed by relay -> topic -> projector equals a rebuild."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from api.bootstrap import Container
from infra.settings import Settings
from projections.catalog import CUSTOMER_360
from projections.rebuild import build_as_of
from tests.integration.kafka_helpers import crm_on_kafka, relay_all
from tests.integration.test_rebuild_equals_live import run_all
from tests.strategies import customer_commands, registrations
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def kafka_crm(new_database: Callable[[], str]) -> Iterator[tuple[Container, Settings]]:
    """A CRM on the Kafka path with its projector running for the whole module."""
    with crm_on_kafka(new_database(), "customer_360") as running:
        yield running


NO_SHRINKING = (Phase.explicit, Phase.reuse, Phase.generate)
"""An example here takes seconds (relay, broker, projector): shrinking a failure would take
many minutes, and an example of at most 4 customers is readable as it comes."""


def rows(conn, table: str, ids: list) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        query = f"SELECT * FROM {table} WHERE customer_id = ANY(%s) ORDER BY customer_id"
        return cur.execute(query, (ids,)).fetchall()


def caught_up(crm: Container, ids: list) -> bool:
    versions = {i: crm.store.repository.get(i).version for i in ids}
    with crm.pool.connection() as conn:
        live = {r["customer_id"]: r["version"] for r in rows(conn, "customer_360", ids)}
    return live == versions


@settings(max_examples=8, deadline=None, phases=NO_SHRINKING)
@given(
    st.lists(
        st.tuples(registrations, st.lists(customer_commands, max_size=8)), min_size=1, max_size=4
    )
)
def test_customer_360_through_kafka_equals_a_rebuild(kafka_crm, customers) -> None:
    crm, chosen = kafka_crm
    # Given random commands, relayed to Kafka and applied by the projector
    ids = run_all(crm.bus, customers)
    relay_all(crm, chosen)
    wait_for(lambda: caught_up(crm, ids), seconds=30)
    with crm.pool.connection() as conn:
        live = rows(conn, "customer_360", ids)
        # When the projection is built straight from the event store
        later = datetime.now(UTC) + timedelta(days=1)
        table = build_as_of(conn, CUSTOMER_360, later)
        rebuilt = rows(conn, table, ids)
    # Then both have the same rows
    assert rebuilt == live
