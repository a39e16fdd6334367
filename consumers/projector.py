"""The projector runner: one Kafka consumer group per projection, offsets kept in PostgreSQL.

Each projection runs in a thread of its own, with a consumer in group `crm-<projection>`.
When partitions are assigned, the consumer seeks to the offsets stored in PostgreSQL (the
start of the partition if none); Kafka's own committed offsets are never used. Each poll's
messages are applied in one transaction with their offsets (`consumers.kafka_feed`).

PostgreSQL or the broker being away is waited out: the consumer is closed and opened again,
and it resumes from the stored offsets. Any other failure stops the runner with the reason.
"""

import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import structlog
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, OffsetOutOfRangeError
from psycopg_pool import ConnectionPool

from consumers.kafka_feed import handle, stored_offsets
from infra.kafka import ensure_topic, open_consumer
from infra.metrics import PARKED, PROJECTED
from infra.settings import Settings
from projections.projection import Projection

log = structlog.get_logger()

RETRY_SECONDS = 1.0
UNREACHABLE = (psycopg.OperationalError, KafkaError)


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

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        """Nothing to do: offsets are stored with the rows they produced."""

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        """Seeks each partition to its stored offset, or to its start."""
        try:
            for topic in {tp.topic for tp in assigned}:
                mine = [tp for tp in assigned if tp.topic == topic]
                with self._pool.connection() as conn:
                    offsets = stored_offsets(
                        conn, self._projection, topic, [tp.partition for tp in mine]
                    )
                for tp in mine:
                    if tp.partition in offsets:
                        self._consumer.seek(tp, offsets[tp.partition])
                    else:
                        self._consumer.seek_to_beginning(tp)
            log.info(
                "partitions assigned",
                projection=self._projection,
                partitions=sorted(tp.partition for tp in assigned),
            )
        except BaseException as error:  # noqa: BLE001 - raised again by the poll loop
            self.error = error


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
        self.group_id = f"crm-{projection.name}"

    def run(self, keep_going: Callable[[], bool]) -> None:
        """Consumes while `keep_going()`, opening the consumer again after an outage."""
        while keep_going():
            try:
                self._consume(keep_going)
            except OffsetOutOfRangeError:
                raise  # the topic lost messages this projection has not applied
            except UNREACHABLE as error:
                log.warning(
                    "projector waiting for PostgreSQL or Kafka",
                    projection=self._projection.name,
                    error=error,
                )
                threading.Event().wait(RETRY_SECONDS)

    def _consume(self, keep_going: Callable[[], bool]) -> None:
        topic = self._settings.kafka_topic
        ensure_topic(self._settings)  # when started before the relay
        consumer = open_consumer(self._settings, self.group_id, f"crm-project-{self.group_id}")
        listener = SeekToStoredOffsets(consumer, self._pool, self._projection.name)
        try:
            consumer.subscribe([topic], listener=listener)
            while keep_going():
                polled = consumer.poll(timeout_ms=500, max_records=self._max_records)
                if listener.error is not None:
                    raise listener.error
                if polled:
                    self._apply(consumer, polled)
        finally:
            consumer.close(autocommit=False)

    def _apply(self, consumer: KafkaConsumer, polled: dict[TopicPartition, list[Any]]) -> None:
        partitions = sorted(polled, key=lambda tp: tp.partition)
        records = [record for tp in partitions for record in polled[tp]]
        highwaters = {tp.partition: consumer.highwater(tp) for tp in partitions}
        with self._pool.connection() as conn:
            outcome = handle(conn, self._projection, partitions[0].topic, records, highwaters)
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
