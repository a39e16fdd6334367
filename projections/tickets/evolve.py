"""Pure `(row, event) -> row` functions of the tickets read model.

A row is one ticket as `domain.ticket.Ticket` holds it, folded from the ticket's events by
the rules their bodies apply (a customer's reply that reopens a ticket is its own
StatusChanged event). `status_history` lists every status with its business time, so that
SLA clocks can stop while a ticket is pending. Times inside jsonb are ISO 8601 strings. No
wall clock: a rebuild equals the live table.
"""

from datetime import datetime

from domain.events.envelope import Envelope
from domain.events.payloads import ticket
from domain.ticket import Ticket, TicketStatus, first_response, settlement
from projections.projection import Appliers, Row, fold_stream


def key(event: Envelope) -> str | None:
    """Rows are per ticket: the id of the ticket's stream."""
    return event.stream_id if event.aggregate is Ticket else None


def evolve(row: Row | None, event: Envelope) -> Row | None:
    """The row after `event`; events already applied (by position) change nothing. A ticket
    event this model does not show moves the version and `updated_at`; one before the ticket
    is opened is parked (LookupError)."""
    if key(event) is None:
        return row
    return fold_stream(row, event, ticket.Opened, _APPLIERS, latest="updated_at")


def blank(row: Row) -> Row:
    """The row once the ticket's customer is erased, as its events fold with their personal
    fields blank: no subject, description, reply body or rating comment."""
    satisfaction = row["satisfaction"]
    return row | {
        "subject": "",
        "description": None,
        "replies": [reply | {"body": None} for reply in row["replies"]],
        "satisfaction": satisfaction and satisfaction | {"comment": None},
    }


def _opened(_row: Row, event: Envelope) -> Row:
    data = event.data
    return {
        "ticket_id": event.stream_id,
        "customer_id": data["customer_id"],
        "kind": data["kind"],
        "subject": data["subject"],
        "description": data["personal"].get("description"),
        "priority": data["priority"],
        "channel": data["channel"],
        "order_ref": data.get("order_ref"),
        "status": TicketStatus.OPEN.value,
        "opened_at": event.occurred_at,
        "first_response_at": None,
        "solved_at": None,
        "closed_at": None,
        "reopened": 0,
        "replies": [],
        "satisfaction": None,
        "status_history": [_stay(TicketStatus.OPEN, event.occurred_at)],
    }


def _replied(row: Row, event: Envelope) -> Row:
    data, at = event.data, event.occurred_at
    reply = {
        "reply_id": data["reply_id"],
        "author": data["author"],
        "at": at.isoformat(),
        "body": data["personal"].get("body"),
    }
    return {
        "replies": [*row["replies"], reply],
        "first_response_at": first_response(row["first_response_at"], data["author"], at),
    }


def _status_changed(row: Row, event: Envelope) -> Row:
    status, at = TicketStatus(event.data["status"]), event.occurred_at
    reopens = row["status"] == TicketStatus.SOLVED and status != TicketStatus.CLOSED
    solved_at, closed_at = settlement(row["solved_at"], row["closed_at"], status, at)
    return {
        "status": status.value,
        "reopened": row["reopened"] + reopens,
        "status_history": [*row["status_history"], _stay(status, at)],
        "solved_at": solved_at,
        "closed_at": closed_at,
    }


def _satisfaction_rated(_row: Row, event: Envelope) -> Row:
    data = event.data
    rating = {
        "rating": data["rating"],
        "at": event.occurred_at.isoformat(),
        "comment": data["personal"].get("comment"),
    }
    return {"satisfaction": rating}


def _stay(status: TicketStatus, at: datetime) -> dict[str, str]:
    return {"status": status.value, "at": at.isoformat()}


_APPLIERS: Appliers = {
    ticket.Opened: _opened,
    ticket.Replied: _replied,
    ticket.StatusChanged: _status_changed,
    ticket.SatisfactionRated: _satisfaction_rated,
}
