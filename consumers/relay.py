"""The relay: publishes the event store's events to Kafka in position order, at least once.

It follows the notification log from its own recorded position, sends each event as the
CONTRACT.md envelope keyed by customer id, and records the new position only once the
broker has acknowledged every message before it. A crash or a broker failure therefore
republishes, never skips; projectors drop what they have already applied.

Events never commit late with a lower position: the event store's inserts hold a table lock
through commit, so following `position > recorded` skips nothing.

Each message also carries, in header `previous_position`, the position of the event sent
before it to the same partition. A projector applies a message only when it has applied
that one, so a message that reached the broker after an earlier one was lost (a broker
failure mid-batch) waits for the republication instead of overtaking it.

One relay publishes at a time (`infra.leadership`); others wait as standbys.
"""

import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import structlog
from kafka import KafkaProducer
from kafka.errors import KafkaError
from psycopg_pool import ConnectionPool

from consumers.notifications import follow
from infra.event_store import EventStore, open_event_store
from infra.kafka import ensure_topic, open_producer, partition_for
from infra.leadership import StillLeading, lead
from infra.metrics import RELAYED
from infra.postgres import UNREACHABLE, open_pool
from infra.settings import Settings
from projections.envelope import SCHEMA_VERSION, Envelope, encode
from projections.stored_events import read_events

log = structlog.get_logger()

DDL = """
CREATE TABLE IF NOT EXISTS crm_relay (
    topic text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    partition_positions bigint[] NOT NULL DEFAULT '{}'
);
"""
RELAY_LOCK = 7_401_313  # advisory lock id: the active relay holds it
RETRY_SECONDS = 1.0
SCHEMA_HEADER = str(SCHEMA_VERSION).encode()


class PublishFailed(Exception):
    """The broker did not acknowledge a message; nothing after the recorded position counts."""


class Relay:
    """Publishes stored events to one topic, recording how far the broker has acknowledged."""

    def __init__(
        self,
        store: EventStore,
        pool: ConnectionPool,
        producer: KafkaProducer,
        topic: str,
        partitions: int,
        *,
        batch_size: int = 5000,
    ) -> None:
        self._store = store
        self._pool = pool
        self._producer = producer
        self._topic = topic
        self._partitions = partitions
        self._batch_size = batch_size
        self.position, self._chain = self._load()

    def publish(self) -> int:
        """Publishes the next batch of events and records it; returns how many were sent."""
        batch = next(read_events(self._store.recorder, self.position, batch=self._batch_size), [])
        if batch:
            chain = list(self._chain)
            futures = [self._send(event, chain) for event in batch]
            self._producer.flush()
            for future in futures:
                if not future.succeeded():
                    raise PublishFailed(repr(future.exception))
            self._record(batch[-1].position, chain)
            RELAYED.inc(len(batch))
        return len(batch)

    def run(self, url: str, keep_going: Callable[[], bool]) -> None:
        """Publishes as events are stored, woken by LISTEN/NOTIFY, while `keep_going()`."""
        follow(
            url,
            self._store.recorder.channel_name,  # type: ignore[attr-defined]
            lambda: self.publish() >= self._batch_size,
            keep_going,
        )

    def _send(self, event: Envelope, chain: list[int]) -> Any:
        key = (event.customer_id or event.stream_id).encode()
        partition = partition_for(key, self._partitions)
        previous, chain[partition] = chain[partition], event.position
        headers = [
            ("type", event.type.encode()),
            ("schema_version", SCHEMA_HEADER),
            ("previous_position", str(previous).encode()),
        ]
        return self._producer.send(
            self._topic, value=encode(event), key=key, partition=partition, headers=headers
        )

    def _load(self) -> tuple[int, list[int]]:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO crm_relay (topic) VALUES (%s) ON CONFLICT DO NOTHING", (self._topic,)
            )
            position, chain = conn.execute(
                "SELECT position, partition_positions FROM crm_relay WHERE topic = %s",
                (self._topic,),
            ).fetchone()
        if chain and len(chain) != self._partitions:
            raise RuntimeError(
                f"topic {self._topic} has {self._partitions} partitions, but the relay published"
                f" to {len(chain)}: customers would change partitions and lose their order"
            )
        return position, list(chain) or [0] * self._partitions

    def _record(self, position: int, chain: Sequence[int]) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE crm_relay SET position = %s, partition_positions = %s WHERE topic = %s",
                (position, list(chain), self._topic),
            )
        self.position, self._chain = position, list(chain)


BROKER_TROUBLE = (KafkaError, PublishFailed)
"""Failures after which the relay starts again from its recorded position."""


def run_relay(settings: Settings, url: str, keep_going: Callable[[], bool]) -> None:
    """The `crm relay` process: waits to be the active relay, then publishes until told to
    stop or until it loses its lock, starting again from the recorded position after any
    broker or database outage."""
    store = open_event_store(url, pool_size=2)
    pool = open_pool(url, 2, "relay")
    try:
        lead(url, RELAY_LOCK, "relay", keep_going, partial(_publish, settings, store, pool, url))
    finally:
        pool.close()
        store.close()


def _publish(
    settings: Settings,
    store: EventStore,
    pool: ConnectionPool,
    url: str,
    still_leading: StillLeading,
) -> None:
    while still_leading():
        try:
            _publish_until_failure(settings, store, pool, url, still_leading)
        except (*BROKER_TROUBLE, *UNREACHABLE) as error:
            log.warning("relay starts again from its recorded position", error=error)
            threading.Event().wait(RETRY_SECONDS)
            pool.check()


def _publish_until_failure(
    settings: Settings,
    store: EventStore,
    pool: ConnectionPool,
    url: str,
    keep_going: Callable[[], bool],
) -> None:
    partitions = ensure_topic(settings)
    producer = open_producer(settings, "crm-relay")
    try:
        relay = Relay(store, pool, producer, settings.kafka_topic, partitions)
        log.info("relay publishing", topic=settings.kafka_topic, after=relay.position)
        relay.run(url, keep_going)
    finally:
        producer.close(timeout=5)
