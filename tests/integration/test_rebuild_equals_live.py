"""Laws over a real PostgreSQL: stored events replay to the same aggregate; a rebuild equals live."""

from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

import projections.rebuild
from commands.context import Target
from consumers.store_follower import StoreFollower
from domain.errors import CrmError
from infra.event_store import open_event_store
from projections.catalog import CUSTOMER_360
from projections.rebuild import rebuild
from tests.integration.conftest import context
from tests.strategies import customer_commands, registrations

DB_SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def run_all(bus, customers: list) -> list:
    """Registers each customer and runs its commands; returns their ids."""
    ids = []
    for registration, commands in customers:
        customer_id = uuid4()
        bus.execute(Target(customer_id, creates=True), registration, context())
        for command in commands:
            try:
                bus.execute(Target(customer_id), command, context())
            except CrmError:
                pass
        ids.append(customer_id)
    return ids


def rows(conn) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM customer_360 ORDER BY customer_id").fetchall()


@DB_SETTINGS
@given(registrations, st.lists(customer_commands, max_size=15))
def test_stored_events_replay_to_the_writer_state(
    container, database_url, registration, commands
) -> None:
    # Given a customer written through the command bus
    (customer_id,) = run_all(container.bus, [(registration, commands)])
    live = container.store.repository.get(customer_id)
    # When another process, with no cache, loads it from the stored events
    reader = open_event_store(database_url, pool_size=1)
    try:
        replayed = reader.repository.get(customer_id)
    finally:
        reader.close()
    # Then it has the same state
    skip = {"_pending_events"}
    assert {k: v for k, v in vars(replayed).items() if k not in skip} == {
        k: v for k, v in vars(live).items() if k not in skip
    }


customers_and_commands = st.lists(
    st.tuples(registrations, st.lists(customer_commands, max_size=8)), min_size=1, max_size=4
)


@DB_SETTINGS
@given(customers_and_commands)
def test_rebuilding_customer_360_equals_the_live_table(container, customers) -> None:
    assert_a_rebuild_equals_the_live_table(container, customers)


@DB_SETTINGS
@given(customers_and_commands)
def test_a_rebuild_that_writes_rows_out_many_times_equals_the_live_table(
    container, monkeypatch, customers
) -> None:
    # Given a rebuild that reads 7 events at a time and holds at most 3 rows in memory
    monkeypatch.setattr(projections.rebuild, "BATCH", 7)
    monkeypatch.setattr(projections.rebuild, "ROWS_IN_MEMORY", 3)
    assert_a_rebuild_equals_the_live_table(container, customers)


def assert_a_rebuild_equals_the_live_table(container, customers) -> None:
    # Given the live read model, fed in-process, caught up with random commands
    run_all(container.bus, customers)
    StoreFollower(container.store, container.pool, container.url, [CUSTOMER_360]).catch_up()
    with container.pool.connection() as conn:
        live = rows(conn)
        # When it is rebuilt from position 0 and swapped in
        rebuild(conn, CUSTOMER_360)
        rebuilt = rows(conn)
    # Then it is the same, row for row
    assert rebuilt == live
