"""The relay: publishes the event store's events to Kafka in position order, at least once.

It follows the notification log from its own recorded position, sends each event as the
message envelope (docs/kafka.md) keyed by customer id, and records the new position only
once the broker has acknowledged every message before it. A crash or a broker failure
therefore republishes, never skips; projectors drop what they have already applied.

Events never commit late with a lower position: the event store's inserts hold a table lock
through commit, so following `position > recorded` skips nothing.

Each message also carries, in header `previous_position`, the position of the event sent
before it to the same partition. A projector applies a message only when it has applied
that one, so a message that reached the broker after an earlier one was lost (a broker
failure mid-batch) waits for the republication instead of overtaking it.

One relay publishes at a time (`infra.leadership`); others wait as standbys.
"""

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog
from psycopg_pool import ConnectionPool

from consumers.notifications import follow
from domain.events.envelope import Envelope, encode
from infra.event_store import EventStore, open_event_store
from infra.leadership import StillLeading, lead
from infra.logging import error_summary
from infra.metrics import RELAYED
from infra.postgres import UNREACHABLE, open_pool
from infra.settings import Settings
from infra.stored_events import read_events

if TYPE_CHECKING:  # kafka costs half a second of CPU to import: only the relay imports it
    from kafka import KafkaProducer

    from infra.kafka import TopicAdmin

log = structlog.get_logger()

DDL = """
CREATE TABLE IF NOT EXISTS crm_relay (
    topic text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    partition_positions bigint[] NOT NULL DEFAULT '{}'
);
ALTER TABLE crm_relay
    ADD COLUMN IF NOT EXISTS generation int NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS topic_id text,
    ADD COLUMN IF NOT EXISTS partition_offsets bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS fault text,
    ADD COLUMN IF NOT EXISTS checked_at timestamptz;
"""
RELAY_LOCK = 7_401_313  # advisory lock id: the active relay holds it
RETRY_SECONDS = 1.0
CHECK_SECONDS = 5.0
"""How often the relay checks the topic (before a batch, or while it waits for events)."""


class PublishFailed(Exception):
    """The broker did not acknowledge a message; nothing after the recorded position counts."""


class TopicFault(Exception):
    """The topic cannot be published to without a person deciding (its message says why)."""


@dataclass
class Published:
    """How far the relay has published, as recorded in `crm_relay`."""

    position: int
    chain: list[int]
    """Per partition, the position of the last event sent to it (0: none yet)."""
    offsets: list[int]
    """Per partition, the offset after the last message the broker acknowledged."""
    generation: int
    topic_id: str | None

    def restarted(self, topic_id: str | None, partitions: int) -> "Published":
        """Everything to publish again from position 0, as a new generation."""
        return Published(0, [0] * partitions, [0] * partitions, self.generation + 1, topic_id)


class Relay:
    """Publishes stored events to one topic, recording how far the broker has acknowledged.

    The relay owns the topic: it creates it, and checks it before publishing and every
    CHECK_SECONDS. A topic that is gone, or was recreated (another topic id), or lost
    acknowledged messages (an acknowledgement at an offset below one acknowledged before) is
    published again from position 0 as a new generation; projectors then read it from its
    start and skip what they have applied. A recreated topic with the wrong partition count
    holds nothing the relay cannot publish again, so it is deleted and created anew; the
    same topic with a changed partition count is a `TopicFault`, because customers would
    change partitions and lose their order.
    """

    def __init__(
        self,
        store: EventStore,
        pool: ConnectionPool,
        producers: Callable[[], "KafkaProducer"],
        admin: "TopicAdmin",
        *,
        batch_size: int = 5000,
    ) -> None:
        self._store = store
        self._pool = pool
        self._producers = producers
        self._producer = producers()
        self._admin = admin
        self._topic = admin.topic
        self._batch_size = batch_size
        self._checked = -CHECK_SECONDS
        self.published = self._load()

    @property
    def position(self) -> int:
        return self.published.position

    def publish(self) -> int:
        """Publishes the next batch of events and records it; returns how many were sent."""
        if time.monotonic() - self._checked >= CHECK_SECONDS:
            self.check_topic()
        batch = next(read_events(self._store.recorder, self.position, batch=self._batch_size), [])
        if batch:
            chain, offsets = list(self.published.chain), list(self.published.offsets)
            try:
                futures = [self._send(event, chain) for event in batch]
            except ValueError as error:  # the producer knows the topic with fewer partitions
                raise PublishFailed(str(error)) from error
            self._producer.flush()
            for future in futures:
                if not future.succeeded():
                    raise PublishFailed(error_summary(future.exception))
                acknowledged = future.value
                if acknowledged.offset < offsets[acknowledged.partition]:
                    self._restart(
                        self.published.topic_id, len(chain), "the topic lost acknowledged messages"
                    )
                    return len(batch)
                offsets[acknowledged.partition] = acknowledged.offset + 1
            self._record(replace(self.published, position=batch[-1].position, chain=chain,
                                 offsets=offsets))  # fmt: skip
            RELAYED.inc(len(batch))
        return len(batch)

    def publish_all(self) -> int:
        """Publishes until every stored event is published; returns how many were sent."""
        sent = 0
        while count := self.publish():
            sent += count
        return sent

    def check_topic(self) -> None:
        """Creates the topic if it is missing and starts a new generation if it changed."""
        info = self._admin.describe()
        known = self.published.topic_id
        partitions = len(self.published.chain) or (
            info.partitions if info else self._admin.default_partitions
        )
        if info is not None and info.partitions != partitions:
            if info.topic_id is None or info.topic_id == known:
                raise TopicFault(
                    f"topic {self._topic} has {info.partitions} partitions, the relay publishes"
                    f" to {partitions}: customers would change partitions and lose their order;"
                    " delete the topic (the relay creates it again and republishes every event)"
                )
            log.warning("topic recreated with other partitions; creating it again",
                        topic=self._topic, partitions=info.partitions, expected=partitions)  # fmt: skip
            self._admin.delete()
            info = None
        replaced = (
            info is not None and None not in (info.topic_id, known) and info.topic_id != known
        )
        if info is None:
            self._admin.create(partitions)
            info = self._admin.describe()
            if info is None or info.partitions != partitions:
                raise TopicFault(f"topic {self._topic} could not be created with {partitions}"
                                 " partitions; the relay tries again")  # fmt: skip
            replaced = True
        if replaced:
            self._restart(info.topic_id, partitions, "the topic is not the one published to")
        else:
            self._record(replace(self.published, topic_id=info.topic_id,
                                 chain=self.published.chain or [0] * partitions,
                                 offsets=self.published.offsets or [0] * partitions))  # fmt: skip
        self._checked = time.monotonic()

    def run(self, url: str, keep_going: Callable[[], bool]) -> None:
        """Publishes as events are stored, woken by LISTEN/NOTIFY, while `keep_going()`."""
        follow(
            url,
            self._store.recorder.channel_name,  # type: ignore[attr-defined]
            lambda: self.publish() >= self._batch_size,
            keep_going,
        )

    def close(self) -> None:
        self._producer.close(timeout=5)

    def _restart(self, topic_id: str | None, partitions: int, why: str) -> None:
        restarted = self.published.restarted(topic_id, partitions)
        log.warning("publishing every event again", topic=self._topic, reason=why,
                    generation=restarted.generation)  # fmt: skip
        self._record(restarted)
        self._producer.close(timeout=5)  # its view of the topic's partitions may be stale
        self._producer = self._producers()

    def _send(self, event: Envelope, chain: list[int]) -> Any:
        from infra.kafka import partition_for

        key = (event.customer_id or event.stream_id).encode()
        partition = partition_for(key, len(chain))
        previous, chain[partition] = chain[partition], event.position
        headers = [
            ("type", event.type.encode()),
            ("schema_version", str(event.schema_version).encode()),
            ("previous_position", str(previous).encode()),
            ("generation", str(self.published.generation).encode()),
        ]
        return self._producer.send(
            self._topic, value=encode(event), key=key, partition=partition, headers=headers
        )

    def _load(self) -> Published:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO crm_relay (topic) VALUES (%s) ON CONFLICT DO NOTHING", (self._topic,)
            )
            position, chain, offsets, generation, topic_id = conn.execute(
                "SELECT position, partition_positions, partition_offsets, generation, topic_id"
                " FROM crm_relay WHERE topic = %s",
                (self._topic,),
            ).fetchone()
        return Published(position, list(chain), list(offsets) or [0] * len(chain), generation,
                         topic_id)  # fmt: skip

    def _record(self, published: Published) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE crm_relay SET position = %s, partition_positions = %s,"
                " partition_offsets = %s, generation = %s, topic_id = %s, fault = NULL,"
                " checked_at = now() WHERE topic = %s",
                (published.position, published.chain, published.offsets, published.generation,
                 published.topic_id, self._topic),
            )  # fmt: skip
        self.published = published


def record_fault(pool: ConnectionPool, topic: str, fault: str) -> None:
    """Shows why the relay cannot publish (in `crm_relay.fault`, read by the status route)."""
    with pool.connection() as conn:
        conn.execute(
            "UPDATE crm_relay SET fault = %s, checked_at = now() WHERE topic = %s", (fault, topic)
        )


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
    from kafka.errors import KafkaError

    while still_leading():
        try:
            _publish_until_failure(settings, store, pool, url, still_leading)
        except (KafkaError, PublishFailed, TopicFault) as error:  # start again from the record
            fault = str(error) if isinstance(error, TopicFault) else _broker_fault(error)
            log.warning("relay starts again from its recorded position", fault=fault)
            with contextlib.suppress(*UNREACHABLE):
                record_fault(pool, settings.kafka_topic, fault)
            threading.Event().wait(RETRY_SECONDS)
        except UNREACHABLE as error:
            log.warning("relay starts again from its recorded position", error=error)
            threading.Event().wait(RETRY_SECONDS)
            pool.check()


def _broker_fault(error: BaseException) -> str:
    return f"cannot publish: {error_summary(error)}"


def _publish_until_failure(
    settings: Settings,
    store: EventStore,
    pool: ConnectionPool,
    url: str,
    keep_going: Callable[[], bool],
) -> None:
    from infra.kafka import TopicAdmin, open_producer

    admin = TopicAdmin(settings)
    try:
        relay = Relay(store, pool, lambda: open_producer(settings, "crm-relay"), admin)
        try:
            relay.check_topic()
            log.info("relay publishing", topic=settings.kafka_topic, after=relay.position,
                     generation=relay.published.generation)  # fmt: skip
            relay.run(url, keep_going)
        finally:
            relay.close()
    finally:
        admin.close()
