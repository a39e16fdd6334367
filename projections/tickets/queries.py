"""Questions answered by the tickets read model."""

from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.rows import dict_row

from projections.projection import Row

SHOWN = (
    "customer_id", "version", "kind", "subject", "description", "priority", "channel",
    "order_ref", "status", "opened_at", "updated_at", "first_response_at", "solved_at",
    "closed_at", "reopened", "replies", "satisfaction",
)  # fmt: skip
"""The columns a ticket's view shows as they are."""


def ticket(conn: Connection[Any], ticket_id: UUID) -> dict[str, Any] | None:
    """The view of one ticket, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM tickets WHERE ticket_id = %s", (ticket_id,)).fetchone()
    return view(row) if row else None


def view(row: Row) -> dict[str, Any]:
    """A ticket as the API shows it; `first_response_seconds` is the business time from
    opening to the first agent reply."""
    first = row["first_response_at"]
    return {
        "id": row["ticket_id"],
        **{column: row[column] for column in SHOWN},
        "first_response_seconds": (first - row["opened_at"]).total_seconds() if first else None,
    }
