"""Handlers of ticket commands: `(command, aggregate, id, meta) -> (aggregate, answer)`, no I/O."""

from uuid import UUID, uuid4

from commands.registry import Answer, handles
from commands.tickets import ChangeTicketStatus, OpenComplaint, RateSatisfaction, ReplyToTicket
from domain.ticket import Ticket
from domain.values import Meta


@handles(OpenComplaint, Ticket)
def open_complaint(
    command: OpenComplaint, _: None, ticket_id: UUID, meta: Meta
) -> tuple[Ticket, Answer]:
    ticket = Ticket.open(
        ticket_id,
        customer_id=command.customer_id,
        kind=command.kind,
        subject=command.subject,
        description=command.description,
        priority=command.priority,
        channel=command.channel,
        order_ref=command.order_ref,
        meta=meta,
    )
    return ticket, {"ticket_id": str(ticket_id)}


@handles(ReplyToTicket, Ticket)
def reply_to_ticket(
    command: ReplyToTicket, ticket: Ticket, _: UUID, meta: Meta
) -> tuple[Ticket, Answer]:
    reply_id = uuid4()
    ticket.reply(reply_id, command.author, command.body, meta)
    return ticket, {"reply_id": str(reply_id), "status": str(ticket.status)}


@handles(ChangeTicketStatus, Ticket)
def change_ticket_status(
    command: ChangeTicketStatus, ticket: Ticket, _: UUID, meta: Meta
) -> tuple[Ticket, Answer]:
    ticket.change_status(command.status, meta)
    return ticket, {"status": str(ticket.status)}


@handles(RateSatisfaction, Ticket)
def rate_satisfaction(
    command: RateSatisfaction, ticket: Ticket, _: UUID, meta: Meta
) -> tuple[Ticket, Answer]:
    ticket.rate_satisfaction(command.rating, command.comment, meta)
    return ticket, {}
