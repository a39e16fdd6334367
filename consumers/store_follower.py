"""Feeds projections straight from the event store, woken by LISTEN/NOTIFY.

Used by `crm serve` when no Kafka is configured. Each batch of events and the position it
reaches are written in one transaction, so a crash replays nothing twice and skips nothing.
The event store's inserts hold a table lock through commit, so positions become visible in
order and following `position > last applied` never skips a late commit.
"""

import threading
from collections.abc import Sequence

import psycopg
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from psycopg import sql
from psycopg_pool import ConnectionPool

from infra.event_store import EventStore
from infra.metrics import PROJECTED
from projections.projection import Projection, apply_batch, position
from projections.rebuild import read_events

log = structlog.get_logger()

UNREACHABLE = (psycopg.OperationalError, OperationalError, InterfaceError)


class StoreFollower:
    """A thread that keeps a set of projections caught up with the event store."""

    def __init__(
        self,
        store: EventStore,
        pool: ConnectionPool,
        url: str,
        projections: Sequence[Projection],
        *,
        batch_size: int = 2000,
        poll_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._pool = pool
        self._url = url
        self._projections = list(projections)
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-follower", daemon=True)
        self.failed: dict[str, str] = {}

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def catch_up(self) -> int:
        """Applies every stored event not yet applied; returns how many were applied."""
        applied = 0
        for projection in self._projections:
            if projection.name not in self.failed:
                applied += self._feed(projection)
        return applied

    def _feed(self, projection: Projection) -> int:
        with self._pool.connection() as conn:
            after = position(conn, projection.name)
            conn.commit()
            applied = 0
            for events in read_events(self._store.recorder, after, batch=self._batch_size):
                try:
                    applied += apply_batch(conn, projection, events)
                except UNREACHABLE:
                    raise
                except Exception as error:  # noqa: BLE001 - the projection stops and says why
                    self.failed[projection.name] = f"position {events[0].position}: {error}"
                    log.error("projection stopped", projection=projection.name, error=str(error))
                    break
            PROJECTED.labels(projection.name).inc(applied)
            return applied

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen_and_follow()
            except UNREACHABLE as error:
                log.warning("event store unreachable, retrying", error=str(error))
                self._stopping.wait(1.0)

    def _listen_and_follow(self) -> None:
        channel = self._store.recorder.channel_name  # type: ignore[attr-defined]
        with psycopg.connect(self._url, autocommit=True) as listener:
            listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            while not self._stopping.is_set():
                if self.catch_up() == 0:
                    for _ in listener.notifies(timeout=self._poll_seconds, stop_after=1):
                        pass
