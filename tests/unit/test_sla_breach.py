"""A ticket records each SLA target's breach once, whatever its status."""

from datetime import timedelta
from uuid import uuid4

from commands.sla import RecordSlaBreach
from commands.sla_handlers import record_sla_breach
from domain.ticket import SlaTarget, TicketStatus
from tests.unit.test_ticket import at, in_status, names


def test_a_breach_is_recorded_once_per_target_even_on_a_closed_ticket() -> None:
    # Given a closed ticket
    ticket = in_status(TicketStatus.CLOSED)
    due = at(60).occurred_at
    breach = RecordSlaBreach(target=SlaTarget.RESOLUTION, policy_version=2, occurred_at=due)
    # When its resolution breach is recorded twice, then its first response's
    record_sla_breach(breach, ticket, uuid4(), at(60))
    record_sla_breach(breach, ticket, uuid4(), at(61))
    later = breach.model_copy(update={"target": SlaTarget.FIRST_RESPONSE})
    record_sla_breach(later, ticket, uuid4(), at(62))
    # Then each target's breach is one event, at its due time
    events = ticket.collect_events()
    assert [type(e).__qualname__ for e in events] == ["Ticket.SlaBreached"] * 2
    assert [(e.target, e.policy_version, e.meta.occurred_at) for e in events] == [
        (SlaTarget.RESOLUTION, 2, due),
        (SlaTarget.FIRST_RESPONSE, 2, due + timedelta(minutes=2)),
    ]
    assert names(ticket) == []
