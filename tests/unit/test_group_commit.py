"""The writer's logic on the in-memory unit of work: one transaction per batch, each command
redone alone when the batch is refused, claim races, idempotent replay and If-Match."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import event

from commands.base import Command
from commands.context import CommandContext, Outcome, Target
from commands.customers import EXTERNAL_REF, RecordPurchase, RegisterCustomer
from commands.errors import AggregateNotFound, IdempotencyKeyReused, VersionMismatch
from commands.group_commit import GroupCommit
from commands.handling import Decide, Decision
from commands.leads import CaptureLead, ConvertLead, QualifyLead
from commands.registry import COMMAND_HANDLERS, Handling
from commands.submission import Submission
from commands.unit_of_work import Unreachable
from commands.unit_of_work.memory import InMemoryUnitOfWork, cut
from domain.aggregate import Aggregate
from domain.errors import CrmError, ExternalRefTaken
from domain.values import Meta


def context(**overrides: object) -> CommandContext:
    values: dict = {"actor": "tester", "correlation_id": "c", "received_at": datetime.now(UTC)}
    return CommandContext(**(values | overrides))  # type: ignore[arg-type]


def submission(target: Target, command: Command, **context_fields: object) -> Submission:
    return Submission(target, command, context(**context_fields))


def registration(name: str = "Ada", **fields: object) -> Submission:
    return submission(Target(uuid4(), creates=True), RegisterCustomer(name=name, **fields))


def purchase(customer_id: UUID, order_id: str, **context_fields: object) -> Submission:
    command = RecordPurchase(order_id=order_id, total=Decimal(10), currency="EUR", items=[])
    return submission(Target(customer_id), command, **context_fields)


def run(work: InMemoryUnitOfWork, *submissions: Submission) -> list[Outcome | BaseException]:
    """Processes the submissions as one batch; their answers, in order."""
    GroupCommit(work).process(list(submissions))
    return [s.future.exception() or s.future.result() for s in submissions]


def registered(work: InMemoryUnitOfWork, **fields: object) -> UUID:
    (outcome,) = run(work, registration(**fields))
    assert isinstance(outcome, Outcome)
    return UUID(outcome.body["id"])


def orders(work: InMemoryUnitOfWork, customer_id: UUID) -> list[str]:
    """The order ids of the customer's stored purchases, in order."""
    return [e.order_id for e in work.events[customer_id] if hasattr(e, "order_id")]


def test_a_batch_is_saved_in_one_transaction_and_each_command_answered() -> None:
    work = InMemoryUnitOfWork()
    customer_id = registered(work)
    # When three purchases come in one batch
    answers = run(work, *(purchase(customer_id, f"o{i}") for i in range(3)))
    # Then one transaction saved them all, each answered with the version it left
    assert work.saves == 2
    assert [a.version for a in answers] == [2, 3, 4]  # type: ignore[union-attr]
    assert {a.status for a in answers} == {201}  # type: ignore[union-attr]
    assert orders(work, customer_id) == ["o0", "o1", "o2"]


def test_a_refusal_before_recording_leaves_the_rest_of_the_batch_in_its_transaction() -> None:
    work = InMemoryUnitOfWork()
    customer_id = registered(work)
    # When a batch has a purchase for a customer that does not exist
    answers = run(work, purchase(customer_id, "a"), purchase(uuid4(), "b"))
    # Then that one is refused, the other saved, in the batch's one transaction
    assert isinstance(answers[1], AggregateNotFound)
    assert (work.saves, orders(work, customer_id)) == (2, ["a"])


class Tally(Aggregate):
    """Counts what is recorded on it."""

    id: UUID

    @event("Started")
    def __init__(self, meta: Meta) -> None:
        self.count = 0

    @event("Counted")
    def add(self, meta: Meta) -> None:
        self.count += 1


class Count(Command):
    refuse_after_counting: bool = False


def count(command: Count, ctx: Decide[Tally]) -> Decision:
    tally = ctx.current or Tally(id=ctx.target_id, meta=ctx.meta)
    tally.add(ctx.meta)
    if command.refuse_after_counting:
        raise CrmError("refused after counting")
    return Decision(tally, {"count": tally.count})


@pytest.fixture
def tallies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(COMMAND_HANDLERS, Count, Handling(Tally, count))


@pytest.mark.usefixtures("tallies")
def test_a_refusal_after_recording_events_redoes_the_batch_one_by_one() -> None:
    work = InMemoryUnitOfWork()
    tally = Target(uuid4(), creates=True)
    run(work, submission(tally, Count()))
    # When the second of three counts is refused after it counted
    answers = run(
        work,
        submission(tally, Count()),
        submission(tally, Count(refuse_after_counting=True)),
        submission(tally, Count()),
    )
    # Then it is answered with its refusal, and the others are saved, each alone
    assert isinstance(answers[1], CrmError)
    assert str(answers[1]) == "refused after counting"
    assert [a.body["count"] for a in (answers[0], answers[2])] == [2, 3]  # type: ignore[union-attr]
    assert work.saves == 1 + 2
    assert work.aggregates([tally.aggregate_id])[tally.aggregate_id].count == 3


def test_a_batch_refused_at_its_save_is_redone_one_by_one() -> None:
    work = InMemoryUnitOfWork()
    customer_id, other_id = registered(work), registered(work)
    # Given another writer records a purchase between the batch's reads and its save
    work.before_save.append(lambda: run(work, purchase(customer_id, "theirs")))
    # When the batch is saved
    answers = run(work, purchase(customer_id, "mine"), purchase(other_id, "other"))
    # Then its transaction conflicted, and each command was decided again and saved alone
    assert all(isinstance(a, Outcome) for a in answers)
    assert orders(work, customer_id) == ["theirs", "mine"]
    assert orders(work, other_id) == ["other"]
    assert work.saves == 2 + 1 + 2


def test_a_unique_claim_is_refused_once_held_in_the_store_or_the_batch() -> None:
    work = InMemoryUnitOfWork()
    registered(work, external_ref="shop-1")
    # When two registrations in a batch claim a new reference, and one a held one
    answers = run(
        work,
        registration(external_ref="shop-2"),
        registration(external_ref="shop-2"),
        registration(external_ref="shop-1"),
    )
    # Then the first claim wins; the others are refused
    assert isinstance(answers[0], Outcome)
    assert [type(a) for a in answers[1:]] == [ExternalRefTaken, ExternalRefTaken]
    assert work.claims[(EXTERNAL_REF, "shop-2")] == UUID(answers[0].body["id"])


def test_a_claim_taken_by_another_writer_before_the_save_refuses_the_command() -> None:
    work = InMemoryUnitOfWork()
    # Given another writer claims the reference between the reads and the save, twice
    work.before_save.append(lambda: run(work, registration(external_ref="shop-1")))
    work.before_save.append(lambda: None)
    # When a registration claims it
    (answer,) = run(work, registration("Bea", external_ref="shop-1"))
    # Then it is refused: the reference is the other customer's
    assert isinstance(answer, ExternalRefTaken)
    assert len(work.claims) == 1


def test_a_repeated_key_gets_the_first_answer_and_another_body_is_refused() -> None:
    work = InMemoryUnitOfWork()
    customer_id = registered(work)
    keyed = {"idempotency_key": "k1", "request_hash": "h1"}
    (first,) = run(work, purchase(customer_id, "a", **keyed))
    # When the same request is sent again, and the key with another body
    (again,) = run(work, purchase(customer_id, "a", **keyed))
    (other,) = run(work, purchase(customer_id, "b", idempotency_key="k1", request_hash="h2"))
    # Then the first answer is replayed, and the other body refused; one purchase stored
    assert isinstance(first, Outcome) and isinstance(again, Outcome)
    assert (again.body, again.status, again.replayed) == (first.body, first.status, True)
    assert isinstance(other, IdempotencyKeyReused)
    assert orders(work, customer_id) == ["a"]


def test_a_key_stored_by_another_writer_before_the_save_replays_its_answer() -> None:
    work = InMemoryUnitOfWork()
    keyed = {"idempotency_key": "k1", "request_hash": "h1"}
    command = RegisterCustomer(name="Ada")
    theirs = submission(Target(uuid4(), creates=True), command, **keyed)
    work.before_save.append(lambda: run(work, theirs))
    work.before_save.append(lambda: None)
    # When the same registration is decided meanwhile (under another new id)
    mine = submission(Target(uuid4(), creates=True), command, **keyed)
    (answer,) = run(work, mine)
    # Then it gets the answer the other writer stored, and one customer is stored
    assert isinstance(answer, Outcome) and answer.replayed
    assert answer.body == theirs.future.result().body
    assert list(work.events) == [theirs.target.aggregate_id]


def test_if_match_refuses_another_version_and_accepts_the_current_one() -> None:
    work = InMemoryUnitOfWork()
    customer_id = registered(work)
    # When purchases name a stale version, then the current one
    stale, current = run(
        work,
        purchase(customer_id, "a", expected_version=2),
        purchase(customer_id, "b", expected_version=1),
    )
    # Then the stale one is refused, the other recorded
    assert isinstance(stale, VersionMismatch)
    assert isinstance(current, Outcome) and current.version == 2


def test_if_match_refuses_a_change_made_by_another_writer_before_the_save() -> None:
    work = InMemoryUnitOfWork()
    customer_id = registered(work)
    work.before_save.append(lambda: run(work, purchase(customer_id, "theirs")))
    (answer,) = run(work, purchase(customer_id, "mine", expected_version=1))
    assert isinstance(answer, VersionMismatch)
    assert orders(work, customer_id) == ["theirs"]


@pytest.mark.parametrize("committed", [True, False])
def test_a_commit_cut_off_is_answered_once_and_stored_once(committed: bool) -> None:
    work = InMemoryUnitOfWork()
    customer_id = registered(work)
    # When the batch's COMMIT is cut off, after it went through or before
    work.faults.append(cut(committed=committed))
    (answer,) = run(work, purchase(customer_id, "a"))
    # Then the purchase is answered as decided (or decided again), and stored once
    assert isinstance(answer, Outcome) and answer.version == 2
    assert orders(work, customer_id) == ["a"]


def test_a_batch_the_database_could_not_take_is_tried_again_whole() -> None:
    work = InMemoryUnitOfWork()
    customer_id = registered(work)
    work.faults.append(Unreachable("the database is away"))
    answers = run(work, purchase(customer_id, "a"), purchase(customer_id, "b"))
    assert [a.version for a in answers] == [2, 3]  # type: ignore[union-attr]
    assert (work.saves, orders(work, customer_id)) == (2, ["a", "b"])


def test_a_lead_converts_into_the_customer_with_its_email_found_in_the_writer() -> None:
    work = InMemoryUnitOfWork()
    customer_id = registered(work, email="Grace@Example.com")
    lead = Target(uuid4(), creates=True)
    run(work, submission(lead, CaptureLead(name="Grace", email="grace@example.com")))
    lead = Target(lead.aggregate_id)
    run(work, submission(lead, QualifyLead()))
    # When the lead is converted, naming no customer
    (answer,) = run(work, submission(lead, ConvertLead()))
    # Then it is linked to the customer with its email, and no customer is created
    assert isinstance(answer, Outcome)
    assert answer.body["customer_id"] == str(customer_id)
    assert answer.body["customer_created"] is False
    assert (customer_id, lead.aggregate_id) in work.links
