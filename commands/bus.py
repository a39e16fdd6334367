"""The command bus: one writer thread that saves concurrent commands in one transaction.

The event store serialises inserts with a table lock held through the commit's fsync, so
one save per command caps the write rate at one commit per fsync. The bus gathers what is
waiting, decides every command against the batch's aggregates, and saves them all, with
their idempotency records and unique claims, in one transaction. If that transaction is
refused (another process wrote the same aggregate, a key or claim raced), each command is
redone alone so that only the one at fault is refused.

Each command has a deadline: the database timeout after the writer received it. If
PostgreSQL cannot be reached before the COMMIT, nothing was recorded: once a fresh
connection succeeds the batch is tried again, whole; commands whose deadline passes first
are answered "unavailable" (503, retry), which frees their Idempotency-Key. If the connection
fails during the COMMIT, the transaction may have committed unheard, and the batch is never
decided again until PostgreSQL says what became of it (`pg_xact_status`): committed, the
commands get the answers decided before the save; rolled back, the batch is tried again;
still unknown at a command's deadline, it is answered "outcome unknown" (503, retry with the
same Idempotency-Key: a retry of a recorded command gets its stored answer).
"""

import contextlib
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from threading import Lock, Thread
from typing import Any, TypeVar
from uuid import UUID

import psycopg
import structlog
from eventsourcing.persistence import IntegrityError
from psycopg_pool import ConnectionPool

from commands import side_tables
from commands.base import Command
from commands.catalog import HANDLERS
from commands.context import CommandContext, Outcome, Target
from commands.errors import AggregateNotFound, IdempotencyKeyInFlight, VersionMismatch
from commands.registry import GIVEN_REQUIRED
from commands.wire import OUTCOME_UNKNOWN, OutcomeUnknown, WriterUnavailable
from domain.aggregate import Aggregate
from domain.errors import CrmError
from infra.event_store import EventStore, SqlWrite, UncertainCommit, commit_outcome
from infra.metrics import BATCH_SIZE, COMMANDS
from infra.postgres import UNREACHABLE

log = structlog.get_logger()
T = TypeVar("T")

MAX_ATTEMPTS = 10
BACKOFF_SECONDS = 0.002
POLL_SECONDS = 0.2
"""How often the writer tries a fresh connection while PostgreSQL is unreachable."""
MIN_CHECKOUT_SECONDS = 0.5
"""The shortest a connection checkout may wait, even past a command's deadline: a database
that answers is used, however long the command waited behind others."""


class PartialDecision(Exception):  # noqa: N818 - not an error of the caller's
    """A handler refused its command after recording events: the batch's aggregates hold
    them, so the batch is redone with each command alone, and this one is answered with its
    refusal before anything is saved."""

    def __init__(self, refusal: CrmError) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


@dataclass
class Submission:
    """A command waiting for the writer, and where its answer goes."""

    target: Target
    command: Command
    context: CommandContext
    deadline: float = math.inf
    """Until when (time.monotonic) the writer may wait for the database to record it."""
    future: "Future[Outcome]" = field(default_factory=Future)

    @property
    def key(self) -> tuple[str, str] | None:
        key = self.context.idempotency_key
        return (self.context.actor, key) if key else None


@dataclass
class _Batch:
    """Aggregates and writes gathered for one transaction."""

    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    writes: list[SqlWrite] = field(default_factory=list)
    claimed: set[tuple[str, str]] = field(default_factory=set)
    """Unique values held already, or claimed earlier in this batch."""
    answers: list[tuple[Submission, Outcome | CrmError]] = field(default_factory=list)


class CommandBus:
    """Accepts commands from any thread; answers each through a Future."""

    def __init__(
        self,
        store: EventStore,
        pool: ConnectionPool,
        max_batch: int = 500,
        database_timeout: float = 5.0,
    ) -> None:
        self._store = store
        self._pool = pool
        self._store_pool: ConnectionPool = store.recorder.datastore.pool  # type: ignore[attr-defined]
        self._max_batch = max_batch
        self._timeout = database_timeout
        self._deadline = math.inf
        """The deadline of the commands being recorded: no checkout waits past it."""
        self._reachable_at = -math.inf
        self._queue: SimpleQueue[Submission | Future[None] | None] = SimpleQueue()
        self._in_flight: set[tuple[str, str]] = set()
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

    def _release(self, key: tuple[str, str]) -> None:
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
                self._process(batch)
            except Exception as error:  # noqa: BLE001 - every waiting caller gets the error
                log.exception("command batch failed", size=len(batch))
                for submission in batch:
                    _answer(submission, error)

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

    def _process(self, batch: list[Submission]) -> None:
        """Answers every command of the batch, trying it again, whole, while the database is
        unreachable and the commands' deadlines allow."""
        pending = batch
        while pending:
            with self._until(max(s.deadline for s in pending)):
                try:
                    pending = self._attempt(pending)
                except UNREACHABLE:
                    self._evict(pending)
                    pending = self._await_database(pending)

    def _attempt(self, submissions: list[Submission]) -> list[Submission]:
        """Replays the answers of commands whose Idempotency-Key has one stored, decides and
        saves the others in one transaction (each alone if it is refused). Returns the
        commands to try again: those of a COMMIT cut off and rolled back. Raises one of
        UNREACHABLE if the database could not be reached before the COMMIT."""
        keys = [s.key for s in submissions if s.key]
        stored = self._read(lambda c: side_tables.stored_outcomes(c, keys)) if keys else {}
        pending = []
        for submission in submissions:
            first = stored.get(submission.key) if submission.key else None
            if first is None:
                pending.append(submission)
                continue
            try:
                _answer(submission, side_tables.replay(first, submission.context.request_hash))
            except CrmError as error:
                _answer(submission, error)
        if not pending:
            return []
        try:
            return self._commit(pending)
        except UNREACHABLE:
            raise  # nothing was recorded: the batch is tried again, whole
        except Exception:  # noqa: BLE001 - redo each alone: only the one at fault fails
            self._evict(pending)
            for submission in pending:
                self._commit_alone(submission)
            return []

    def _commit(self, submissions: list[Submission]) -> list[Submission]:
        """Decides the commands and saves them in one transaction, then answers them. Returns
        them unanswered if the transaction's COMMIT was cut off and rolled back."""
        # Targets that a command `creates` are looked up too: an aggregate with a fixed id (a
        # configuration) is created by its first command and changed by the next ones.
        existing = [s.target.aggregate_id for s in submissions]
        existing += [i for s in submissions for i in s.command.required()]
        existing += [i for s in submissions for i in s.command.consulted()]
        with self._store_checkouts():
            batch = _Batch(aggregates=self._store.read_many(set(existing)))
        claims = [c for s in submissions for c in s.command.unique_claims()]
        if claims:
            batch.claimed = self._read(lambda c: side_tables.held_claims(c, claims))
        for submission in submissions:
            try:
                batch.answers.append((submission, self._decide(submission, batch)))
            except CrmError as error:
                batch.answers.append((submission, error))
        try:
            with self._store_checkouts():
                self._store.save(*batch.aggregates.values(), writes=batch.writes)
        except UncertainCommit as uncertain:
            self._evict(submissions, batch.aggregates)
            if self._rolled_back(uncertain, submissions):
                return submissions
        for submission, answer in batch.answers:
            _answer(submission, answer)
        return []

    def _commit_alone(self, submission: Submission) -> None:
        """Decides and saves one command in a transaction of its own, until it is answered:
        again after a conflict (at most MAX_ATTEMPTS times), or once the database answers
        again (until the command's deadline)."""
        conflicts = 0
        while not submission.future.done():
            with self._until(submission.deadline):
                try:
                    self._commit([submission])  # answers it, unless it is to be tried again
                    continue
                except IntegrityError as error:
                    self._evict([submission])
                    conflict = error
                except UNREACHABLE:
                    self._evict([submission])
                    self._await_database([submission])
                    continue
                except Exception as error:  # noqa: BLE001 - this caller gets the error
                    refusal = error.refusal if isinstance(error, PartialDecision) else error
                    _answer(submission, refusal)
                    return
                try:
                    if self._explain_conflict(submission, conflict):
                        return
                except UNREACHABLE:
                    self._await_database([submission])
                    continue
            conflicts += 1
            if conflicts == MAX_ATTEMPTS:
                _answer(submission, RuntimeError("the aggregate changed too often to record this"))
                return
            time.sleep(random.uniform(0, BACKOFF_SECONDS * 2**conflicts))  # noqa: S311 - jitter

    def _await_database(self, submissions: list[Submission]) -> list[Submission]:
        """Waits until PostgreSQL takes a fresh connection (tried every POLL_SECONDS), then
        drops the pools' broken connections; returns the commands still to record. Those
        whose deadline passes first are answered "unavailable"."""
        if time.monotonic() - self._reachable_at < POLL_SECONDS:
            time.sleep(POLL_SECONDS)  # it answered a moment ago, yet the attempt failed
        log.warning("database unreachable; waiting for it", commands=len(submissions))
        while waiting := self._unexpired(submissions, _unavailable):
            try:
                with self._connect(waiting) as conn:
                    conn.execute("SELECT 1")
            except psycopg.Error:
                time.sleep(POLL_SECONDS)
                continue
            self._reachable_at = time.monotonic()
            for pool in (self._pool, self._store_pool):
                pool.check()
            return waiting
        return []

    def _rolled_back(self, uncertain: UncertainCommit, submissions: list[Submission]) -> bool:
        """Whether the transaction whose COMMIT was cut off was rolled back. PostgreSQL is
        asked on fresh connections until it can tell (it is unreachable, or the transaction
        is still committing) or every command's deadline has passed; those past it are
        answered "outcome unknown" (then False: nothing is tried again)."""
        xid = uncertain.xid
        log.warning("commit cut off; asking what became of it", xid=xid, commands=len(submissions))
        while waiting := self._unexpired(submissions, _unknown):
            committed = None
            with contextlib.suppress(psycopg.Error):
                with self._connect(waiting) as conn:
                    committed = commit_outcome(conn, uncertain)
            if committed is not None:
                log.warning("cut-off commit resolved", xid=xid, committed=committed)
                return not committed
            time.sleep(POLL_SECONDS)
        log.error("cut-off commit unresolved; answered outcome unknown", xid=xid)
        return False

    def _unexpired(
        self, submissions: list[Submission], expired: Callable[[], Exception]
    ) -> list[Submission]:
        """The commands not answered yet, once those past their deadline are answered."""
        now = time.monotonic()
        for submission in submissions:
            if submission.deadline <= now:
                _answer(submission, expired())
        return [s for s in submissions if not s.future.done()]

    def _connect(self, submissions: list[Submission]) -> psycopg.Connection:
        """A fresh connection (not a pooled one, maybe broken), waiting at most until the
        commands' deadline (libpq waits at least 2 s for a server that does not answer)."""
        remaining = max(s.deadline for s in submissions) - time.monotonic()
        return psycopg.connect(
            self._pool.conninfo, autocommit=True, connect_timeout=max(1, math.ceil(remaining))
        )

    @contextlib.contextmanager
    def _until(self, deadline: float) -> Iterator[None]:
        """No connection checkout in the block waits past `deadline`."""
        saved, self._deadline = self._deadline, deadline
        try:
            yield
        finally:
            self._deadline = saved

    def _checkout_timeout(self) -> float:
        """How long a checkout may wait now: until the deadline (but never less than
        MIN_CHECKOUT_SECONDS, nor more than the database timeout)."""
        left = self._deadline - time.monotonic()
        return min(self._timeout, max(left, MIN_CHECKOUT_SECONDS))

    def _read(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Runs `work` on a connection of the pool, tried once (a failure is the caller's to
        try again, once the database answers)."""
        with self._pool.connection(timeout=self._checkout_timeout()) as conn:
            return work(conn)

    @contextlib.contextmanager
    def _store_checkouts(self) -> Iterator[None]:
        """The event store's checkouts in the block wait at most `_checkout_timeout()`."""
        saved = self._store_pool.timeout
        self._store_pool.timeout = min(saved, self._checkout_timeout())
        try:
            yield
        finally:
            self._store_pool.timeout = saved

    def _explain_conflict(self, submission: Submission, error: IntegrityError) -> bool:
        """Answers a command whose save was refused; False if it is worth another try."""
        constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        with self._pool.connection(timeout=self._checkout_timeout()) as conn:
            if constraint == side_tables.IDEMPOTENCY_CONSTRAINT and submission.key:
                first = side_tables.stored_outcomes(conn, [submission.key])[submission.key]
                try:
                    _answer(submission, side_tables.replay(first, submission.context.request_hash))
                except CrmError as refusal:
                    _answer(submission, refusal)
                return True
            if constraint == side_tables.CLAIMS_CONSTRAINT:
                held = side_tables.held_claims(conn, submission.command.unique_claims())
                if held:
                    _answer(submission, side_tables.claim_taken(*sorted(held)[0]))
                return bool(held)
        if submission.context.expected_version is not None:
            _answer(submission, VersionMismatch("the aggregate changed since the given version"))
            return True
        return False

    def _decide(self, submission: Submission, batch: _Batch) -> Outcome:
        aggregate_type, handler = HANDLERS[type(submission.command)]
        target, context = submission.target, submission.context
        current = batch.aggregates.get(target.aggregate_id)
        if not target.creates and not isinstance(current, aggregate_type):
            raise AggregateNotFound(
                f"no {aggregate_type.__name__.lower()} with id {target.aggregate_id}"
            )
        required = submission.command.required()
        for required_id, required_type in required.items():
            if not isinstance(batch.aggregates.get(required_id), required_type):
                raise AggregateNotFound(
                    f"no {required_type.__name__.lower()} with id {required_id}"
                )
        if context.expected_version is not None and (
            current is None or current.version != context.expected_version
        ):
            raise VersionMismatch(
                f"If-Match is {context.expected_version}, the current version is "
                f"{current.version if current else None}"
            )
        claims = submission.command.unique_claims()
        taken = [c for c in claims if c in batch.claimed]
        if taken:
            raise side_tables.claim_taken(*taken[0])
        wanted = [*required, *submission.command.consulted()]
        given = {"required": {i: batch.aggregates[i] for i in wanted if i in batch.aggregates}}
        involved = [a for a in (current, *given["required"].values()) if a is not None]
        recorded = [len(a.pending_events) for a in involved]
        customers = {a.id: getattr(a, "customer_id", None) for a in involved}
        try:
            aggregate, answer, *also = handler(
                submission.command,
                current,
                target.aggregate_id,
                context.meta(submission.command.occurred_at),
                **(given if handler in GIVEN_REQUIRED else {}),
            )
        except CrmError as refusal:
            if [len(a.pending_events) for a in involved] != recorded:
                raise PartialDecision(refusal) from refusal  # the batch is redone, each alone
            raise
        results = (aggregate, *(also[0] if also else ()))
        for each in results:  # a new ticket, a converted lead: its events join the timeline
            customer = getattr(each, "customer_id", None)
            if customer is not None and customer != customers.get(each.id):
                batch.writes.append(side_tables.link(customer, each.id))
        batch.aggregates.update((each.id, each) for each in results)
        batch.claimed.update(claims)
        batch.writes.extend(side_tables.claim(kind, value, aggregate.id) for kind, value in claims)
        outcome = Outcome(
            submission.command.success_status,
            {"id": str(aggregate.id), "version": aggregate.version, **answer},
        )
        if submission.key:
            actor, key = submission.key
            batch.writes.append(
                side_tables.record_outcome(actor, key, context.request_hash or "", outcome)
            )
        return outcome

    def _evict(self, submissions: list[Submission], also: Iterable[UUID] = ()) -> None:
        """Drops the commands' aggregates (and `also`) from the cache: the next decision
        reads them from the store."""
        cache = self._store.repository.cache
        if cache is None:
            return
        ids = {*also}
        for submission in submissions:
            ids.add(submission.target.aggregate_id)
            ids.update(submission.command.required())
            ids.update(submission.command.consulted())
        for aggregate_id in ids:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)


def _unavailable() -> Exception:
    return WriterUnavailable("the database is unavailable; retry")


def _unknown() -> Exception:
    return OutcomeUnknown(OUTCOME_UNKNOWN)


def _answer(submission: Submission, answer: Outcome | BaseException) -> None:
    if submission.future.done():
        return
    name = type(submission.command).__name__
    if isinstance(answer, Outcome):
        COMMANDS.labels(name, "replayed" if answer.replayed else "ok").inc()
        submission.future.set_result(answer)
    else:
        COMMANDS.labels(name, getattr(answer, "rule", "error")).inc()
        submission.future.set_exception(answer)
