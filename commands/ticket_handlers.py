"""Handlers of ticket commands (see `commands.handling`)."""

from uuid import uuid4

from commands.handling import Decide, Decision
from commands.tickets import ChangeTicketStatus, OpenComplaint, RateSatisfaction, ReplyToTicket
from domain.ticket import Ticket


def open_complaint(command: OpenComplaint, ctx: Decide[Ticket]) -> Decision:
    ticket = Ticket.open(
        ctx.target_id,
        customer_id=command.customer_id,
        kind=command.kind,
        subject=command.subject,
        description=command.description,
        priority=command.priority,
        channel=command.channel,
        order_ref=command.order_ref,
        meta=ctx.meta,
    )
    return Decision(ticket, {"ticket_id": str(ctx.target_id)})


def reply_to_ticket(command: ReplyToTicket, ctx: Decide[Ticket]) -> Decision:
    reply_id, ticket = uuid4(), ctx.aggregate
    ticket.reply(reply_id, command.author, command.body, ctx.meta)
    return Decision(ticket, {"reply_id": str(reply_id), "status": str(ticket.status)})


def change_ticket_status(command: ChangeTicketStatus, ctx: Decide[Ticket]) -> Decision:
    ticket = ctx.aggregate
    ticket.change_status(command.status, ctx.meta)
    return Decision(ticket, {"status": str(ticket.status)})


def rate_satisfaction(command: RateSatisfaction, ctx: Decide[Ticket]) -> Decision:
    ctx.aggregate.rate_satisfaction(command.rating, command.comment, ctx.meta)
    return Decision(ctx.aggregate)
