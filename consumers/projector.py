"""The projector runner: one Kafka consumer group per projection, offsets kept in PostgreSQL.

Each projection runs in a thread of its own, with a consumer in group `crm-<projection>`.
When partitions are assigned, the consumer seeks to the offsets stored in PostgreSQL (the
start of the partition if none); Kafka's own committed offsets are never used. Each poll's
messages are applied in one transaction with their offsets (`consumers.kafka_feed`), which
sends the consumer back to the stored offsets whenever they are not where it reads.

The topic is the relay's: a projector never creates it, and reads it only while it is the
topic the relay verified (same topic id); while it is not (gone, or replaced and not yet
checked by the relay), the consumer stays in its group but pauses, fetching nothing. Every
CHECK_SECONDS, it also compares the stored offsets with where it reads, so that commits
lost by a database crash are read again even when no new message arrives. PostgreSQL being
away is waited out with the consumer kept in its group; a broker failure closes the
consumer and opens it again. Either way it resumes from the stored offsets. Any other
failure stops the runner with the reason.
"""

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import structlog
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, NoOffsetForPartitionError
from psycopg_pool import ConnectionPool

from consumers.kafka_feed import Offsets, handle, stored_offsets
from infra.kafka import TopicAdmin, open_consumer
from infra.metrics import PARKED, PROJECTED
from infra.settings import Settings
from projections.projection import Projection

log = structlog.get_logger()

RETRY_SECONDS = 1.0
CHECK_SECONDS = 2.0
UNREACHABLE = (psycopg.OperationalError, KafkaError)


class TopicNotReady(Exception):  # noqa: N818 - waited out, like an outage
    """The topic is missing, or is not (yet) the one the relay verified."""


class SeekToStoredOffsets(ConsumerRebalanceListener):
    """Positions newly assigned partitions at the offsets stored in PostgreSQL.

    kafka-python logs and swallows a listener's exceptions, so a failure is kept here and
    raised by the poll loop instead.
    """

    def __init__(self, consumer: KafkaConsumer, pool: ConnectionPool, projection: str) -> None:
        self._consumer = consumer
        self._pool = pool
        self._projection = projection
        self.error: BaseException | None = None
        self.believed: dict[TopicPartition, int | None] = {}
        """Where the consumer reads each assigned partition from, as far as it knows."""

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        """Forgets the partitions: offsets are stored with the rows they produced."""
        for tp in revoked:
            self.believed.pop(tp, None)

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        """Seeks each partition to its stored offset, or to its start."""
        try:
            self.align(assigned)
            log.info(
                "partitions assigned",
                projection=self._projection,
                partitions=sorted(tp.partition for tp in assigned),
            )
        except BaseException as error:  # noqa: BLE001 - raised again by the poll loop
            self.error = error

    def align(self, partitions: Sequence[TopicPartition]) -> None:
        """Seeks every partition whose stored offset is not where the consumer reads."""
        for topic in {tp.topic for tp in partitions}:
            mine = [tp for tp in partitions if tp.topic == topic]
            with self._pool.connection() as conn:
                offsets = stored_offsets(
                    conn, self._projection, topic, [tp.partition for tp in mine]
                )
            self.seek({tp: offsets[tp.partition] for tp in mine if tp not in self.believed
                       or self.believed[tp] != offsets[tp.partition]})  # fmt: skip

    def seek(self, offsets: dict[TopicPartition, int | None]) -> None:
        """Reads each partition from its offset (none, or 0: from the topic's start)."""
        for tp, offset in offsets.items():
            if offset:
                self._consumer.seek(tp, offset)
            else:
                self._consumer.seek_to_beginning(tp)
            self.believed[tp] = offset
        if offsets:
            log.info("partitions read from their stored offsets", projection=self._projection,
                     partitions=sorted(tp.partition for tp in offsets))  # fmt: skip


class ProjectorRunner:
    """Feeds one projection from the events topic until told to stop."""

    def __init__(
        self,
        settings: Settings,
        pool: ConnectionPool,
        projection: Projection,
        *,
        max_records: int = 2000,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._projection = projection
        self._max_records = max_records
        self._admin: TopicAdmin | None = None
        self.group_id = f"crm-{projection.name}"

    def run(self, keep_going: Callable[[], bool]) -> None:
        """Consumes while `keep_going()`, opening the consumer again after an outage."""
        try:
            while keep_going():
                try:
                    self._consume(keep_going)
                except (*UNREACHABLE, TopicNotReady) as error:
                    log.warning(
                        "projector waiting for PostgreSQL, Kafka or the relay's topic",
                        projection=self._projection.name,
                        error=error,
                    )
                    if isinstance(error, KafkaError):
                        self._close_admin()
                    threading.Event().wait(RETRY_SECONDS)
        finally:
            self._close_admin()

    def _consume(self, keep_going: Callable[[], bool]) -> None:
        if not self._topic_verified():
            raise TopicNotReady("no topic the relay verified yet")
        consumer = open_consumer(self._settings, self.group_id, f"crm-project-{self.group_id}")
        listener = SeekToStoredOffsets(consumer, self._pool, self._projection.name)
        checked, verified = time.monotonic(), True
        try:
            consumer.subscribe([self._settings.kafka_topic], listener=listener)
            while keep_going():
                try:
                    if time.monotonic() - checked >= CHECK_SECONDS:
                        verified = self._check(consumer, listener)
                        checked = time.monotonic()
                    polled = consumer.poll(timeout_ms=500, max_records=self._max_records)
                    if listener.error is not None:
                        error, listener.error = listener.error, None
                        raise error
                    if polled and verified:
                        self._apply(consumer, listener, polled)
                    elif polled:
                        listener.believed.clear()  # dropped: read again once verified
                except (psycopg.OperationalError, NoOffsetForPartitionError) as error:
                    self._wait_for_database(listener, error)
                    checked = -CHECK_SECONDS  # seek to the stored offsets once it answers
        finally:
            consumer.close(autocommit=False)

    def _wait_for_database(self, listener: SeekToStoredOffsets, error: Exception) -> None:
        """PostgreSQL is away: the consumer stays in its group (leaving and joining again
        at once can leave a group without partitions on some brokers), forgets where it
        stands, and seeks to the stored offsets once the database answers."""
        log.warning("projector waiting for PostgreSQL", projection=self._projection.name,
                    error=error)  # fmt: skip
        listener.believed.clear()
        self._pool.check()  # drop every connection the outage broke, not one per attempt
        threading.Event().wait(RETRY_SECONDS)

    def _check(self, consumer: KafkaConsumer, listener: SeekToStoredOffsets) -> bool:
        """Reads on from the stored offsets while the topic is the one the relay verified;
        pauses (staying in the group, fetching nothing) while it is not, or while the broker
        cannot say."""
        assigned = list(consumer.assignment())
        try:
            verified = self._topic_verified()
        except KafkaError as error:
            log.warning("topic not checked", projection=self._projection.name, error=error)
            self._close_admin()
            verified = False
        if not verified:
            consumer.pause(*assigned)
            return False
        consumer.resume(*assigned)
        listener.align(assigned)
        return True

    def _topic_verified(self) -> bool:
        """Whether the topic exists and is the one the relay last verified."""
        self._admin = self._admin or TopicAdmin(self._settings)
        info = self._admin.describe()
        if info is None:
            return False
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT topic_id FROM crm_relay WHERE topic = %s", (self._admin.topic,)
            ).fetchone()
        return row is not None and (None in (row[0], info.topic_id) or row[0] == info.topic_id)

    def _close_admin(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def _apply(
        self,
        consumer: KafkaConsumer,
        listener: SeekToStoredOffsets,
        polled: dict[TopicPartition, list[Any]],
    ) -> None:
        partitions = sorted(polled, key=lambda tp: tp.partition)
        topic = partitions[0].topic
        records = [record for tp in partitions for record in polled[tp]]
        highwaters = {tp.partition: consumer.highwater(tp) for tp in partitions}
        believed: Offsets = {tp.partition: listener.believed.get(tp) for tp in partitions}
        with self._pool.connection() as conn:
            outcome = handle(conn, self._projection, topic, records, believed, highwaters)
        listener.believed.update({TopicPartition(topic, p): o for p, o in outcome.stored.items()})
        listener.seek({TopicPartition(topic, p): o for p, o in outcome.seek.items()})
        PROJECTED.labels(self._projection.name).inc(outcome.applied)
        if outcome.parked:
            PARKED.labels(self._projection.name).inc(outcome.parked)
            log.error("messages parked as dead letters", projection=self._projection.name,
                      count=outcome.parked)  # fmt: skip
        if outcome.waiting:
            log.warning("messages wait for an earlier one being republished",
                        projection=self._projection.name, count=outcome.waiting)  # fmt: skip


def run_projectors(
    settings: Settings,
    pool: ConnectionPool,
    projections: Sequence[Projection],
    stopping: threading.Event,
) -> None:
    """Runs one thread per projection until `stopping` is set; if one thread fails, stops the
    others and raises its error."""
    failures: list[BaseException] = []

    def feed(projection: Projection) -> None:
        try:
            ProjectorRunner(settings, pool, projection).run(lambda: not stopping.is_set())
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            log.error("projector stopped", projection=projection.name, error=error)
            failures.append(error)
            stopping.set()

    threads = [
        threading.Thread(target=feed, args=(p,), name=f"project-{p.name}", daemon=True)
        for p in projections
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
