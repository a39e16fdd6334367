"""Who read which customer's personal data: access records, written off the request path.

An answer that carries a customer's personal data to a role that sees it whole
(`api.policing`) hands an `AccessRecord` to the process's `AccessLog`, which only puts it
on a bounded queue: the request never waits for PostgreSQL. A writer thread copies what the
queue holds to `crm_access_log` in one batch about every second, and everything left when
the process stops. When the queue is full (PostgreSQL slower than the reads for
`QUEUE_CAPACITY` records), a record is dropped rather than the request blocked; a batch that
PostgreSQL refuses is dropped too. Both are counted in `crm_access_records_dropped_total`
(by reason) and logged as counts, without a record's contents.
"""

import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
import structlog
from psycopg import Connection
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from infra.event_store import EVENTS_TABLE
from infra.metrics import ACCESS_RECORDS_DROPPED, ACCESS_RECORDS_WRITTEN
from infra.postgres import with_connection

log = structlog.get_logger()

DDL = """
CREATE TABLE IF NOT EXISTS crm_access_log (
    id bigserial PRIMARY KEY,
    subject_id uuid NOT NULL,
    principal text NOT NULL,
    role text NOT NULL,
    route text NOT NULL,
    correlation_id text NOT NULL,
    read_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS crm_access_log_subject_idx ON crm_access_log (subject_id, id);
"""
"""One row per read: the subject (a customer, or a lead not yet converted), the key's
principal and role, the route (its template), the request's correlation id and when."""

QUEUE_CAPACITY = 10_000
"""Records waiting to be written, at most; past it, records are dropped (and counted)."""
FLUSH_SECONDS = 1.0
"""How long a record waits at most before its batch is written."""
BATCH_MAX = 5_000
"""Records written in one COPY at most."""
STOP_SECONDS = 10.0
"""How long stopping waits for the last batch."""

_COPY = (
    "COPY crm_access_log (subject_id, principal, role, route, correlation_id, read_at) FROM STDIN"
)


@dataclass(frozen=True)
class AccessRecord:
    """One read of a subject's personal data."""

    subject_id: UUID
    principal: str
    role: str
    route: str
    correlation_id: str
    read_at: datetime


_STOP = object()


class AccessLog:
    """A bounded queue of access records and the thread that writes them in batches."""

    def __init__(self, pool: ConnectionPool | None, capacity: int = QUEUE_CAPACITY) -> None:
        self._pool = pool
        self._queue: queue.Queue[object] = queue.Queue(capacity)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Starts the writer thread."""
        self._thread = threading.Thread(target=self._run, name="crm-access-log", daemon=True)
        self._thread.start()

    def record(self, record: AccessRecord) -> None:
        """Queues `record` without waiting; drops it (counted) if the queue is full."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            ACCESS_RECORDS_DROPPED.labels("queue_full").inc()

    def flush(self) -> None:
        """Waits until every record queued so far is written (or dropped)."""
        self._queue.join()

    def stop(self) -> None:
        """Writes what is queued, then stops the thread (waiting `STOP_SECONDS` at most)."""
        if self._thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=STOP_SECONDS)
        except queue.Full:
            pass  # the thread is stuck: it is a daemon, it ends with the process
        self._thread.join(STOP_SECONDS)
        self._thread = None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[AccessRecord] = []
            deadline = time.monotonic() + FLUSH_SECONDS
            while len(batch) < BATCH_MAX:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    self._queue.task_done()
                    batch += self._drained()
                    break
                assert isinstance(item, AccessRecord)
                batch.append(item)
            if batch:
                self._write(batch)
                for _ in batch:
                    self._queue.task_done()

    def _drained(self) -> list[AccessRecord]:
        """Everything still queued (when stopping)."""
        left: list[AccessRecord] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return left
            if isinstance(item, AccessRecord):
                left.append(item)
            else:
                self._queue.task_done()

    def _write(self, batch: list[AccessRecord]) -> None:
        assert self._pool is not None
        try:
            with_connection(self._pool, lambda conn: _copy(conn, batch))
        except (psycopg.Error, OSError) as error:
            ACCESS_RECORDS_DROPPED.labels("write_failed").inc(len(batch))
            log.warning("access records not written", records=len(batch), error=error)
        else:
            ACCESS_RECORDS_WRITTEN.inc(len(batch))


def _copy(conn: Connection[Any], batch: list[AccessRecord]) -> None:
    with conn.transaction(), conn.cursor().copy(_COPY) as copy:
        for r in batch:
            copy.write_row(
                (r.subject_id, r.principal, r.role, r.route, r.correlation_id, r.read_at)
            )


def page(
    conn: Connection[Any], subject_id: UUID, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """The subject's access records after record `after`, oldest first, at most `limit`;
    and the last one's id if there are more."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT id, subject_id AS customer_id, principal, role, route, correlation_id,"
            " read_at FROM crm_access_log WHERE subject_id = %s AND id > %s"
            " ORDER BY id LIMIT %s",
            (subject_id, after, limit + 1),
        ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].pop("id") if rows else None
    for row in rows:
        row.pop("id", None)
    return rows, last if more else None


def subject_known(conn: Connection[Any], subject_id: UUID) -> bool:
    """Whether the event store holds a stream with this id (erased or not)."""
    query = f"SELECT EXISTS (SELECT FROM {EVENTS_TABLE} WHERE originator_id = %s)"  # noqa: S608
    return bool(conn.execute(query, (subject_id,)).fetchone()[0])  # type: ignore[index]
