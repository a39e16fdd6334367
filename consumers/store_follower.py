"""Feeds projections straight from the event store, woken by LISTEN/NOTIFY.

Used by `crm serve` when no Kafka is configured, in a child process of its own so that it
never competes with the API for the interpreter lock. Each batch of events and the position
it reaches are written in one transaction, so a crash replays nothing twice and skips
nothing. The event store's inserts hold a table lock through commit, so positions become
visible in order and following `position > last applied` never skips a late commit.
"""

import os
import signal
import threading
from collections.abc import Callable, Sequence

import structlog
from psycopg_pool import ConnectionPool

from consumers.notifications import follow
from infra.child_process import ChildProcess
from infra.data_keys import keyring
from infra.event_store import EventStore, open_event_store
from infra.logging import configure_logging, error_summary
from infra.metrics import PROJECTED
from infra.postgres import UNREACHABLE, open_pool
from infra.stored_events import read_events
from projections import projection
from projections.catalog import PROJECTIONS
from projections.projection import Projection

log = structlog.get_logger()


class StoreFollower:
    """Keeps a set of projections caught up with the event store."""

    def __init__(
        self,
        store: EventStore,
        pool: ConnectionPool,
        url: str,
        projections: Sequence[Projection],
        *,
        batch_size: int = 2000,
        poll_seconds: float = 1.0,
        gather_seconds: float = 0.05,
    ) -> None:
        self._store = store
        self._pool = pool
        self._url = url
        self._projections = list(projections)
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._gather_seconds = gather_seconds

    def catch_up(self) -> int:
        """Applies every stored event not yet applied; returns how many were applied.

        A projection that cannot apply an event stops there, with the reason recorded in
        `crm_projections.error` (shown by /readyz) until it is rebuilt.
        """
        with self._pool.connection() as conn:
            states = projection.states(conn)
        return sum(
            self._feed(p, states[p.name].position)
            for p in self._projections
            if states[p.name].error is None
        )

    def run(self, keep_going: Callable[[], bool]) -> None:
        """Follows the event store while `keep_going()`; reconnects when PostgreSQL is away."""
        while keep_going():
            try:
                self._listen_and_follow(keep_going)
            except UNREACHABLE as error:
                log.warning("event store unreachable, retrying", error=error)
                threading.Event().wait(1.0)
                self._pool.check()  # drop the connections a database restart broke

    def _feed(self, each: Projection, after: int) -> int:
        applied = 0
        with self._pool.connection() as conn:
            for stored in read_events(self._store.recorder, after, batch=self._batch_size):
                events = keyring().reveal(conn, stored)
                try:
                    applied += projection.apply_batch(conn, each, events)
                except UNREACHABLE:
                    raise
                except Exception as error:  # noqa: BLE001 - the projection stops and says why
                    positions = f"{events[0].position}..{events[-1].position}"
                    reason = f"position {positions}: {error_summary(error)}"  # no values
                    projection.record_failure(conn, each.name, reason)
                    log.error(
                        "projection stopped", projection=each.name, positions=positions, error=error
                    )
                    break
        PROJECTED.labels(each.name).inc(applied)
        return applied

    def _listen_and_follow(self, keep_going: Callable[[], bool]) -> None:
        follow(
            self._url,
            self._store.recorder.channel_name,  # type: ignore[attr-defined]
            lambda: self.catch_up() >= self._batch_size,
            keep_going,
            poll_seconds=self._poll_seconds,
            gather_seconds=self._gather_seconds,
        )


def follow_in_child(url: str, log_level: str, parent_pid: int) -> None:
    """The follower process: runs until SIGTERM, or until its parent is gone."""
    configure_logging(log_level)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    store = open_event_store(url, pool_size=2)
    pool = open_pool(url, 2, "store-follower")
    try:
        follower = StoreFollower(store, pool, url, list(PROJECTIONS.values()))
        follower.run(lambda: not stopping.is_set() and os.getppid() == parent_pid)
    finally:
        pool.close()
        store.close()


class FollowerProcess(ChildProcess):
    """Runs the store follower in a child process and starts it again if it dies."""

    def __init__(self, url: str, log_level: str) -> None:
        super().__init__("crm-store-follower", follow_in_child, url, log_level)
