"""Questions answered by the deals read model."""

from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.rows import dict_row

from projections.projection import Row

SHOWN = (
    "version", "customer_id", "title", "amount", "currency", "stage", "status", "probability",
    "expected_close_date", "owner", "lost_reason", "opened_at", "closed_at",
)  # fmt: skip
"""The columns a deal's view shows as they are."""


def deal(conn: Connection[Any], deal_id: UUID) -> dict[str, Any] | None:
    """The view of one deal, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM deals WHERE deal_id = %s", (deal_id,)).fetchone()
    return view(row) if row else None


def view(row: Row) -> dict[str, Any]:
    """A deal as the API shows it: its stage history without the times stays ended."""
    history = [
        {"stage": s["stage"], "probability": s["probability"], "entered_at": s["entered_at"]}
        for s in row["stage_history"]
    ]
    return {"id": row["deal_id"], **{column: row[column] for column in SHOWN}, "history": history}
