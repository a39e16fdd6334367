"""Laws of a ticket's life: random replies, status changes, ratings and SLA breaches, sent
through the
command handlers as the command bus sends them, against a small model of the rules;
replaying the stored events always gives the live state; and the read models folded from
those events agree with the aggregate on what both hold."""

from datetime import timedelta
from uuid import uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from commands.base import Command
from commands.sla import RecordSlaBreach
from commands.tickets import ChangeTicketStatus, OpenComplaint, RateSatisfaction, ReplyToTicket
from domain.errors import CrmError
from domain.ticket import Author, SlaTarget, TicketStatus
from domain.values import Meta
from projections.sla import clocks_evolve
from projections.tickets import evolve as tickets_evolve
from tests.strategies import words
from tests.unit.builders import META
from tests.unit.handling import handle
from tests.unit.recorded import ReadModel, replayed, state

SOLVED_OR_CLOSED = {TicketStatus.SOLVED, TicketStatus.CLOSED}
SHARED = ("customer_id", "status", "first_response_at", "solved_at", "closed_at")
"""What the tickets read model shows that the aggregate also holds."""


class TicketLife(RuleBasedStateMachine):
    """One ticket; each rule sends a command and checks what was recorded or refused."""

    def __init__(self) -> None:
        super().__init__()
        self.now = META.occurred_at
        complaint = OpenComplaint(customer_id=uuid4(), subject="s", description="d", channel="chat")
        self.ticket = handle(complaint).aggregate
        self.events = self.ticket.collect_events()
        self.tickets, self.clocks = (
            ReadModel(tickets_evolve.evolve),
            ReadModel(clocks_evolve.evolve),
        )
        self.feed(self.events)
        self.status = TicketStatus.OPEN
        self.closed = False
        self.first_agent_reply_at = None
        self.settled_at = None
        self.rated = False
        self.breaches: set[SlaTarget] = set()

    def send(self, command: Command, minutes: int, refused: bool) -> list:
        """Runs `command` `minutes` later; checks it was refused (recording nothing) or not."""
        self.now += timedelta(minutes=minutes)
        meta = Meta(actor="agent-7", correlation_id=str(uuid4()), occurred_at=self.now)
        version = self.ticket.version
        try:
            handle(command, self.ticket, meta=meta)
        except CrmError as error:
            assert refused, f"{command!r} was refused: {error.rule}"
            assert self.ticket.version == version
        else:
            assert not refused, f"{command!r} was accepted"
        new = self.ticket.collect_events()
        self.events += new
        self.feed(new)
        return [type(e).__qualname__ for e in new]

    def feed(self, events: list) -> None:
        """Feeds the read models with the events recorded."""
        self.tickets.feed(events)
        self.clocks.feed(events)

    @rule(author=st.sampled_from(Author), body=words, minutes=st.integers(0, 600))
    def reply(self, author: Author, body: str, minutes: int) -> None:
        recorded = self.send(ReplyToTicket(author=author, body=body), minutes, self.closed)
        if self.closed:
            return
        waiting = self.status in {TicketStatus.PENDING, TicketStatus.SOLVED}
        if author == Author.CUSTOMER and waiting:
            assert recorded == ["Ticket.Replied", "Ticket.StatusChanged"]
            self.move_to(TicketStatus.OPEN)
        else:
            assert recorded == ["Ticket.Replied"]
        if author == Author.AGENT and self.first_agent_reply_at is None:
            self.first_agent_reply_at = self.now

    @rule(status=st.sampled_from(TicketStatus), minutes=st.integers(0, 600))
    def change_status(self, status: TicketStatus, minutes: int) -> None:
        refused = self.closed and status != TicketStatus.CLOSED
        recorded = self.send(ChangeTicketStatus(status=status), minutes, refused)
        if not refused:
            assert recorded == ([] if status == self.status else ["Ticket.StatusChanged"])
            self.move_to(status)

    def move_to(self, status: TicketStatus) -> None:
        """The model's status, and since when the ticket is solved or closed, if it is."""
        settled = status in SOLVED_OR_CLOSED
        if not settled or self.status not in SOLVED_OR_CLOSED:
            self.settled_at = self.now if settled else None
        self.status, self.closed = status, status == TicketStatus.CLOSED

    @rule(rating=st.integers(1, 5), comment=st.none() | words, minutes=st.integers(0, 600))
    def rate(self, rating: int, comment: str | None, minutes: int) -> None:
        refused = self.rated or self.status not in SOLVED_OR_CLOSED
        recorded = self.send(RateSatisfaction(rating=rating, comment=comment), minutes, refused)
        if not refused:
            assert recorded == ["Ticket.SatisfactionRated"]
            assert self.tickets.row["satisfaction"]["rating"] == rating
            self.rated = True

    @rule(breached=st.sampled_from(SlaTarget), minutes=st.integers(0, 600))
    def record_breach(self, breached: SlaTarget, minutes: int) -> None:
        """A breach due now: refused if the ticket met the target by then, once recorded."""
        due = self.now + timedelta(minutes=minutes)
        met = (
            self.first_agent_reply_at is not None
            if breached == SlaTarget.FIRST_RESPONSE
            else self.settled_at is not None
        )
        refused = breached not in self.breaches and met
        breach = RecordSlaBreach(target=breached, policy_version=1, occurred_at=due)
        recorded = self.send(breach, minutes, refused)
        if not refused:
            assert recorded == ([] if breached in self.breaches else ["Ticket.SlaBreached"])
            self.breaches.add(breached)

    @invariant()
    def the_status_is_the_models(self) -> None:
        assert self.ticket.status in TicketStatus
        assert self.ticket.status == self.status
        assert self.ticket.sla_breaches == self.breaches

    @invariant()
    def closed_is_final(self) -> None:
        assert not self.closed or self.ticket.status == TicketStatus.CLOSED

    @invariant()
    def the_first_response_is_the_first_agent_reply(self) -> None:
        assert self.ticket.first_response_at == self.first_agent_reply_at
        replies = self.tickets.row["replies"]
        agents = [r["at"] for r in replies if r["author"] == Author.AGENT]
        first = self.ticket.first_response_at
        assert (first.isoformat() if first else None) == (agents[0] if agents else None)
        assert self.ticket.replies == len(replies)
        assert self.ticket.rated == self.rated

    @invariant()
    def every_event_is_counted_and_carries_the_customer(self) -> None:
        assert self.ticket.version == len(self.events)
        assert {e.customer_id for e in self.events} == {self.ticket.customer_id}

    @invariant()
    def replaying_the_stored_events_gives_the_same_state(self) -> None:
        assert state(replayed(self.events)) == state(self.ticket)

    @invariant()
    def the_read_models_agree_with_the_aggregate(self) -> None:
        ticket = self.ticket
        row = self.tickets.row
        assert {name: row[name] for name in SHARED} == {
            "customer_id": str(ticket.customer_id), "status": ticket.status,
            "first_response_at": ticket.first_response_at, "solved_at": ticket.solved_at,
            "closed_at": ticket.closed_at,
        }  # fmt: skip
        clocks = self.clocks.row
        shared = (clocks["status"], clocks["first_response_at"], clocks["breaches"])
        assert shared == (ticket.status, ticket.first_response_at, sorted(ticket.sla_breaches))


TicketLife.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
test_ticket_life = TicketLife.TestCase
