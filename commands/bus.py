"""The command bus: one writer thread that saves concurrent commands in one transaction.

The event store serialises inserts with a table lock held through the commit's fsync, so
one save per command caps the write rate at one commit per fsync. The bus gathers what is
waiting, decides every command against the batch's aggregates, and saves them all, with
their idempotency records and unique claims, in one transaction. If that transaction is
refused (another process wrote the same aggregate, a key or claim raced), each command is
redone alone so that only the one at fault is refused.
"""

import random
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from threading import Lock, Thread
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError
from psycopg_pool import ConnectionPool

from commands import side_tables
from commands.base import Command
from commands.catalog import HANDLERS
from commands.context import CommandContext, Outcome, Target
from commands.errors import AggregateNotFound, IdempotencyKeyInFlight, VersionMismatch
from commands.registry import GIVEN_REQUIRED
from domain.aggregate import Aggregate
from domain.errors import CrmError
from infra.event_store import EventStore, SqlWrite
from infra.metrics import BATCH_SIZE, COMMANDS
from infra.postgres import with_connection

log = structlog.get_logger()

MAX_ATTEMPTS = 10
BACKOFF_SECONDS = 0.002


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

    def __init__(self, store: EventStore, pool: ConnectionPool, max_batch: int = 500) -> None:
        self._store = store
        self._pool = pool
        self._max_batch = max_batch
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
        """Queues a command; a second one with an Idempotency-Key still in flight is refused."""
        submission = Submission(target, command, context)
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
        keys = [s.key for s in batch if s.key]
        stored = (
            with_connection(self._pool, lambda c: side_tables.stored_outcomes(c, keys))
            if keys
            else {}
        )
        pending = []
        for submission in batch:
            first = stored.get(submission.key) if submission.key else None
            if first is None:
                pending.append(submission)
                continue
            try:
                _answer(submission, side_tables.replay(first, submission.context.request_hash))
            except CrmError as error:
                _answer(submission, error)
        if not pending:
            return
        try:
            self._commit(pending)
        except Exception:  # noqa: BLE001 - redo each alone: only the one at fault fails
            self._evict(pending)
            for submission in pending:
                self._commit_alone(submission)

    def _commit(self, submissions: list[Submission]) -> None:
        # Targets that a command `creates` are looked up too: an aggregate with a fixed id (a
        # configuration) is created by its first command and changed by the next ones.
        existing = [s.target.aggregate_id for s in submissions]
        existing += [i for s in submissions for i in s.command.required()]
        existing += [i for s in submissions for i in s.command.consulted()]
        batch = _Batch(aggregates=self._store.get_many(set(existing)))
        claims = [c for s in submissions for c in s.command.unique_claims()]
        if claims:
            batch.claimed = with_connection(
                self._pool, lambda c: side_tables.held_claims(c, claims)
            )
        for submission in submissions:
            try:
                batch.answers.append((submission, self._decide(submission, batch)))
            except CrmError as error:
                batch.answers.append((submission, error))
        self._store.save(*batch.aggregates.values(), writes=batch.writes)
        for submission, answer in batch.answers:
            _answer(submission, answer)

    def _commit_alone(self, submission: Submission) -> None:
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter
            try:
                self._commit([submission])
                return
            except IntegrityError as error:
                self._evict([submission])
                if not self._explain_conflict(submission, error):
                    continue
                return
            except Exception as error:  # noqa: BLE001 - this caller gets the error
                _answer(submission, error.refusal if isinstance(error, PartialDecision) else error)
                return
        _answer(submission, RuntimeError("the aggregate changed too often to record this"))

    def _explain_conflict(self, submission: Submission, error: IntegrityError) -> bool:
        """Answers a command whose save was refused; False if it is worth another try."""
        constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        with self._pool.connection() as conn:
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

    def _evict(self, submissions: list[Submission]) -> None:
        cache = self._store.repository.cache
        for submission in submissions:
            if cache is not None:
                try:
                    cache.get(submission.target.aggregate_id, evict=True)
                except KeyError:
                    pass


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
