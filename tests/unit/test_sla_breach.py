"""A ticket records each SLA target's breach once, whatever its status, unless it shows the
target met by its due time."""

from datetime import timedelta
from uuid import uuid4

import pytest

from commands.sla import RecordSlaBreach
from domain.ticket import Author, SlaTarget, SlaTargetMet, TicketStatus
from tests.unit.handling import handle
from tests.unit.test_ticket import at, in_status, names, opened


def test_a_breach_is_recorded_once_per_target_even_on_a_closed_ticket() -> None:
    # Given a ticket closed late (at minute 90), without a reply
    ticket = opened()
    ticket.change_status(TicketStatus.CLOSED, at(90))
    ticket.collect_events()
    due = at(60).occurred_at
    breach = RecordSlaBreach(target=SlaTarget.RESOLUTION, policy_version=2, occurred_at=due)
    # When its resolution breach is recorded twice, then its first response's
    handle(breach, ticket, meta=at(60))
    handle(breach, ticket, meta=at(61))
    later = breach.model_copy(update={"target": SlaTarget.FIRST_RESPONSE})
    handle(later, ticket, meta=at(62))
    # Then each target's breach is one event, at its due time
    events = ticket.collect_events()
    assert [type(e).__qualname__ for e in events] == ["Ticket.SlaBreached"] * 2
    assert [(e.target, e.policy_version, e.meta.occurred_at) for e in events] == [
        (SlaTarget.RESOLUTION, 2, due),
        (SlaTarget.FIRST_RESPONSE, 2, due + timedelta(minutes=2)),
    ]
    assert names(ticket) == []


def test_a_breach_the_ticket_contradicts_is_refused() -> None:
    # Given a ticket answered at minute 30 and solved at minute 50
    ticket = in_status(TicketStatus.OPEN)
    ticket.reply(uuid4(), Author.AGENT, "On it", at(30))
    ticket.change_status(TicketStatus.SOLVED, at(50))
    ticket.collect_events()
    # When a measure behind the events finds both targets breached at minute 45
    for target in SlaTarget:
        breach = RecordSlaBreach(target=target, policy_version=1, occurred_at=at(45).occurred_at)
        # Then the first response is refused (answered by then); the resolution is recorded
        if target == SlaTarget.FIRST_RESPONSE:
            with pytest.raises(SlaTargetMet):
                handle(breach, ticket, meta=at(45))
        else:
            handle(breach, ticket, meta=at(45))
    assert names(ticket) == ["Ticket.SlaBreached"]
    # And a resolution due at minute 55, solved at 50, is refused too
    due_later = RecordSlaBreach(target=SlaTarget.RESOLUTION, policy_version=1,
                                occurred_at=at(55).occurred_at)  # fmt: skip
    solved = in_status(TicketStatus.SOLVED)
    with pytest.raises(SlaTargetMet):
        handle(due_later, solved, meta=at(55))
