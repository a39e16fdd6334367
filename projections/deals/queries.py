"""Questions answered by the deals read model."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.rows import dict_row

from projections.deals import history
from projections.deals.pipeline import Pipeline, report
from projections.projection import Row
from projections.settings.queries import pipeline_stages

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


@dataclass(frozen=True)
class PipelineQuery:
    """Which deals a pipeline report covers (an owner's; those opened in [opened_from,
    opened_to), business time), and as of which business and recorded times (None: now)."""

    owner: str | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    as_of: datetime | None = None
    as_of_recorded: datetime | None = None


PIPELINE_COLUMNS = (
    "stage, status, probability, amount, currency, expected_close_date, lost_reason,"
    " opened_at, stage_history, amount_history"
)


def pipeline(conn: Connection[Any], query: PipelineQuery) -> Pipeline:
    """The pipeline report of the deals the query covers, with the configured stages; as of
    a past time, each deal's row is read back to that time from its own histories."""
    rows = _covered(conn, query)
    if query.as_of is not None or query.as_of_recorded is not None:
        rows = [
            then
            for row in rows
            if (then := history.as_of(row, query.as_of, query.as_of_recorded)) is not None
        ]
    return report(rows, pipeline_stages(conn).stages)


def _covered(conn: Connection[Any], query: PipelineQuery) -> list[Row]:
    where, params = ["TRUE"], []
    for condition, value in (
        ("owner = %s", query.owner),
        ("opened_at >= %s", query.opened_from),
        ("opened_at < %s", query.opened_to),
        ("opened_at <= %s", query.as_of),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    sql = f"SELECT {PIPELINE_COLUMNS} FROM deals WHERE {' AND '.join(where)}"
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()  # type: ignore[arg-type]
