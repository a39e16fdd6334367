"""Ticket rules, without I/O."""

from copy import deepcopy
from datetime import timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError

from commands.base import Command
from commands.registry import COMMAND_HANDLERS
from commands.tickets import ChangeTicketStatus, OpenComplaint, RateSatisfaction
from domain.customer import Customer
from domain.ticket import (
    MAX_REPLIES,
    Author,
    Priority,
    Ticket,
    TicketAlreadyRated,
    TicketClosed,
    TicketFull,
    TicketKind,
    TicketNotSolved,
    TicketStatus,
)
from domain.values import Channel, Meta
from projections.tickets.evolve import evolve
from projections.tickets.queries import view
from tests.unit.builders import META
from tests.unit.handling import handle
from tests.unit.recorded import folded

CUSTOMER = uuid4()


def at(minutes: int) -> Meta:
    """Metadata of a command `minutes` after META's business time."""
    return META.model_copy(update={"occurred_at": META.occurred_at + timedelta(minutes=minutes)})


COMPLAINT_OPENED: dict = {
    "customer_id": CUSTOMER,
    "kind": TicketKind.COMPLAINT,
    "subject": "Broken kettle",
    "description": "It does not heat.",
    "priority": Priority.HIGH,
    "channel": Channel.EMAIL,
    "order_ref": None,
    "meta": META,
}


def opened() -> Ticket:
    """A ticket opened at META's time, its opening event collected."""
    ticket = Ticket.open(uuid4(), **COMPLAINT_OPENED)
    ticket.collect_events()
    return ticket


def lived(status: TicketStatus) -> tuple[Ticket, list]:
    """A ticket opened at META's time and moved to `status` a minute later, with its events."""
    ticket = Ticket.open(uuid4(), **COMPLAINT_OPENED)
    ticket.change_status(status, at(1))
    return ticket, ticket.collect_events()


def in_status(status: TicketStatus) -> Ticket:
    return lived(status)[0]


def shown(events: list) -> dict:
    """The ticket as its read model shows it, folded from its events."""
    return view(folded(evolve, events))


def names(ticket: Ticket) -> list[str]:
    return [type(e).__qualname__ for e in ticket.collect_events()]


def test_opening_records_one_event_with_the_description_apart_as_personal_data() -> None:
    # Given / When
    ticket = Ticket.open(
        uuid4(),
        customer_id=CUSTOMER,
        kind=TicketKind.WARRANTY_CLAIM,
        subject="Broken kettle",
        description="It does not heat.",
        priority=Priority.URGENT,
        channel=Channel.CHAT,
        order_ref="A-1001",
        meta=META,
    )
    # Then
    (event,) = ticket.collect_events()
    row = shown([event])
    assert type(event).__qualname__ == "Ticket.Opened"
    assert event.personal == {"description": "It does not heat."}
    assert (event.customer_id, event.kind, event.order_ref) == (
        CUSTOMER,
        "warranty_claim",
        "A-1001",
    )
    assert (ticket.status, row["opened_at"], row["description"]) == (
        TicketStatus.OPEN,
        META.occurred_at,
        "It does not heat.",
    )


def test_every_event_of_a_ticket_carries_its_customer() -> None:
    ticket = opened()
    ticket.reply(uuid4(), Author.AGENT, "On it", at(5))
    ticket.change_status(TicketStatus.SOLVED, at(6))
    ticket.rate_satisfaction(5, None, at(7))
    assert {e.customer_id for e in ticket.collect_events()} == {CUSTOMER}


def test_the_first_agent_reply_is_the_first_response() -> None:
    # Given a ticket the customer wrote to first
    ticket = Ticket.open(uuid4(), **COMPLAINT_OPENED)
    ticket.reply(uuid4(), Author.CUSTOMER, "Any news?", at(3))
    assert ticket.first_response_at is None
    # When agents reply twice
    ticket.reply(uuid4(), Author.AGENT, "Looking into it", at(30))
    ticket.reply(uuid4(), Author.AGENT, "Found it", at(90))
    # Then the first agent reply is the first response
    assert ticket.first_response_at == at(30).occurred_at
    row = shown(ticket.collect_events())
    assert row["first_response_at"] == ticket.first_response_at
    assert row["first_response_seconds"] == 30 * 60
    assert [r["author"] for r in row["replies"]] == ["customer", "agent", "agent"]


def test_an_agent_reply_does_not_change_the_status() -> None:
    for status in (TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SOLVED):
        ticket = in_status(status)
        ticket.reply(uuid4(), Author.AGENT, "Note", at(2))
        assert (ticket.status, names(ticket)) == (status, ["Ticket.Replied"])


@pytest.mark.parametrize("status", [TicketStatus.PENDING, TicketStatus.SOLVED])
def test_a_customer_reply_opens_a_pending_or_solved_ticket_again(status: TicketStatus) -> None:
    # Given
    ticket, events = lived(status)
    # When
    ticket.reply(uuid4(), Author.CUSTOMER, "Still broken", at(2))
    # Then both facts are recorded
    new = ticket.collect_events()
    assert [type(e).__qualname__ for e in new] == ["Ticket.Replied", "Ticket.StatusChanged"]
    assert (ticket.status, ticket.solved_at) == (TicketStatus.OPEN, None)
    assert shown(events + new)["reopened"] == (1 if status == TicketStatus.SOLVED else 0)


def test_a_customer_reply_to_an_open_ticket_records_only_the_reply() -> None:
    ticket = opened()
    ticket.reply(uuid4(), Author.CUSTOMER, "More details", at(2))
    assert (ticket.status, names(ticket)) == (TicketStatus.OPEN, ["Ticket.Replied"])


@pytest.mark.parametrize("author", list(Author))
def test_a_reply_to_a_closed_ticket_is_refused_and_records_nothing(author: Author) -> None:
    ticket = in_status(TicketStatus.CLOSED)
    with pytest.raises(TicketClosed) as refused:
        ticket.reply(uuid4(), author, "Hello?", at(2))
    assert refused.value.rule == "ticket-closed"
    assert (ticket.version, ticket.collect_events(), ticket.replies) == (2, [], 0)


def test_a_ticket_takes_a_thousand_replies_and_no_more() -> None:
    # Given a ticket with MAX_REPLIES replies (its read-model row holds them all)
    ticket = opened()
    for n in range(MAX_REPLIES):
        ticket.reply(uuid4(), Author.AGENT, f"Reply {n}", at(n))
    ticket.collect_events()
    # When one more is sent; Then it is refused, naming the rule, and nothing is recorded
    with pytest.raises(TicketFull) as refused:
        ticket.reply(uuid4(), Author.CUSTOMER, "And another thing", at(MAX_REPLIES))
    assert refused.value.rule == "ticket-full"
    assert (ticket.replies, ticket.collect_events()) == (MAX_REPLIES, [])


@pytest.mark.parametrize("status", [TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SOLVED])
def test_a_closed_ticket_keeps_its_status(status: TicketStatus) -> None:
    ticket = in_status(TicketStatus.CLOSED)
    with pytest.raises(TicketClosed):
        ticket.change_status(status, at(2))
    assert (ticket.status, ticket.version) == (TicketStatus.CLOSED, 2)


@pytest.mark.parametrize("status", list(TicketStatus))
def test_asking_for_the_current_status_records_nothing(status: TicketStatus) -> None:
    ticket = in_status(status) if status != TicketStatus.OPEN else opened()
    ticket.change_status(status, at(2))
    assert ticket.collect_events() == []


def test_solving_then_closing_keeps_both_times() -> None:
    ticket = Ticket.open(uuid4(), **COMPLAINT_OPENED)
    ticket.change_status(TicketStatus.SOLVED, at(10))
    ticket.change_status(TicketStatus.CLOSED, at(20))
    assert (ticket.solved_at, ticket.closed_at) == (at(10).occurred_at, at(20).occurred_at)
    row = shown(ticket.collect_events())
    assert (row["solved_at"], row["closed_at"]) == (ticket.solved_at, ticket.closed_at)
    assert row["reopened"] == 0


def test_an_agent_reopening_a_solved_ticket_counts_as_reopened() -> None:
    ticket, events = lived(TicketStatus.SOLVED)
    ticket.change_status(TicketStatus.PENDING, at(2))
    reopened = shown(events + ticket.collect_events())["reopened"]
    assert (ticket.status, reopened, ticket.solved_at) == (TicketStatus.PENDING, 1, None)


@pytest.mark.parametrize("status", [TicketStatus.OPEN, TicketStatus.PENDING])
def test_satisfaction_waits_until_the_ticket_is_solved(status: TicketStatus) -> None:
    ticket = in_status(status) if status != TicketStatus.OPEN else opened()
    with pytest.raises(TicketNotSolved) as refused:
        ticket.rate_satisfaction(4, None, at(2))
    assert refused.value.rule == "ticket-not-solved"
    assert (ticket.rated, ticket.collect_events()) == (False, [])


@pytest.mark.parametrize("status", [TicketStatus.SOLVED, TicketStatus.CLOSED])
def test_satisfaction_is_rated_once_with_its_comment_as_personal_data(
    status: TicketStatus,
) -> None:
    # Given
    ticket, events = lived(status)
    # When
    ticket.rate_satisfaction(2, "Slow", at(2))
    # Then
    (event,) = ticket.collect_events()
    assert (event.rating, event.personal) == (2, {"comment": "Slow"})
    satisfaction = shown([*events, event])["satisfaction"]
    assert (satisfaction["rating"], satisfaction["comment"]) == (2, "Slow")
    with pytest.raises(TicketAlreadyRated) as refused:
        ticket.rate_satisfaction(5, None, at(3))
    assert refused.value.rule == "ticket-already-rated"
    assert (ticket.rated, ticket.collect_events()) == (True, [])


def test_a_copy_for_a_command_shares_no_mutable_state() -> None:
    ticket = opened()
    copy = deepcopy(ticket)
    copy.reply(uuid4(), Author.AGENT, "Hi", at(1))
    copy.change_status(TicketStatus.CLOSED, at(2))
    assert (ticket.replies, ticket.status, ticket.first_response_at) == (0, "open", None)


def test_the_complaint_handler_opens_a_ticket_for_the_customer_of_the_path() -> None:
    # Given a complaint as the API builds it (customer from the path, defaults for the rest)
    command = OpenComplaint(
        customer_id=CUSTOMER, subject="Late", description="Where?", channel="call"
    )
    ticket_type = COMMAND_HANDLERS[OpenComplaint].aggregate
    ticket_id = uuid4()
    # When
    decision = handle(command, target_id=ticket_id)
    ticket, answer = decision.aggregate, decision.answer
    # Then
    assert ticket_type is Ticket
    assert command.required() == {CUSTOMER: Customer}
    assert answer == {"ticket_id": str(ticket_id)}
    (event,) = ticket.collect_events()
    assert (ticket.customer_id, event.kind, event.priority) == (CUSTOMER, "complaint", "normal")


COMPLAINT = {"customer_id": CUSTOMER, "subject": "s", "description": "d", "channel": "email"}


@pytest.mark.parametrize(
    ("command", "given", "field"),
    [
        (ChangeTicketStatus, {"status": "reopened"}, "status"),
        (RateSatisfaction, {"rating": 6}, "rating"),
        (OpenComplaint, COMPLAINT | {"description": " "}, "description"),
        (OpenComplaint, COMPLAINT | {"priority": "asap"}, "priority"),
        (OpenComplaint, COMPLAINT | {"kind": "refund"}, "kind"),
    ],
)
def test_commands_refuse_unknown_values_naming_the_field(
    command: type[Command], given: dict, field: str
) -> None:
    with pytest.raises(ValidationError) as invalid:
        command(**given)
    assert [e["loc"] for e in invalid.value.errors()] == [(field,)]


def test_a_status_answer_names_the_status() -> None:
    decision = handle(ChangeTicketStatus(status="pending"), opened(), meta=at(1))
    ticket, answer = decision.aggregate, decision.answer
    assert (answer, ticket.status) == ({"status": "pending"}, TicketStatus.PENDING)
