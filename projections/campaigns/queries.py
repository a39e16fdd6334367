"""Questions answered by the campaigns read model."""

from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.rows import dict_row

from domain.campaign import Audience
from projections.projection import Row


def get(conn: Connection[Any], campaign_id: UUID) -> dict[str, Any] | None:
    """The view of one campaign, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM campaigns WHERE campaign_id = %s", (campaign_id,)
        ).fetchone()
    return view(row) if row else None


def view(row: Row) -> dict[str, Any]:
    """A campaign as the API shows it: the audience without its unset criteria, and the
    counts once it is sent."""
    audience = Audience.model_validate(row["audience"])
    shown = {
        "id": str(row["campaign_id"]),
        "version": row["version"],
        "name": row["name"],
        "subject": row["subject"],
        "body_html": row["body_html"],
        "audience": audience.model_dump(mode="json", exclude_none=True),
        "status": row["status"],
    }
    if row["status"] == "sent":
        shown |= {"sent": row["sent"], "suppressed": row["suppressed"]}
    return shown
