"""Helpers for tests of the Kafka path: run the relay and a projector in this process."""

import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

from kafka import KafkaConsumer, TopicPartition

from api.bootstrap import Container, bootstrap
from commands.context import Target
from commands.customers import RecordPurchase
from consumers.projector import ProjectorRunner
from consumers.relay import Relay
from infra.kafka import TopicAdmin, open_producer
from infra.settings import Settings
from projections import status
from projections.catalog import PROJECTIONS
from tests.conftest import kafka_settings, started_broker
from tests.integration.conftest import context


def relay_all(crm: Container, settings: Settings) -> int:
    """Publishes every stored event not yet published; returns how many were sent."""
    admin = TopicAdmin(settings)
    relay = Relay(crm.store, crm.pool, lambda: open_producer(settings, "test-relay"), admin)
    try:
        return relay.publish_all()
    finally:
        relay.close()
        admin.close()


@contextmanager
def crm_on_kafka(database_url: str, *projections: str) -> Iterator[tuple[Container, Settings]]:
    """A started CRM on the Kafka path (a broker of its own), with the projectors of the
    given projections running, for a whole test module."""
    with started_broker() as kafka_bootstrap:
        chosen = kafka_settings(database_url, kafka_bootstrap)
        built = bootstrap(chosen)
        built.start()
        with projector(built, chosen, *projections):
            yield built, chosen
        built.close()


@contextmanager
def projector(crm: Container, settings: Settings, *names: str) -> Iterator[None]:
    """Runs a projector of the named projections (customer_360 if none), one consumer for
    all, in a thread while the block runs; raises what stopped it, if anything did."""
    stopping = threading.Event()
    chosen = [PROJECTIONS[name] for name in names or ("customer_360",)]
    runner = ProjectorRunner(settings, crm.pool, chosen)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            runner.run(lambda: not stopping.is_set())
        except BaseException as error:  # noqa: BLE001 - raised again by the test's thread
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield
    finally:
        stopping.set()
        thread.join(timeout=30)
        if failures:
            raise failures[0]


def buy(crm: Container, customer_id: object, order_id: str, total: str = "10.00") -> None:
    purchase = RecordPurchase(order_id=order_id, total=Decimal(total), currency="EUR")
    crm.bus.execute(Target(customer_id), purchase, context())  # type: ignore[arg-type]


def purchase_count(crm: Container, customer_id: object) -> int | None:
    with crm.pool.connection() as conn:
        row = conn.execute(
            "SELECT purchase_count FROM customer_360 WHERE customer_id = %s", (customer_id,)
        ).fetchone()
    return row[0] if row else None


def topic_messages(settings: Settings) -> list:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(settings.kafka_topic, p)
            for p in consumer.partitions_for_topic(settings.kafka_topic)
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        messages = []
        while polled := consumer.poll(timeout_ms=2000):
            messages += [m for batch in polled.values() for m in batch]
        return messages
    finally:
        consumer.close()


def consumed(
    crm: Container, settings: Settings, names: Collection[str], ends: dict[int, int]
) -> bool:
    """Whether the named projections have consumed every message up to `ends` (each
    partition's end offset, `infra.kafka.end_offsets`), and the relay published everything."""
    with crm.pool.connection() as conn:
        found = status.through_kafka(conn, settings.kafka_topic, ends, datetime.now(UTC))
    return all(s.lag_events == 0 for s in found if s.name in names)
