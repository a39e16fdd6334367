"""Kafka clients for the relay and the projectors, configured from the settings.

Production defaults are Kafka's own: the producer is idempotent wherever the broker offers
it (kafka-python turns idempotence off by itself against brokers that do not), with
`acks=all` and unbounded retries. The consumers' poll, session and fetch timeouts are set
only when CRM_KAFKA_MAX_POLL_INTERVAL_MS / _SESSION_TIMEOUT_MS / _FETCH_MAX_WAIT_MS say so:
the tests' broker (Tansu) answers a waiting fetch only when its wait ends, so the tests
shorten it; a Kafka broker answers as soon as data arrives.
"""

import contextlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError
from kafka.partitioner.default import murmur2

from infra.settings import Settings

PRODUCER_LINGER_MS = 5
PRODUCER_BATCH_BYTES = 256 * 1024
PRODUCER_MAX_BLOCK_MS = 10_000
"""Longest a send waits for the topic's metadata: a missing topic fails the batch (and the
relay checks the topic) instead of blocking for Kafka's default minute."""
CONSUMER_METADATA_MAX_AGE_MS = 5_000
"""How soon a consumer sees a topic recreated with other partitions (Kafka's default: 5 min)."""
NO_TOPIC_ID = "00000000-0000-0000-0000-000000000000"


def bootstrap_servers(settings: Settings) -> list[str]:
    """The configured bootstrap servers (comma-separated in CRM_KAFKA_BOOTSTRAP)."""
    if not settings.kafka_bootstrap:
        raise ValueError("CRM_KAFKA_BOOTSTRAP is not set")
    return [server.strip() for server in settings.kafka_bootstrap.split(",") if server.strip()]


def open_producer(settings: Settings, client_id: str) -> KafkaProducer:
    """A batching producer that waits for all in-sync replicas."""
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers(settings),
        client_id=client_id,
        acks="all",
        linger_ms=PRODUCER_LINGER_MS,
        batch_size=PRODUCER_BATCH_BYTES,
        max_block_ms=PRODUCER_MAX_BLOCK_MS,
        allow_auto_create_topics=False,  # the relay creates it, with its partitions
    )


def open_consumer(settings: Settings, group_id: str | None, client_id: str) -> KafkaConsumer:
    """A consumer that neither commits offsets nor guesses them: the projectors keep theirs in
    PostgreSQL, and an offset the broker no longer has (a topic recreated) is an error."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings),
        "client_id": client_id,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "none",
        "allow_auto_create_topics": False,  # the relay creates it, with its partitions
        "metadata_max_age_ms": CONSUMER_METADATA_MAX_AGE_MS,
    }
    if settings.kafka_max_poll_interval_ms is not None:
        options["max_poll_interval_ms"] = settings.kafka_max_poll_interval_ms
    if settings.kafka_fetch_max_wait_ms is not None:
        options["fetch_max_wait_ms"] = settings.kafka_fetch_max_wait_ms
    if settings.kafka_session_timeout_ms is not None:
        options["session_timeout_ms"] = settings.kafka_session_timeout_ms
        options["heartbeat_interval_ms"] = max(settings.kafka_session_timeout_ms // 3, 100)
    return KafkaConsumer(**options)


@dataclass(frozen=True)
class TopicInfo:
    """What the broker says of a topic: its id (None if the broker has none) and partitions."""

    topic_id: str | None
    partitions: int


class TopicAdmin:
    """Describes, creates and deletes one topic; only the relay creates or deletes it."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.kafka_topic
        self.default_partitions = settings.kafka_partitions
        self._admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers(settings), client_id="crm-admin"
        )

    def describe(self) -> TopicInfo | None:
        """The topic as the broker has it now; None if it does not exist."""
        try:
            (described,) = self._admin.describe_topics([self.topic])
        except UnknownTopicOrPartitionError:
            return None
        if described.get("error_code") or not described["partitions"]:
            return None
        topic_id = described.get("topic_id")
        return TopicInfo(
            None if not topic_id or str(topic_id) == NO_TOPIC_ID else str(topic_id),
            len(described["partitions"]),
        )

    def create(self, partitions: int) -> None:
        """Creates the topic with `partitions` partitions (if it does not exist)."""
        try:
            self._admin.create_topics([NewTopic(self.topic, partitions, 1)])
        except TopicAlreadyExistsError:
            pass

    def delete(self) -> None:
        with contextlib.suppress(UnknownTopicOrPartitionError):
            self._admin.delete_topics([self.topic])

    def close(self) -> None:
        self._admin.close()


def ensure_topic(settings: Settings) -> int:
    """Creates the events topic with CRM_KAFKA_PARTITIONS partitions if it is missing;
    returns its partition count (for tests and benchmarks; the relay uses `TopicAdmin`)."""
    admin = TopicAdmin(settings)
    try:
        if (info := admin.describe()) is None:
            admin.create(settings.kafka_partitions)
            info = admin.describe()
        assert info is not None, f"topic {settings.kafka_topic} was not created"
        return info.partitions
    finally:
        admin.close()


@lru_cache(maxsize=100_000)
def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives `key` (murmur2, as the Java client)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def end_offsets(settings: Settings, timeout_ms: int = 3000) -> dict[int, int]:
    """Each partition's end offset (the offset the next message will get), from the broker."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers(settings),
        client_id="crm-status",
        enable_auto_commit=False,
        request_timeout_ms=timeout_ms + 1000,
        bootstrap_timeout_ms=timeout_ms,
        allow_auto_create_topics=False,
    )
    try:
        partitions = consumer.partitions_for_topic(settings.kafka_topic) or set()
        wanted = [TopicPartition(settings.kafka_topic, p) for p in partitions]
        ends = consumer.end_offsets(wanted, timeout_ms=timeout_ms) if wanted else {}
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        consumer.close(autocommit=False)
