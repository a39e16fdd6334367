"""The Kafka path against real PostgreSQL and the test broker: relay -> topic -> projector."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import orjson
import psycopg
import pytest
from kafka import KafkaProducer

from infra.bootstrap import Container, bootstrap
from infra.settings import Settings
from tests.conftest import kafka_settings
from tests.integration.conftest import register
from tests.integration.kafka_helpers import (
    buy,
    projector,
    purchase_count,
    relay_all,
    topic_messages,
)
from tests.waiting import wait_for

CONTRACT_FIELDS = {
    "event_id", "type", "stream_id", "stream_version", "position", "customer_id", "occurred_at",
    "recorded_at", "actor", "correlation_id", "causation_id", "schema_version", "data",
}  # fmt: skip


@pytest.fixture
def settings(new_database: Callable[[], str], kafka_bootstrap: str) -> Settings:
    return kafka_settings(new_database(), kafka_bootstrap)


@pytest.fixture
def crm(settings: Settings) -> Iterator[Container]:
    built = bootstrap(settings)
    built.start()
    yield built
    built.close()


def test_a_command_reaches_customer_360_through_kafka(crm: Container, settings: Settings) -> None:
    # Given a registered customer who bought something
    customer_id = register(crm.bus, name="Grace")
    buy(crm, customer_id, "order-1")
    # When the relay publishes and the projector consumes
    assert relay_all(crm, settings) == 2
    with projector(crm, settings):
        wait_for(lambda: purchase_count(crm, customer_id) == 1, seconds=30)
    # Then the topic holds the CONTRACT.md envelope, keyed by customer id
    messages = topic_messages(settings)
    assert [m.key for m in messages] == [str(customer_id).encode()] * 2
    envelopes = [orjson.loads(m.value) for m in messages]
    assert all(set(e) == CONTRACT_FIELDS for e in envelopes)
    assert [e["type"] for e in envelopes] == ["Customer.Registered", "Customer.PurchaseRecorded"]
    assert [e["stream_version"] for e in envelopes] == [1, 2]
    assert all(e["customer_id"] == str(customer_id) for e in envelopes)
    assert dict(messages[1].headers)["type"] == b"Customer.PurchaseRecorded"
    assert dict(messages[1].headers)["schema_version"] == b"1"
    assert datetime.fromisoformat(envelopes[1]["recorded_at"]) <= datetime.now(UTC)


def test_republished_events_are_applied_once(crm: Container, settings: Settings) -> None:
    # Given events published, then published again (a relay that died before recording)
    customer_id = register(crm.bus)
    for n in range(3):
        buy(crm, customer_id, f"order-{n}")
    relay_all(crm, settings)
    with crm.pool.connection() as conn:
        conn.execute("UPDATE crm_relay SET position = 0, partition_positions = '{}'")
    relay_all(crm, settings)
    # When the projector consumes both copies
    with projector(crm, settings):
        wait_for(lambda: purchase_count(crm, customer_id) == 3, seconds=30)
        buy(crm, customer_id, "order-last")
        relay_all(crm, settings)
        wait_for(lambda: purchase_count(crm, customer_id) == 4, seconds=30)
    # Then every purchase counts once
    assert len(topic_messages(settings)) == 2 * 4 + 1


def test_a_poison_message_is_parked_and_later_events_still_apply(
    crm: Container, settings: Settings
) -> None:
    # Given a customer, and a message on the topic that is not an event envelope
    customer_id = register(crm.bus)
    relay_all(crm, settings)
    raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    key = str(customer_id).encode()
    raw.send(settings.kafka_topic, key=key, value=b'{"not": "an event"}').get(timeout=10)
    raw.close()
    buy(crm, customer_id, "after-the-poison")
    relay_all(crm, settings)
    # When the projector consumes them
    with projector(crm, settings):
        wait_for(lambda: purchase_count(crm, customer_id) == 1, seconds=30)
    # Then the poison message is a dead letter with its offset and the error
    with psycopg.connect(settings.database_url) as conn:
        letters = conn.execute(
            'SELECT projection, topic, "offset", key, error FROM crm_dead_letters'
        ).fetchall()
    assert len(letters) == 1
    projection, topic, offset, parked_key, error = letters[0]
    assert (projection, topic, bytes(parked_key)) == ("customer_360", settings.kafka_topic, key)
    assert offset == 1 and error.startswith("type: Field required")
