"""One active process per role over a real PostgreSQL: when the active one loses its lock's
session (a database restart, a network cut), it stops working and a standby takes over."""

import threading
import time
from uuid import uuid4

import psycopg

from infra.leadership import CHECK_SECONDS, StillLeading, lead
from tests.waiting import wait_for


class Worker(threading.Thread):
    """A process that works (records its name, its term and the time) while it leads."""

    def __init__(self, url: str, lock_id: int, name: str, marks: list) -> None:
        super().__init__(daemon=True)
        self.url, self.lock_id, self.who, self.marks = url, lock_id, name, marks
        self.stopping = threading.Event()
        self.terms = 0

    def run(self) -> None:
        lead(self.url, self.lock_id, self.who, lambda: not self.stopping.is_set(), self.work)

    def work(self, still_leading: StillLeading) -> None:
        self.terms += 1
        while still_leading():
            self.marks.append(((self.who, self.terms), time.monotonic()))
            time.sleep(0.05)


def holder(url: str, lock_id: int) -> int | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND (classid::bigint << 32 | objid::bigint) = %s",
            (lock_id,),
        ).fetchone()
    return row[0] if row else None


def test_a_leader_that_loses_its_session_stops_and_one_process_leads_again(database_url) -> None:
    # Given an active process and a standby for the same role
    lock_id, marks = uuid4().int % 2**31, []
    first = Worker(database_url, lock_id, "first", marks)
    first.start()
    wait_for(lambda: len(marks) > 0)
    second = Worker(database_url, lock_id, "second", marks)
    second.start()
    time.sleep(0.5)
    assert {term for term, _ in marks} == {("first", 1)}
    # When the active one's lock session ends (as in a database restart)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (holder(database_url, lock_id),))
    ended = time.monotonic()
    # Then a new term begins, in one process or the other
    wait_for(lambda: len({term for term, _ in marks}) == 2, seconds=10)
    settled = ended + CHECK_SECONDS + 0.5
    time.sleep(settled + 1.0 - time.monotonic())
    # And the old term stopped working within the check interval
    assert max(at for term, at in marks if term == ("first", 1)) < settled
    # And only one process worked after it
    assert len({term for term, at in marks if at > settled}) == 1
    for worker in (first, second):
        worker.stopping.set()
        worker.join(timeout=10)
        assert not worker.is_alive()
