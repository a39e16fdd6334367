"""Questions answered by the leads read model."""

from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.rows import dict_row

from projections.projection import Row


def get(conn: Connection[Any], lead_id: UUID) -> dict[str, Any] | None:
    """The view of one lead, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM leads WHERE lead_id = %s", (lead_id,)).fetchone()
    return view(row) if row else None


def open_leads_with_email(conn: Connection[Any], email: str) -> list[UUID]:
    """The leads with this email (case-insensitive) that are neither converted nor
    disqualified, oldest first."""
    rows = conn.execute(
        "SELECT lead_id FROM leads WHERE lower(email) = lower(%s)"
        " AND status NOT IN ('converted', 'disqualified') ORDER BY captured_at, lead_id",
        (email,),
    ).fetchall()
    return [lead_id for (lead_id,) in rows]


def view(row: Row) -> dict[str, Any]:
    """A lead as the API shows it, with the points each rule gave."""
    return {
        "id": str(row["lead_id"]),
        "version": row["version"],
        "status": row["status"],
        "name": row["name"],
        "email": row["email"],
        "company": row["company"],
        "source": row["source"],
        "attributes": row["attributes"],
        "owner_id": row["owner_id"],
        "duplicate_of": row["duplicate_of"],
        "score": {
            "points": row["score"],
            "rules_version": row["score_rules_version"],
            "explanation": row["score_explanation"],
        },
        "engagement": row["engagement"],
        "disqualified_reason": row["disqualified_reason"],
        "customer_id": row["customer_id"],
        "deal_id": row["deal_id"],
        "captured_at": row["captured_at"],
    }
