"""One active process per role (the relay, `crm automate`), the others standing by.

The active process holds a PostgreSQL session advisory lock, which lasts as long as its
session. A database restart or a network cut ends that session and frees the lock, so a
standby may take over: the active process therefore checks its session at least every
CHECK_SECONDS and, once it is gone, stops its work and stands by again like any other. Two
processes never work at once for longer than that interval.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import structlog
from psycopg import Connection

from infra.postgres import UNREACHABLE

log = structlog.get_logger()

CHECK_SECONDS = 1.0
STANDBY_SECONDS = 2.0

StillLeading = Callable[[], bool]
"""False once the process is told to stop or has lost its lock: its work should return."""


def lead(
    url: str,
    lock_id: int,
    role: str,
    keep_going: Callable[[], bool],
    work: Callable[[StillLeading], None],
) -> None:
    """Runs `work(still_leading)` each time this process becomes the active `role` (holds
    advisory lock `lock_id`), until `keep_going()` is false."""
    while keep_going():
        try:
            with psycopg.connect(url, autocommit=True) as session:
                if not _acquire(session, lock_id, role, keep_going):
                    return
                log.info("active; the others stand by", role=role)
                work(_Lease(session, keep_going))
        except UNREACHABLE as error:
            log.warning("lock session lost; standing by again", role=role, error=error)
            threading.Event().wait(STANDBY_SECONDS)


def _acquire(
    session: Connection[Any], lock_id: int, role: str, keep_going: Callable[[], bool]
) -> bool:
    """Waits until `session` holds the lock; False if told to stop first."""
    while keep_going():
        if session.execute("SELECT pg_try_advisory_lock(%s)", (lock_id,)).fetchone()[0]:  # type: ignore[index]
            return True
        log.info("another process holds the lock; standing by", role=role)
        threading.Event().wait(STANDBY_SECONDS)
    return False


class _Lease:
    """Whether the lock is still held: its session answers (checked once per CHECK_SECONDS)."""

    def __init__(self, session: Connection[Any], keep_going: Callable[[], bool]) -> None:
        self._session, self._keep_going = session, keep_going
        self._checked, self._held = time.monotonic(), True

    def __call__(self) -> bool:
        if not self._keep_going():
            return False
        if self._held and time.monotonic() - self._checked >= CHECK_SECONDS:
            self._held = _answers(self._session)
            self._checked = time.monotonic()
        return self._held


def _answers(session: Connection[Any]) -> bool:
    try:
        session.execute("SELECT 1")
    except psycopg.Error as error:
        log.warning("the lock's session is gone: the lock is lost", error=error)
        return False
    return True
