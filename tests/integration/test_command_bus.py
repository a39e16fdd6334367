"""The command bus against a real PostgreSQL: group commit, idempotency, concurrency."""

from concurrent.futures import ThreadPoolExecutor
from uuid import uuid4

import pytest
from prometheus_client import REGISTRY

from api.bootstrap import bootstrap
from commands.bus import CommandBus
from commands.context import Target
from commands.customers import ChangeCustomer, RecordPurchase, RegisterCustomer
from commands.errors import (
    AggregateNotFound,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    VersionMismatch,
)
from commands.unit_of_work.postgres import PostgresUnitOfWork
from domain.errors import ExternalRefTaken, OrderAlreadyRecorded
from infra.settings import Settings
from tests.integration.conftest import context, register


def purchase(order_id: str) -> RecordPurchase:
    return RecordPurchase(order_id=order_id, total="10.00", currency="EUR")


def stored_versions(container, customer_id) -> list[int]:
    return [e.originator_version for e in container.store.events.get(customer_id)]


def test_concurrent_purchases_on_one_customer_are_all_recorded_in_few_transactions(
    container,
) -> None:
    # Given
    customer_id = register(container.bus)
    batches_before = REGISTRY.get_sample_value("crm_command_batch_size_count")
    # When 50 purchases arrive at once
    futures = [
        container.bus.submit(Target(customer_id), purchase(f"o-{i}"), context()) for i in range(50)
    ]
    versions = sorted(f.result(timeout=30).version for f in futures)
    # Then every one is recorded, each at its own version
    assert versions == list(range(2, 52))
    assert stored_versions(container, customer_id) == list(range(1, 52))
    assert REGISTRY.get_sample_value("crm_command_batch_size_count") - batches_before < 50


def test_a_refused_command_in_a_batch_does_not_stop_the_others(container) -> None:
    customer_id = register(container.bus)
    futures = [
        container.bus.submit(Target(customer_id), purchase(order_id), context())
        for order_id in ("same", "same", "other")
    ]
    assert futures[0].result().status == 201
    with pytest.raises(OrderAlreadyRecorded):
        futures[1].result()
    assert futures[2].result().version == 3


def test_external_ref_is_unique_even_within_one_batch(container) -> None:
    ref = f"ref-{uuid4()}"
    futures = [
        container.bus.submit(
            Target(uuid4(), creates=True), RegisterCustomer(name="A", external_ref=ref), context()
        )
        for _ in range(3)
    ]
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result().status)
        except ExternalRefTaken:
            outcomes.append(409)
    assert sorted(outcomes) == [201, 409, 409]


def test_a_repeated_idempotency_key_returns_the_first_answer_and_records_nothing(container) -> None:
    customer_id = register(container.bus)
    key = str(uuid4())
    first = container.bus.execute(
        Target(customer_id), purchase("k-1"), context(idempotency_key=key, request_hash="h1")
    )
    again = container.bus.execute(
        Target(customer_id), purchase("k-1"), context(idempotency_key=key, request_hash="h1")
    )
    assert (again.status, again.body, again.replayed) == (first.status, first.body, True)
    assert stored_versions(container, customer_id) == [1, 2]
    with pytest.raises(IdempotencyKeyReused):
        container.bus.execute(
            Target(customer_id), purchase("k-2"), context(idempotency_key=key, request_hash="h2")
        )


def test_a_refused_command_keeps_no_idempotency_record(container) -> None:
    customer_id = register(container.bus)
    container.bus.execute(Target(customer_id), purchase("dup"), context())
    key = str(uuid4())
    with pytest.raises(OrderAlreadyRecorded):
        container.bus.execute(
            Target(customer_id), purchase("dup"), context(idempotency_key=key, request_hash="a")
        )
    accepted = container.bus.execute(
        Target(customer_id), purchase("fresh"), context(idempotency_key=key, request_hash="b")
    )
    assert accepted.status == 201


def test_a_key_still_in_flight_is_refused(container) -> None:
    work = PostgresUnitOfWork(container.store, container.pool, database_timeout=5.0)
    idle = CommandBus(work)  # never started: the first stays in flight
    idle.submit(
        Target(uuid4(), creates=True),
        RegisterCustomer(name="A"),
        context(idempotency_key="k", request_hash="h"),
    )
    with pytest.raises(IdempotencyKeyInFlight):
        idle.submit(
            Target(uuid4(), creates=True),
            RegisterCustomer(name="A"),
            context(idempotency_key="k", request_hash="h"),
        )


def test_a_stale_expected_version_is_refused_and_records_nothing(container) -> None:
    customer_id = register(container.bus)
    container.bus.execute(Target(customer_id), purchase("p"), context())
    with pytest.raises(VersionMismatch):
        container.bus.execute(
            Target(customer_id), ChangeCustomer(phone="+331234"), context(expected_version=1)
        )
    assert stored_versions(container, customer_id) == [1, 2]
    assert (
        container.bus.execute(
            Target(customer_id), ChangeCustomer(phone="+331234"), context(expected_version=2)
        ).version
        == 3
    )


def test_an_unknown_customer_is_not_found(container) -> None:
    with pytest.raises(AggregateNotFound):
        container.bus.execute(Target(uuid4()), purchase("x"), context())


def test_two_processes_writing_one_customer_lose_nothing(container, database_url) -> None:
    # Given a second writer with its own cache, as another API process would have
    other = bootstrap(Settings(database_url=database_url, _env_file=None))
    other.bus.start()
    try:
        customer_id = register(container.bus)
        # When both write the same customer at the same time
        with ThreadPoolExecutor(8) as pool:
            results = list(
                pool.map(
                    lambda i: (container.bus if i % 2 else other.bus).execute(
                        Target(customer_id), purchase(f"x-{i}"), context()
                    ),
                    range(40),
                )
            )
    finally:
        other.close()
    # Then every purchase is stored once, at distinct versions
    assert sorted(r.version for r in results) == list(range(2, 42))
    assert stored_versions(container, customer_id) == list(range(1, 42))
