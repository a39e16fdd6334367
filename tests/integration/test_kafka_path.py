"""The Kafka path against real PostgreSQL and the test broker: relay -> topic -> projector.

It recovers by itself from what a crash or a lost topic leaves behind: commits the database
lost, a topic recreated empty (with the right partitions or not), a topic that lost
acknowledged messages; no person acting."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import orjson
import psycopg
import pytest
from kafka import KafkaProducer

from api.bootstrap import Container, bootstrap
from consumers.relay import Relay, TopicFault
from infra.kafka import TopicAdmin, open_producer
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
    # Then the topic holds the documented envelope, keyed by customer id
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


@pytest.fixture
def admin(settings: Settings) -> Iterator[TopicAdmin]:
    topics = TopicAdmin(settings)
    yield topics
    topics.close()


def published_purchases(crm: Container, settings: Settings, count: int) -> object:
    """A new customer's purchases, published by the relay; returns the customer's id."""
    customer_id = register(crm.bus)
    for n in range(count):
        buy(crm, customer_id, f"published-{n}")
    relay_all(crm, settings)
    return customer_id


def generation(crm: Container) -> int:
    with crm.pool.connection() as conn:
        return conn.execute("SELECT generation FROM crm_relay").fetchone()[0]


def test_commits_the_database_lost_are_read_again_without_a_new_message(
    crm: Container, settings: Settings
) -> None:
    # Given three purchases applied through Kafka to customer_360 and purchases, one consumer
    customer_id = published_purchases(crm, settings, 3)
    with projector(crm, settings, "customer_360", "purchases"):
        wait_for(lambda: purchase_count(crm, customer_id) == 3, seconds=30)
        # When a database crash loses customer_360's commits (rows and offsets together, as
        # `synchronous_commit = off` may), while the consumer stays where it was
        with crm.pool.connection() as conn:
            conn.execute("DELETE FROM customer_360")
            conn.execute("DELETE FROM crm_projection_offsets WHERE projection = 'customer_360'")
        # Then the lost range is read again, though no new message arrives
        wait_for(lambda: purchase_count(crm, customer_id) == 3, seconds=30)
        # And later messages apply after it, to both
        buy(crm, customer_id, "lost-after")
        relay_all(crm, settings)
        wait_for(lambda: purchase_count(crm, customer_id) == 4, seconds=30)
        wait_for(lambda: orders(crm, customer_id) == 4, seconds=30)


def test_a_projection_fed_later_reads_from_the_start_and_the_others_skip_what_they_applied(
    crm: Container, settings: Settings
) -> None:
    # Given three purchases applied to customer_360 alone
    customer_id = published_purchases(crm, settings, 3)
    with projector(crm, settings, "customer_360"):
        wait_for(lambda: purchase_count(crm, customer_id) == 3, seconds=30)
    # When a fourth follows, and one consumer feeds customer_360 and purchases
    buy(crm, customer_id, "later")
    relay_all(crm, settings)
    with projector(crm, settings, "customer_360", "purchases"):
        # Then purchases reads every order from the topic's start
        wait_for(lambda: orders(crm, customer_id) == 4, seconds=30)
    # And customer_360, applied in the same transactions, counts each purchase once
    assert purchase_count(crm, customer_id) == 4


def orders(crm: Container, customer_id: object) -> int:
    with crm.pool.connection() as conn:
        query = "SELECT count(*) FROM purchases WHERE customer_id = %s"
        return conn.execute(query, (customer_id,)).fetchone()[0]


@pytest.mark.parametrize("partitions", [4, 2], ids=["same-partitions", "other-partitions"])
def test_a_topic_recreated_empty_is_published_again_and_read_from_its_start(
    crm: Container, settings: Settings, admin: TopicAdmin, partitions: int
) -> None:
    # Given two purchases applied through Kafka
    customer_id = published_purchases(crm, settings, 2)
    with projector(crm, settings):
        wait_for(lambda: purchase_count(crm, customer_id) == 2, seconds=30)
        # When the topic is deleted and made again, empty (a broker that lost its disk)
        admin.delete()
        admin.create(partitions)
        # And a purchase follows
        buy(crm, customer_id, "after")
        assert relay_all(crm, settings) == 4  # every event again, as a new generation
        # Then the projector reads the new topic from its start, counting each purchase once
        wait_for(lambda: purchase_count(crm, customer_id) == 3, seconds=30)
    described = admin.describe()
    assert described is not None and described.partitions == 4
    assert generation(crm) == 2


def test_a_topic_that_lost_acknowledged_messages_is_published_again(
    crm: Container, settings: Settings
) -> None:
    # Given events published, and a record that the broker had acknowledged more of each
    # partition than it now holds (its log was truncated)
    customer_id = register(crm.bus)
    buy(crm, customer_id, "truncated-0")
    relay_all(crm, settings)
    with crm.pool.connection() as conn:
        conn.execute("UPDATE crm_relay SET partition_offsets = '{100, 100, 100, 100}'")
    # When the relay publishes the next event
    buy(crm, customer_id, "truncated-1")
    relay_all(crm, settings)
    # Then it published every event again, as a new generation, and projectors count each once
    assert generation(crm) == 2
    with projector(crm, settings):
        wait_for(lambda: purchase_count(crm, customer_id) == 2, seconds=30)


def test_the_same_topic_with_other_partitions_is_a_fault_the_relay_reports(
    crm: Container, settings: Settings, admin: TopicAdmin
) -> None:
    # Given a relay that published to the topic, as if with three partitions
    register(crm.bus)
    relay_all(crm, settings)
    with crm.pool.connection() as conn:
        conn.execute("UPDATE crm_relay SET partition_positions = '{0, 0, 0}'")
    # When it checks the topic (same id, four partitions)
    relay = Relay(crm.store, crm.pool, lambda: open_producer(settings, "test-relay"), admin)
    try:
        with pytest.raises(TopicFault, match="has 4 partitions, the relay publishes to 3"):
            relay.check_topic()
    finally:
        relay.close()
    # Then the topic is left as it is: only a person may decide to recreate it
    described = admin.describe()
    assert described is not None and described.partitions == 4
