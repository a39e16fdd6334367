"""The projector runner: one Kafka consumer feeds every projection of a process; each
projection keeps its own offsets in PostgreSQL.

A `crm project` process is one member of one consumer group, whatever the number of its
projections: processes feeding the same set of projections share the group `group_id` names
(and split the partitions); processes feeding other sets are in other groups. When
partitions are assigned, the consumer seeks each to the lowest offset its projections stored
in PostgreSQL (the start of the partition if one has none); Kafka's own committed offsets
are never used. Each poll's messages are decoded once and applied to every projection in
one transaction with their offsets (`consumers.kafka_feed`), which sends the consumer back
to a projection's stored offset whenever it is behind where the consumer reads.

The topic is the relay's: a projector never creates it, and reads it only while it is the
topic the relay verified (same topic id); while it is not (gone, or replaced and not yet
checked by the relay), the consumer stays in its group but pauses, fetching nothing. Every
CHECK_SECONDS, it also compares the stored offsets with where it reads, so that commits
lost by a database crash are read again even when no new message arrives. PostgreSQL being
away is waited out with the consumer kept in its group; a broker failure closes the
consumer and opens it again. Either way it resumes from the stored offsets. Any other
failure stops the runner with the reason.
"""

import hashlib
import threading
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

import psycopg
import structlog
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, NoOffsetForPartitionError
from psycopg_pool import ConnectionPool

from consumers.kafka_feed import Outcome, feed, lowest, read_from
from infra.kafka import TopicAdmin, open_consumer
from infra.metrics import PARKED, PROJECTED
from infra.settings import Settings
from projections.projection import Projection

log = structlog.get_logger()

RETRY_SECONDS = 1.0
CHECK_SECONDS = 2.0
MAX_RECORDS = 2000
"""Most messages applied in one transaction: 5,000 caught up no faster, and a longer
transaction nears the poll interval the tests' broker allows (3 s)."""
UNREACHABLE = (psycopg.OperationalError, KafkaError)


class TopicNotReady(Exception):  # noqa: N818 - waited out, like an outage
    """The topic is missing, or is not (yet) the one the relay verified."""


def group_id(projections: Collection[str]) -> str:
    """The consumer group of the processes that feed exactly these projections."""
    names = ",".join(sorted(projections)).encode()
    return f"crm-project-{hashlib.sha256(names).hexdigest()[:12]}"


class Positions(ConsumerRebalanceListener):
    """Where the consumer reads each assigned partition from; newly assigned partitions are
    sought to the lowest offset their projections stored in PostgreSQL.

    kafka-python logs and swallows a listener's exceptions, so a failure is kept here and
    raised by the poll loop instead.
    """

    def __init__(
        self, consumer: KafkaConsumer, pool: ConnectionPool, projections: Collection[str]
    ) -> None:
        self._consumer = consumer
        self._pool = pool
        self._projections = projections
        self.error: BaseException | None = None
        self.reading: dict[TopicPartition, int | None] = {}
        """Where the consumer reads each assigned partition from (None: the topic's start),
        as far as it knows; a partition it does not know is sought before it is applied."""

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        """Forgets the partitions: offsets are stored with the rows they produced."""
        for tp in revoked:
            self.reading.pop(tp, None)

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        """Seeks each partition to the lowest offset stored for it, or to its start."""
        try:
            self.align(assigned)
            log.info("partitions assigned", partitions=sorted(tp.partition for tp in assigned))
        except BaseException as error:  # noqa: BLE001 - raised again by the poll loop
            self.error = error

    def align(self, partitions: Collection[TopicPartition]) -> None:
        """Seeks every partition the consumer does not read from the lowest stored offset."""
        for topic in {tp.topic for tp in partitions}:
            mine = [tp for tp in partitions if tp.topic == topic]
            with self._pool.connection() as conn:
                offsets = read_from(conn, self._projections, topic, [tp.partition for tp in mine])
            self.seek({tp: offsets[tp.partition] for tp in mine if tp not in self.reading
                       or self.reading[tp] != offsets[tp.partition]})  # fmt: skip

    def seek(self, offsets: dict[TopicPartition, int | None]) -> None:
        """Reads each partition from its offset (none, or 0: from the topic's start)."""
        for tp, offset in offsets.items():
            if offset:
                self._consumer.seek(tp, offset)
            else:
                self._consumer.seek_to_beginning(tp)
            self.reading[tp] = offset
        if offsets:
            log.info("partitions read from their stored offsets",
                     partitions=sorted(tp.partition for tp in offsets))  # fmt: skip


class ProjectorRunner:
    """Feeds projections from the events topic through one consumer until told to stop."""

    def __init__(
        self,
        settings: Settings,
        pool: ConnectionPool,
        projections: Sequence[Projection],
        *,
        max_records: int = MAX_RECORDS,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._projections = list(projections)
        self._names = [p.name for p in projections]
        self._max_records = max_records
        self._admin: TopicAdmin | None = None
        self.group_id = group_id(self._names)

    def run(self, keep_going: Callable[[], bool]) -> None:
        """Consumes while `keep_going()`, opening the consumer again after an outage."""
        log.info("projector starting", group=self.group_id, projections=self._names)
        try:
            while keep_going():
                try:
                    self._consume(keep_going)
                except (*UNREACHABLE, TopicNotReady) as error:
                    log.warning(
                        "projector waiting for PostgreSQL, Kafka or the relay's topic",
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
        consumer = open_consumer(self._settings, self.group_id, "crm-project")
        listener = Positions(consumer, self._pool, self._names)
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
                        listener.reading.clear()  # dropped: read again once verified
                except (psycopg.OperationalError, NoOffsetForPartitionError) as error:
                    self._wait_for_database(listener, error)
                    checked = -CHECK_SECONDS  # seek to the stored offsets once it answers
        finally:
            consumer.close(autocommit=False)

    def _wait_for_database(self, listener: Positions, error: Exception) -> None:
        """PostgreSQL is away: the consumer stays in its group (leaving and joining again
        at once can leave a group without partitions on some brokers), forgets where it
        stands, and seeks to the stored offsets once the database answers."""
        log.warning("projector waiting for PostgreSQL", error=error)
        listener.reading.clear()
        self._pool.check()  # drop every connection the outage broke, not one per attempt
        threading.Event().wait(RETRY_SECONDS)

    def _check(self, consumer: KafkaConsumer, listener: Positions) -> bool:
        """Reads on from the stored offsets while the topic is the one the relay verified;
        pauses (staying in the group, fetching nothing) while it is not, or while the broker
        cannot say."""
        assigned = list(consumer.assignment())
        try:
            verified = self._topic_verified()
        except KafkaError as error:
            log.warning("topic not checked", error=error)
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
        listener: Positions,
        polled: dict[TopicPartition, list[Any]],
    ) -> None:
        """Applies a poll's messages to every projection; a partition whose position the
        listener does not know is sought to its stored offset instead (its messages are
        read again from there)."""
        if unknown := [tp for tp in polled if tp not in listener.reading]:
            listener.align(unknown)
        known = sorted((tp for tp in polled if tp not in unknown), key=lambda tp: tp.partition)
        if not known:
            return
        topic = known[0].topic
        records = [record for tp in known for record in polled[tp]]
        highwaters = {tp.partition: consumer.highwater(tp) for tp in known}
        reading = {tp.partition: listener.reading[tp] for tp in known}
        with self._pool.connection() as conn:
            outcomes = feed(conn, self._projections, topic, records, reading, highwaters)
        listener.reading.update({tp: polled[tp][-1].offset + 1 for tp in known})
        behind: dict[int, list[int | None]] = {}
        for outcome in outcomes.values():
            for partition, offset in outcome.seek.items():
                behind.setdefault(partition, []).append(offset)
        listener.seek({TopicPartition(topic, p): lowest(o) for p, o in behind.items()})
        _report(outcomes)


def _report(outcomes: dict[str, Outcome]) -> None:
    """Counts what each projection applied and parked; says what waits."""
    for name, outcome in outcomes.items():
        PROJECTED.labels(name).inc(outcome.applied)
        if outcome.parked:
            PARKED.labels(name).inc(outcome.parked)
            log.error("messages parked as dead letters", projection=name, count=outcome.parked)
        if outcome.waiting:
            log.warning("messages wait for an earlier one being republished",
                        projection=name, count=outcome.waiting)  # fmt: skip


def run_projectors(
    settings: Settings,
    pool: ConnectionPool,
    projections: Sequence[Projection],
    stopping: threading.Event,
) -> None:
    """Feeds the projections through one consumer until `stopping` is set; raises what
    stopped it otherwise."""
    ProjectorRunner(settings, pool, projections).run(lambda: not stopping.is_set())
