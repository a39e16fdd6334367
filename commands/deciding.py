"""Deciding one command of a batch, in named steps: its target, the aggregates it requires,
whether a customer it concerns is erased, its If-Match version, its unique claims, its
handler; then what is saved with its events (claims, customer-stream links, erasures, its
answer under its Idempotency-Key)."""

from dataclasses import dataclass, field
from uuid import UUID

from commands.claims import refuse_taken
from commands.context import Outcome
from commands.errors import AggregateNotFound, VersionMismatch
from commands.handling import Decide, Decision, Lookups
from commands.idempotency import first_answer
from commands.registry import COMMAND_HANDLERS
from commands.submission import Submission
from commands.unit_of_work import Changes, Claim
from domain.aggregate import Aggregate
from domain.customer import Customer
from domain.errors import CrmError


class PartialDecision(Exception):  # noqa: N818 - not an error of the caller's
    """A handler refused its command after recording events: the batch's aggregates hold
    them, so the batch is redone with each command alone, and this one is answered with its
    refusal before anything is saved."""

    def __init__(self, refusal: CrmError) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


@dataclass
class Batch:
    """What one transaction saves, gathered command by command."""

    changes: Changes = field(default_factory=Changes)
    claimed: set[Claim] = field(default_factory=set)
    """Unique values held already, or claimed earlier in this batch."""


def decide(submission: Submission, batch: Batch, lookups: Lookups) -> Outcome:
    """Decides a command against the batch's aggregates and adds what it changed to the
    batch; raises the command's refusal (PartialDecision if it recorded events first)."""
    command, aggregates = submission.command, batch.changes.aggregates
    aggregate_type, handler = COMMAND_HANDLERS[type(command)]
    current = _target(submission, aggregate_type, aggregates)
    _check_required(submission, aggregates)
    _check_not_erased(submission, current, aggregates)
    _check_version(submission, current)
    refuse_taken(command.unique_claims(), batch.claimed)
    wanted = [*command.required(), *command.consulted()]
    given = {i: aggregates[i] for i in wanted if i in aggregates}
    meta = submission.context.meta(command.occurred_at)
    ctx = Decide(current, submission.target.aggregate_id, meta, given, lookups)
    involved = [a for a in (current, *given.values()) if a is not None]
    recorded = [len(a.pending_events) for a in involved]
    owners = {a.id: getattr(a, "customer_id", None) for a in involved}
    try:
        decision = handler(command, ctx)
    except CrmError as refusal:
        if [len(a.pending_events) for a in involved] != recorded:
            raise PartialDecision(refusal) from refusal  # the batch is redone, each alone
        raise
    _link_streams(decision, owners, batch)
    _note_erasures(decision, batch)
    aggregates.update((each.id, each) for each in decision.changed)
    return _record(submission, decision, batch)


def _target(
    submission: Submission, aggregate_type: type[Aggregate], aggregates: dict[UUID, Aggregate]
) -> Aggregate | None:
    """The aggregate the command acts on; not found unless the command may create it."""
    target = submission.target
    current = aggregates.get(target.aggregate_id)
    if not target.creates and not isinstance(current, aggregate_type):
        raise AggregateNotFound(
            f"no {aggregate_type.__name__.lower()} with id {target.aggregate_id}"
        )
    return current


def _check_required(submission: Submission, aggregates: dict[UUID, Aggregate]) -> None:
    """Refuses the command as not found if an aggregate it requires does not exist."""
    for required_id, required_type in submission.command.required().items():
        if not isinstance(aggregates.get(required_id), required_type):
            raise AggregateNotFound(f"no {required_type.__name__.lower()} with id {required_id}")


def _check_not_erased(
    submission: Submission, current: Aggregate | None, aggregates: dict[UUID, Aggregate]
) -> None:
    """Refuses (410) a command on an erased customer, on what one owns (a ticket, a deal, a
    converted lead: the batch read their owners, `GroupCommit`), or that requires one."""
    required = [aggregates.get(i) for i in submission.command.required()]
    for each in (current, *required):
        owner = aggregates.get(getattr(each, "customer_id", None) or each.id) if each else None
        if isinstance(owner, Customer):
            owner.check_not_erased()


def _check_version(submission: Submission, current: Aggregate | None) -> None:
    """Refuses the command if If-Match named another version than the target's."""
    expected = submission.context.expected_version
    if expected is not None and (current is None or current.version != expected):
        raise VersionMismatch(
            f"If-Match is {expected}, the current version is {current.version if current else None}"
        )


def _link_streams(decision: Decision, owners_before: dict[UUID, UUID | None], batch: Batch) -> None:
    """A new ticket, a converted lead: a stream that now has a customer joins its timeline."""
    for each in decision.changed:
        customer = getattr(each, "customer_id", None)
        if customer is not None and customer != owners_before.get(each.id):
            batch.changes.links.append((customer, each.id))


def _note_erasures(decision: Decision, batch: Batch) -> None:
    """A customer erased (by this command: one erased before refuses every command): its
    claims are released and its data keys destroyed in the transaction that records it
    (`Changes.erased`)."""
    for each in decision.changed:
        if isinstance(each, Customer) and each.erased:
            batch.changes.erased.append(each.id)


def _record(submission: Submission, decision: Decision, batch: Batch) -> Outcome:
    """The command's answer; its claims, and its answer under its key, join the batch."""
    aggregate, changes = decision.aggregate, batch.changes
    claims = submission.command.unique_claims()
    batch.claimed.update(claims)
    changes.claims.extend((claim, aggregate.id) for claim in claims)
    outcome = Outcome(
        submission.command.success_status,
        {"id": str(aggregate.id), "version": aggregate.version, **decision.answer},
    )
    if submission.key:
        changes.outcomes.append((submission.key, first_answer(submission, outcome)))
    return outcome
