"""The command bus when PostgreSQL fails under it, for real: a proxy between the bus and the
server cuts the connection around a batch's COMMIT, or plays an outage. No mocks."""

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from uuid import UUID, uuid4

import pytest

from api.bootstrap import Container, assemble
from commands import wire
from commands.context import Outcome, Target
from commands.customers import LogInteraction, RecordPurchase
from commands.errors import IdempotencyKeyInFlight
from infra.settings import Settings
from tests.integration.conftest import context, register
from tests.pg_proxy import PgProxy

pytestmark = pytest.mark.alone  # it times a recovery: nothing may run beside it

TIMEOUT_SECONDS = 2.0
SLACK_SECONDS = 3.0
"""Above the database timeout, what a slow 2-core machine may take to answer."""


def purchase(order_id: str) -> RecordPurchase:
    return RecordPurchase(order_id=order_id, total="10.00", currency="EUR")


def interaction() -> LogInteraction:
    return LogInteraction(channel="call", direction="inbound", subject="Where is it?")


@pytest.fixture
def proxy(container: Container, database_url: str) -> Iterator[PgProxy]:
    """A proxy to the (prepared) integration database."""
    running = PgProxy(database_url)
    yield running
    running.stop()


@contextmanager
def crm_through(proxy: PgProxy) -> Iterator[Container]:
    """A container whose bus and pools reach PostgreSQL through the proxy (not started)."""
    url = proxy.url()
    settings = Settings(database_url=url, database_timeout_seconds=TIMEOUT_SECONDS, _env_file=None)
    built = assemble(settings, url)
    try:
        yield built
    finally:
        built.close()


def stored(container: Container, customer_id: UUID) -> Counter[str]:
    """The customer's stored events, counted by type (read directly, not through the proxy)."""
    with container.pool.connection() as conn:
        rows = conn.execute(
            "SELECT topic FROM crm_events WHERE originator_id = %s", (customer_id,)
        ).fetchall()
    return Counter(topic.rsplit(".", 1)[-1] for (topic,) in rows)


def one_batch_cut_at_its_commit(
    proxy: PgProxy, container: Container, *, forwarded: bool
) -> tuple[UUID, list[Outcome], str]:
    """Three commands saved in one batch whose COMMIT's connection is cut; their answers."""
    customer_id = register(container.bus)  # directly: the proxied bus starts with the batch
    key = str(uuid4())
    with crm_through(proxy) as crm:
        proxy.cut_next_commit(forward=forwarded)
        futures: list[Future[Outcome]] = [
            crm.bus.submit(Target(customer_id), purchase("cut-1"), context()),
            crm.bus.submit(Target(customer_id), interaction(), context()),
            crm.bus.submit(
                Target(customer_id),
                purchase("cut-2"),
                context(idempotency_key=key, request_hash="h"),
            ),
        ]
        crm.start()  # all three are waiting: one batch, one transaction
        outcomes = [future.result(timeout=30) for future in futures]
        assert proxy.sprung.is_set(), "the batch's COMMIT was not cut"
        again = crm.bus.execute(
            Target(customer_id), purchase("cut-2"), context(idempotency_key=key, request_hash="h")
        )
        assert again.replayed and again.body == outcomes[2].body
    return customer_id, outcomes, key


def test_a_batch_committed_unheard_is_answered_as_recorded_and_stored_once(
    proxy: PgProxy, container: Container
) -> None:
    # When the batch's COMMIT reaches PostgreSQL and its answer never comes back
    customer_id, outcomes, _ = one_batch_cut_at_its_commit(proxy, container, forwarded=True)
    # Then every command is answered as recorded (a purchase 201, not 409 already-recorded)
    assert [o.status for o in outcomes] == [201, 201, 201]
    assert sorted(o.version for o in outcomes) == [2, 3, 4]
    # And each is stored once: the interaction without Idempotency-Key too
    assert stored(container, customer_id) == {
        "Registered": 1,
        "PurchaseRecorded": 2,
        "InteractionLogged": 1,
    }


def test_a_batch_cut_before_its_commit_is_retried_and_stored_once(
    proxy: PgProxy, container: Container
) -> None:
    # When the connection is cut before the batch's COMMIT reaches PostgreSQL
    customer_id, outcomes, _ = one_batch_cut_at_its_commit(proxy, container, forwarded=False)
    # Then the batch is saved again, and every command answered and stored once
    assert [o.status for o in outcomes] == [201, 201, 201]
    assert stored(container, customer_id) == {
        "Registered": 1,
        "PurchaseRecorded": 2,
        "InteractionLogged": 1,
    }


def answered_unavailable_in_time(future: Future[Outcome], started: float) -> None:
    """The command fails as the 503 kind, within the database timeout (and some slack)."""
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the kind is checked below
        future.result(timeout=60)
    elapsed = time.monotonic() - started
    assert wire.failure_kind(raised.value) == "unavailable", repr(raised.value)
    assert elapsed < TIMEOUT_SECONDS + SLACK_SECONDS, f"answered after {elapsed:.1f} s"


def test_with_postgres_down_a_command_fails_fast_and_its_retry_records_it_once(
    proxy: PgProxy, container: Container
) -> None:
    customer_id = register(container.bus)
    key = str(uuid4())
    with crm_through(proxy) as crm:
        crm.start()
        crm.bus.execute(Target(customer_id), purchase("before"), context())  # connections open
        # Given PostgreSQL is down (connections cut, new ones refused)
        proxy.close()
        for _ in range(2):
            # When a command with an Idempotency-Key is sent, and sent again once answered
            started = time.monotonic()
            try:
                future = crm.bus.submit(
                    Target(customer_id),
                    purchase("outage"),
                    context(idempotency_key=key, request_hash="h"),
                )
            except IdempotencyKeyInFlight:
                pytest.fail("the key of a failed command is still in flight")
            # Then it fails as 503 within about the database timeout, and frees its key
            answered_unavailable_in_time(future, started)
        # And a command without a key fails as fast
        started = time.monotonic()
        answered_unavailable_in_time(
            crm.bus.submit(Target(customer_id), interaction(), context()), started
        )
        # When PostgreSQL is back, the retry with the same key records the command
        proxy.open()
        outcome = crm.bus.execute(
            Target(customer_id), purchase("outage"), context(idempotency_key=key, request_hash="h")
        )
        assert (outcome.status, outcome.replayed) == (201, False)
        again = crm.bus.execute(
            Target(customer_id), purchase("outage"), context(idempotency_key=key, request_hash="h")
        )
        assert again.replayed and again.body == outcome.body
    # Once
    assert stored(container, customer_id) == {"Registered": 1, "PurchaseRecorded": 2}
