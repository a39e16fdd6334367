"""The Ticket aggregate: a customer's complaint, service request or warranty claim, and the
conversation that settles it.

Statuses: open -> pending (waiting on the customer) -> solved -> closed, in any order but
one: closed is final. A customer's reply to a pending or solved ticket opens it again; the
first agent reply is the first response. Free text (description, reply bodies, the rating's
comment) is personal data and sits in each event's `personal` group.
"""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import CustomerOwned
from domain.errors import CrmError
from domain.values import Changes, Channel, Meta


class TicketKind(StrEnum):
    """What the customer asks for."""

    COMPLAINT = "complaint"
    SERVICE_REQUEST = "service_request"
    WARRANTY_CLAIM = "warranty_claim"


class Priority(StrEnum):
    """How urgent a ticket is."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketStatus(StrEnum):
    """Where a ticket stands."""

    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"


class Author(StrEnum):
    """Who wrote a reply."""

    AGENT = "agent"
    CUSTOMER = "customer"


class SlaTarget(StrEnum):
    """A service-level target of a ticket."""

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class TicketClosed(CrmError):
    """A closed ticket is final: no reply, no status change."""

    rule = "ticket-closed"


class TicketNotSolved(CrmError):
    """Satisfaction is rated only once a ticket is solved or closed."""

    rule = "ticket-not-solved"


class SlaTargetMet(CrmError):
    """A breach the ticket itself contradicts: the target was met by its due time (whoever
    measured it had not seen the reply or the resolution yet)."""

    rule = "sla-target-met"


class TicketAlreadyRated(CrmError):
    """A ticket's satisfaction is rated once."""

    rule = "ticket-already-rated"


class TicketFull(CrmError):
    """A ticket holds at most MAX_REPLIES replies: a longer exchange is another ticket."""

    rule = "ticket-full"


MAX_REPLIES = 1_000
"""The most replies of one ticket: its read-model row holds them all (20 MB at most)."""
RATABLE = frozenset({TicketStatus.SOLVED, TicketStatus.CLOSED})
REOPENED_BY_CUSTOMER = frozenset({TicketStatus.PENDING, TicketStatus.SOLVED})


def first_response(
    first_response_at: datetime | None, author: Author, at: datetime
) -> datetime | None:
    """A ticket's first response once `author` replied at `at`: the first agent reply."""
    return at if first_response_at is None and author == Author.AGENT else first_response_at


def settlement(
    solved_at: datetime | None, closed_at: datetime | None, status: TicketStatus, at: datetime
) -> tuple[datetime | None, datetime | None]:
    """When a ticket was solved and closed, once its status changed to `status` at `at`:
    solving and closing stamp their time; any other status forgets the solving."""
    if status == TicketStatus.SOLVED:
        return at, closed_at
    if status == TicketStatus.CLOSED:
        return solved_at, at
    return None, closed_at


class Ticket(CustomerOwned):
    """A customer's request to the support team, from opening to closing. It holds what its
    rules decide on; what is shown (subject, conversation, rating...) is in read models."""

    id: UUID

    @classmethod
    def open(
        cls,
        ticket_id: UUID,
        *,
        customer_id: UUID,
        kind: TicketKind,
        subject: str,
        description: str,
        priority: Priority,
        channel: Channel,
        order_ref: str | None,
        meta: Meta,
    ) -> "Ticket":
        """Opens a ticket for a customer."""
        return cls(
            id=ticket_id,
            customer_id=customer_id,
            kind=kind,
            subject=subject,
            priority=priority,
            channel=channel,
            order_ref=order_ref,
            personal={"description": description},
            meta=meta,
        )

    @event("Opened")
    def __init__(
        self,
        customer_id: UUID,
        kind: TicketKind,
        subject: str,
        priority: Priority,
        channel: Channel,
        order_ref: str | None,
        personal: Changes,
        meta: Meta,
    ) -> None:
        self.customer_id = customer_id
        self.status = TicketStatus.OPEN
        self.first_response_at: datetime | None = None
        self.solved_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.replies = 0
        """How many replies the ticket has (at most MAX_REPLIES)."""
        self.rated = False
        self.sla_breaches: frozenset[SlaTarget] = frozenset()

    def reply(self, reply_id: UUID, author: Author, body: str, meta: Meta) -> None:
        """Adds a reply; a customer's reply opens a pending or solved ticket again. Refused
        once the ticket has MAX_REPLIES."""
        self._refuse_if_closed()
        if self.replies >= MAX_REPLIES:
            raise TicketFull(f"a ticket holds at most {MAX_REPLIES} replies; open another")
        self._reply(reply_id, author, {"body": body}, meta)
        if author == Author.CUSTOMER and self.status in REOPENED_BY_CUSTOMER:
            self._change_status(TicketStatus.OPEN, meta)

    @event("Replied")
    def _reply(self, reply_id: UUID, author: Author, personal: Changes, meta: Meta) -> None:
        self.replies += 1
        self.first_response_at = first_response(self.first_response_at, author, meta.occurred_at)

    def change_status(self, status: TicketStatus, meta: Meta) -> None:
        """Moves the ticket to `status`; asking for the current status records nothing."""
        if status == self.status:
            return
        self._refuse_if_closed()
        self._change_status(status, meta)

    @event("StatusChanged")
    def _change_status(self, status: TicketStatus, meta: Meta) -> None:
        self.status = status
        self.solved_at, self.closed_at = settlement(
            self.solved_at, self.closed_at, status, meta.occurred_at
        )

    def rate_satisfaction(self, rating: int, comment: str | None, meta: Meta) -> None:
        """Records the customer's rating (1 to 5), once, after the ticket is solved."""
        if self.status not in RATABLE:
            raise TicketNotSolved(f"ticket {self.id} is {self.status}: rate it once solved")
        if self.rated:
            raise TicketAlreadyRated(f"ticket {self.id} is already rated")
        self._rate_satisfaction(rating, {"comment": comment} if comment else {}, meta)

    @event("SatisfactionRated")
    def _rate_satisfaction(self, rating: int, personal: Changes, meta: Meta) -> None:
        self.rated = True

    def record_sla_breach(self, target: SlaTarget, policy_version: int, meta: Meta) -> None:
        """Records that an SLA target was breached (at `meta.occurred_at`, its due time), once
        per target: a fact for automation, allowed whatever the status, unless the ticket
        shows the target met by then (SlaTargetMet)."""
        if target in self.sla_breaches:
            return
        if self._met_by(target, meta.occurred_at):
            raise SlaTargetMet(f"ticket {self.id} met its {target} target by {meta.occurred_at}")
        self._record_sla_breach(target, policy_version, meta)

    def _met_by(self, target: SlaTarget, due: datetime) -> bool:
        """Whether the first agent reply, or the resolution, came by `due`."""
        if target == SlaTarget.FIRST_RESPONSE:
            return self.first_response_at is not None and self.first_response_at <= due
        settled = [t for t in (self.solved_at, self.closed_at) if t is not None]
        settled_now = self.status in (TicketStatus.SOLVED, TicketStatus.CLOSED)
        return settled_now and min(settled, default=due) <= due

    @event("SlaBreached")
    def _record_sla_breach(self, target: SlaTarget, policy_version: int, meta: Meta) -> None:
        self.sla_breaches = self.sla_breaches | {target}

    def _refuse_if_closed(self) -> None:
        if self.status == TicketStatus.CLOSED:
            raise TicketClosed(f"ticket {self.id} is closed")
