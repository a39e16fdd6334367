"""Group commit: a batch of commands decided together and saved in one transaction.

If that transaction is refused (another process wrote the same aggregate, a key or claim
raced), or a command was refused after recording events, each command is redone alone so
that only the one at fault is refused. If the database cannot be reached before the
COMMIT, nothing was recorded: once it answers again the batch is tried again, whole;
commands whose deadline passes first are answered "unavailable". If the COMMIT is cut
off, the batch is never decided again until the store says what became of it: committed,
the commands get the answers decided before the save; rolled back, the batch is tried
again; still unknown at a command's deadline, it is answered "outcome unknown".
"""

import random
import time
from collections.abc import Callable
from uuid import UUID

import structlog

from commands.claims import claim_taken
from commands.context import Outcome
from commands.deciding import Batch, PartialDecision, decide
from commands.errors import VersionMismatch
from commands.idempotency import answer_replay, answer_replays
from commands.submission import Submission
from commands.unit_of_work import CommitCutOff, Conflict, UnitOfWork, Unreachable
from commands.wire import OUTCOME_UNKNOWN, OutcomeUnknown, WriterUnavailable
from domain.aggregate import Aggregate
from domain.errors import CrmError

log = structlog.get_logger()

MAX_ATTEMPTS = 10
BACKOFF_SECONDS = 0.002
POLL_SECONDS = 0.2
"""How often the writer tries the database again while it is unreachable."""


class GroupCommit:
    """Answers batches of commands through a unit of work."""

    def __init__(self, work: UnitOfWork) -> None:
        self._work = work
        self._reachable_at = -float("inf")

    def process(self, batch: list[Submission]) -> None:
        """Answers every command of the batch, trying it again, whole, while the database is
        unreachable and the commands' deadlines allow."""
        pending = batch
        while pending:
            with self._work.until(_latest(pending)):
                try:
                    pending = self._attempt(pending)
                except Unreachable:
                    self._forget(pending)
                    pending = self._await_database(pending)

    def _attempt(self, submissions: list[Submission]) -> list[Submission]:
        """Replays the answers of commands whose key has one stored, decides and saves the
        others in one transaction (each alone if it is refused). Returns the commands to
        try again: those of a COMMIT cut off and rolled back. Raises Unreachable if the
        database could not be reached before the COMMIT."""
        pending = answer_replays(submissions, self._work)
        if not pending:
            return []
        try:
            return self._commit(pending)
        except Unreachable:
            raise  # nothing was recorded: the batch is tried again, whole
        except Exception:  # noqa: BLE001 - redo each alone: only the one at fault fails
            self._forget(pending)
            for submission in pending:
                self._commit_alone(submission)
            return []

    def _commit(self, submissions: list[Submission]) -> list[Submission]:
        """Decides the commands and saves them in one transaction, then answers them.
        Returns them unanswered if the transaction's COMMIT was cut off and rolled back."""
        batch = self._read(submissions)
        answers: list[tuple[Submission, Outcome | CrmError]] = []
        for submission in submissions:
            try:
                answers.append((submission, decide(submission, batch, self._work)))
            except CrmError as error:
                answers.append((submission, error))
        try:
            self._work.save(batch.changes)
        except CommitCutOff as cut:
            self._forget(submissions, batch)
            if self._rolled_back(cut, submissions):
                return submissions
        for submission, answer in answers:
            submission.answer(answer)
        return []

    def _read(self, submissions: list[Submission]) -> Batch:
        """The aggregates the commands act on, require or consult, the customers who own
        them, and the claims held."""
        # Targets that a command `creates` are read too: an aggregate with a fixed id (a
        # configuration) is created by its first command and changed by the next ones.
        batch = Batch()
        aggregates = self._work.aggregates(_involved(submissions))
        owners = _owners(aggregates)  # erased? (deciding)
        if owners:
            aggregates |= self._work.aggregates(owners)
        batch.changes.aggregates = aggregates
        claims = [c for s in submissions for c in s.command.unique_claims()]
        if claims:
            batch.claimed = self._work.held_claims(claims)
        return batch

    def _commit_alone(self, submission: Submission) -> None:
        """Decides and saves one command in a transaction of its own, until it is answered:
        again after a conflict (at most MAX_ATTEMPTS times), or once the database answers
        again (until the command's deadline)."""
        conflicts = 0
        while not submission.answered:
            with self._work.until(submission.deadline):
                try:
                    self._commit([submission])  # answers it, unless it is to be tried again
                    continue
                except Conflict as error:
                    self._forget([submission])
                    conflict = error
                except Unreachable:
                    self._forget([submission])
                    self._await_database([submission])
                    continue
                except Exception as error:  # noqa: BLE001 - this caller gets the error
                    submission.answer(
                        error.refusal if isinstance(error, PartialDecision) else error
                    )
                    return
                try:
                    if self._explain(submission, conflict):
                        return
                except Unreachable:
                    self._await_database([submission])
                    continue
            conflicts += 1
            if conflicts == MAX_ATTEMPTS:
                submission.answer(RuntimeError("the aggregate changed too often to record this"))
                return
            time.sleep(random.uniform(0, BACKOFF_SECONDS * 2**conflicts))  # noqa: S311 - jitter

    def _explain(self, submission: Submission, conflict: Conflict) -> bool:
        """Answers a command whose save conflicted; False if it is worth another try."""
        if conflict.on == "idempotency-key" and submission.key:
            answer_replay(submission, self._work.stored_outcomes([submission.key])[submission.key])
            return True
        if conflict.on == "claim":
            held = self._work.held_claims(submission.command.unique_claims())
            if held:
                submission.answer(claim_taken(*sorted(held)[0]))
            return bool(held)
        if submission.context.expected_version is not None:
            submission.answer(VersionMismatch("the aggregate changed since the given version"))
            return True
        return False

    def _await_database(self, submissions: list[Submission]) -> list[Submission]:
        """Waits until the database answers (tried every POLL_SECONDS); returns the
        commands still to record. Those whose deadline passes first are answered
        "unavailable"."""
        if time.monotonic() - self._reachable_at < POLL_SECONDS:
            time.sleep(POLL_SECONDS)  # it answered a moment ago, yet the attempt failed
        log.warning("database unreachable; waiting for it", commands=len(submissions))
        while waiting := _unexpired(submissions, _unavailable):
            if self._work.reachable(_latest(waiting)):
                self._reachable_at = time.monotonic()
                return waiting
            time.sleep(POLL_SECONDS)
        return []

    def _rolled_back(self, cut: CommitCutOff, submissions: list[Submission]) -> bool:
        """Whether the transaction whose COMMIT was cut off was rolled back. The store is
        asked until it can tell or every command's deadline has passed; those past it are
        answered "outcome unknown" (then False: nothing is tried again)."""
        log.warning("commit cut off; asking what became of it", commands=len(submissions))
        while waiting := _unexpired(submissions, _unknown):
            committed = self._work.committed(cut, _latest(waiting))
            if committed is not None:
                log.warning("cut-off commit resolved", committed=committed)
                return not committed
            time.sleep(POLL_SECONDS)
        log.error("cut-off commit unresolved; answered outcome unknown")
        return False

    def _forget(self, submissions: list[Submission], batch: Batch | None = None) -> None:
        """Drops the commands' aggregates (and the batch's) from the store's cache: the next
        decision reads them from the store."""
        also = batch.changes.aggregates if batch else {}
        self._work.forget({*_involved(submissions), *also})


def _involved(submissions: list[Submission]) -> set[UUID]:
    """The ids of the aggregates the commands act on, require or consult."""
    ids = {s.target.aggregate_id for s in submissions}
    for submission in submissions:
        ids.update(submission.command.required())
        ids.update(submission.command.consulted())
    return ids


def _owners(aggregates: dict[UUID, Aggregate]) -> set[UUID]:
    """The customers who own these aggregates (tickets, deals, converted leads), unread."""
    owners = {getattr(each, "customer_id", None) for each in aggregates.values()}
    return {owner for owner in owners if owner is not None} - aggregates.keys()


def _latest(submissions: list[Submission]) -> float:
    return max(s.deadline for s in submissions)


def _unexpired(submissions: list[Submission], expired: Callable[[], Exception]) -> list[Submission]:
    """The commands not answered yet, once those past their deadline are answered."""
    now = time.monotonic()
    for submission in submissions:
        if submission.deadline <= now:
            submission.answer(expired())
    return [s for s in submissions if not s.answered]


def _unavailable() -> Exception:
    return WriterUnavailable("the database is unavailable; retry")


def _unknown() -> Exception:
    return OutcomeUnknown(OUTCOME_UNKNOWN)
