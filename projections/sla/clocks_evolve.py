"""Pure `(row, event) -> row` functions of the `sla_clocks` read model.

A row is what the SLA of one ticket is measured from, folded from the ticket's events: its
priority, status, first agent reply, and every status it had with its business time, packed
as `changes` (see `clocks_table`) so that the SLA query reads many tickets in one value; and
the targets whose breach the ticket recorded (`breaches`).
No wall clock: a rebuild equals the live table.
"""

import struct
from datetime import datetime

from domain.business_time import micros
from domain.events.envelope import Envelope
from domain.events.payloads import ticket
from domain.ticket import Ticket, TicketStatus, first_response
from projections.projection import Appliers, Row, fold_stream

CHANGE = struct.Struct(">qh")
"""A packed status change: its business time (µs since 1970-01-01 UTC), its status's index
in `TicketStatus` (open, pending, solved, closed)."""
STATUSES = tuple(TicketStatus)


def key(event: Envelope) -> str | None:
    """Rows are per ticket."""
    return event.stream_id if event.aggregate is Ticket else None


def evolve(row: Row | None, event: Envelope) -> Row | None:
    """The row after `event`; events already applied (by position) change nothing; a ticket
    event that is no status change or reply moves only the version and `updated_at`; one
    before the ticket is opened is parked (LookupError)."""
    if key(event) is None:
        return row
    return fold_stream(row, event, ticket.Opened, _APPLIERS, latest="updated_at")


def packed(status: TicketStatus, at: datetime) -> bytes:
    """One status change, packed."""
    return CHANGE.pack(micros(at), STATUSES.index(status))


def _opened(_row: Row, event: Envelope) -> Row:
    return {
        "ticket_id": event.stream_id,
        "customer_id": event.data["customer_id"],
        "priority": event.data["priority"],
        "status": TicketStatus.OPEN.value,
        "opened_at": event.occurred_at,
        "first_response_at": None,
        "changes": packed(TicketStatus.OPEN, event.occurred_at),
        "breaches": [],
    }


def _replied(row: Row, event: Envelope) -> Row:
    first = row["first_response_at"]
    return {"first_response_at": first_response(first, event.data["author"], event.occurred_at)}


def _status_changed(row: Row, event: Envelope) -> Row:
    status = TicketStatus(event.data["status"])
    return {"status": status.value, "changes": row["changes"] + packed(status, event.occurred_at)}


def _sla_breached(row: Row, event: Envelope) -> Row:
    return {"breaches": sorted({*row["breaches"], event.data["target"]})}


_APPLIERS: Appliers = {
    ticket.Opened: _opened,
    ticket.Replied: _replied,
    ticket.StatusChanged: _status_changed,
    ticket.SlaBreached: _sla_breached,
}
