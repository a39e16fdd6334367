"""Ticket commands and queries."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from api import problems
from api.command_routes import CommandRoute, add_command_routes, in_path
from api.commanding import aggregate_id, read
from api.policing import PolicedRoute
from api.views.tickets import TicketView
from commands.tickets import ChangeTicketStatus, RateSatisfaction, ReplyToTicket
from projections.tickets import queries

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/tickets",
    tags=["tickets"],
    responses=problems.documented(401, 403, 422, 503),
)


TICKET = in_path("ticket_id", "ticket")

add_command_routes(
    router,
    CommandRoute(
        "POST /{ticket_id}/replies",
        ReplyToTicket,
        TICKET,
        "Add an agent's or the customer's reply (a customer's reply reopens a solved ticket).",
    ),
    CommandRoute(
        "POST /{ticket_id}/status",
        ChangeTicketStatus,
        TICKET,
        "Move a ticket to open, pending, solved or closed (closed is final).",
    ),
    CommandRoute(
        "POST /{ticket_id}/satisfaction",
        RateSatisfaction,
        TICKET,
        "Record the customer's rating (1-5) of a solved or closed ticket, once.",
    ),
)


@router.get(
    "/{ticket_id}",
    response_model=TicketView,
    response_model_exclude_unset=True,
    responses=problems.documented(404),
)
def get_ticket(request: Request, response: Response, ticket_id: str) -> dict[str, Any]:
    """The current state of one ticket (ETag: its version)."""
    ticket = read(request, queries.ticket, aggregate_id(ticket_id, "ticket"))
    if ticket is None:
        raise HTTPException(404, f"no ticket with id {ticket_id}")
    response.headers["ETag"] = f'"{ticket["version"]}"'
    return ticket
