"""Ticket commands and queries."""

from functools import partial
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from api import problems
from api.auth import Reader
from api.commanding import aggregate_id, command_route, existing, read, run
from api.redaction import shown_to
from api.views.tickets import TicketView
from commands.tickets import ChangeTicketStatus, RateSatisfaction, ReplyToTicket
from projections.tickets import queries

router = APIRouter(
    prefix="/v1/tickets", tags=["tickets"], responses=problems.documented(401, 403, 422, 503)
)
command = partial(command_route, router)


@command("POST", "/{ticket_id}/replies", 201, ReplyToTicket)
async def reply_to_ticket(request: Request, ticket_id: str) -> JSONResponse:
    """Add an agent's or the customer's reply (a customer's reply reopens a solved ticket)."""
    return await run(request, ReplyToTicket, existing(ticket_id, "ticket"))


@command("POST", "/{ticket_id}/status", 200, ChangeTicketStatus)
async def change_ticket_status(request: Request, ticket_id: str) -> JSONResponse:
    """Move a ticket to open, pending, solved or closed (closed is final)."""
    return await run(request, ChangeTicketStatus, existing(ticket_id, "ticket"))


@command("POST", "/{ticket_id}/satisfaction", 201, RateSatisfaction)
async def rate_satisfaction(request: Request, ticket_id: str) -> JSONResponse:
    """Record the customer's rating (1-5) of a solved or closed ticket, once."""
    return await run(request, RateSatisfaction, existing(ticket_id, "ticket"))


@router.get(
    "/{ticket_id}",
    response_model=TicketView,
    response_model_exclude_unset=True,
    responses=problems.documented(404),
)
def get_ticket(
    request: Request, response: Response, ticket_id: str, principal: Reader
) -> dict[str, Any]:
    """The current state of one ticket (ETag: its version)."""
    ticket = read(request, queries.ticket, aggregate_id(ticket_id, "ticket"))
    if ticket is None:
        raise HTTPException(404, f"no ticket with id {ticket_id}")
    response.headers["ETag"] = f'"{ticket["version"]}"'
    return shown_to(principal, TicketView.model_validate(ticket))
