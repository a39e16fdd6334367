"""The command bus: one writer thread that saves concurrent commands in one transaction.

The event store serialises inserts with a table lock held through the commit's fsync, so
one save per command caps the write rate at one commit per fsync. The bus gathers what is
waiting and hands it to `GroupCommit`, which decides every command against the batch's
aggregates and saves them all, with their idempotency records and unique claims, in one
transaction of the unit of work.

Each command has a deadline: the database timeout after the writer received it. Past it, a
command the database could not record is answered "unavailable" (503, retry), or "outcome
unknown" if its COMMIT was cut off (503, retry with the same Idempotency-Key: a retry of a
recorded command gets its stored answer).
"""

import time
from concurrent.futures import Future
from queue import Empty, SimpleQueue
from threading import Lock, Thread

import structlog

from commands.base import Command
from commands.context import CommandContext, Outcome, Target
from commands.errors import IdempotencyKeyInFlight
from commands.group_commit import GroupCommit
from commands.submission import Submission
from commands.unit_of_work import Key, UnitOfWork
from infra.metrics import BATCH_SIZE

log = structlog.get_logger()


class CommandBus:
    """Accepts commands from any thread; answers each through a Future."""

    def __init__(
        self, work: UnitOfWork, max_batch: int = 500, database_timeout: float = 5.0
    ) -> None:
        self._group_commit = GroupCommit(work)
        self._max_batch = max_batch
        self._timeout = database_timeout
        self._queue: SimpleQueue[Submission | Future[None] | None] = SimpleQueue()
        self._in_flight: set[Key] = set()
        self._lock = Lock()
        self._thread = Thread(target=self._run, name="command-bus", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Answers what is queued, then stops the writer."""
        self._queue.put(None)
        self._thread.join()

    def submit(
        self, target: Target, command: Command, context: CommandContext
    ) -> "Future[Outcome]":
        """Queues a command; a second one with an Idempotency-Key still in flight is refused.
        The writer may wait for the database until the database timeout from now."""
        submission = Submission(target, command, context, time.monotonic() + self._timeout)
        key = submission.key
        if key:
            with self._lock:
                if key in self._in_flight:
                    raise IdempotencyKeyInFlight(
                        "a request with this Idempotency-Key is in progress"
                    )
                self._in_flight.add(key)
            submission.future.add_done_callback(lambda _: self._release(key))
        self._queue.put(submission)
        return submission.future

    def execute(self, target: Target, command: Command, context: CommandContext) -> Outcome:
        """Submits a command and waits for its answer (for CLI and tests)."""
        return self.submit(target, command, context).result(timeout=60)

    def _release(self, key: Key) -> None:
        with self._lock:
            self._in_flight.discard(key)

    def ping(self) -> "Future[None]":
        """Resolved by the writer thread when it next takes work: it is running."""
        pong: Future[None] = Future()
        self._queue.put(pong)
        return pong

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            if not batch:
                continue  # only pings
            BATCH_SIZE.observe(len(batch))
            try:
                self._group_commit.process(batch)
            except Exception as error:  # noqa: BLE001 - every waiting caller gets the error
                log.exception("command batch failed", size=len(batch))
                for submission in batch:
                    submission.answer(error)

    def _next_batch(self) -> list[Submission] | None:
        """What is waiting, up to a batch (pings answered on the way); None to stop."""
        item = self._queue.get()
        batch: list[Submission] = []
        while item is not None:
            if isinstance(item, Future):
                item.set_result(None)
            else:
                batch.append(item)
            if len(batch) == self._max_batch:
                return batch
            try:
                item = self._queue.get_nowait()
            except Empty:
                return batch
        if batch:
            self._queue.put(None)  # stop once this batch is done
            return batch
        return None
