"""Idempotent replay: a command sent again with its Idempotency-Key gets its first answer.

The first answer is stored under (actor, key) with the command's events, in the same
transaction; a later request with that key and the same body (its hash) is answered with it,
without being decided again; with another body it is refused (422).
"""

from collections.abc import Sequence

from commands.context import Outcome
from commands.errors import IdempotencyKeyReused
from commands.submission import Submission
from commands.unit_of_work import StoredOutcome, UnitOfWork
from domain.errors import CrmError


def replay(first: StoredOutcome, request_hash: str | None) -> Outcome:
    """The first answer again, if the request is the same one."""
    if first.request_hash != request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was used with another request body")
    return first.outcome


def answer_replay(submission: Submission, first: StoredOutcome) -> None:
    """Answers a command whose key has a stored answer: that answer, or the refusal."""
    try:
        submission.answer(replay(first, submission.context.request_hash))
    except CrmError as refusal:
        submission.answer(refusal)


def answer_replays(submissions: Sequence[Submission], work: UnitOfWork) -> list[Submission]:
    """Answers the commands whose Idempotency-Key has an answer stored (one read for all);
    returns the others, to decide."""
    keys = [s.key for s in submissions if s.key]
    stored = work.stored_outcomes(keys) if keys else {}
    pending = []
    for submission in submissions:
        first = stored.get(submission.key) if submission.key else None
        if first is None:
            pending.append(submission)
        else:
            answer_replay(submission, first)
    return pending


def first_answer(submission: Submission, outcome: Outcome) -> StoredOutcome:
    """What is stored under the command's key, with its events."""
    return StoredOutcome(submission.context.request_hash or "", outcome)
