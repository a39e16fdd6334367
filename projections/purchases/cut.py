"""A report's scope cut in two: whole UTC days, summed from the aggregates kept beside the
purchases table, and the days holding `as_of` and `as_of_recorded` (its edges), whose
purchases are read from the table itself, through its indexes. The two parts never
overlap, and together they are every purchase the scope counts.

`as_of` past every purchase's business time (or past the scope's last day), and
`as_of_recorded` past every recording, leave nothing out: they are dropped, and the
report costs no edge."""

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any

from psycopg import Connection, sql
from psycopg.pq import TransactionStatus

from projections.purchases.buyers import utc_day
from projections.purchases.scope import IN_RANGE, KNOWN, Scope

WHOLE_DAYS = (
    "occurred_on >= coalesce(%(first_day)s::date, '-infinity')"
    " AND occurred_on <= coalesce(%(last_day)s::date, 'infinity')"
    " AND occurred_on < coalesce(%(occurred_edge)s::date, 'infinity')"
    " AND recorded_on < coalesce(%(recorded_edge)s::date, 'infinity')"
)
"""The aggregate rows of whole days: in the scope's days, before both edges."""
OCCURRED_EDGE = (
    "occurred_at >= %(occurred_edge_at)s AND occurred_at < %(occurred_edge_at)s + interval '1 day'"
)
RECORDED_EDGE = (
    "recorded_at >= %(recorded_edge_at)s AND recorded_at < %(recorded_edge_at)s + interval '1 day'"
)
EDGES = f"SELECT * FROM purchases WHERE {KNOWN} AND {IN_RANGE} AND ({{on_edges}})"
"""The purchases in scope on the edges' days; `{on_edges}` is filled by `Cut.query` with
the edges there are, so that the planner reads them through the indexes, or not at all."""


@dataclass(frozen=True)
class Cut:
    """A scope (without the times that leave nothing out) and the UTC days of its edges."""

    scope: Scope
    occurred_edge: date | None
    recorded_edge: date | None

    def params(self) -> dict[str, Any]:
        """The parameters of KNOWN, IN_RANGE, WHOLE_DAYS and EDGES."""
        return self.scope.params() | {
            "first_day": self.scope.first,
            "last_day": self.scope.last,
            "occurred_edge": self.occurred_edge,
            "recorded_edge": self.recorded_edge,
            "occurred_edge_at": _midnight(self.occurred_edge),
            "recorded_edge_at": _midnight(self.recorded_edge),
        }

    def query(self, text: str, **parts: sql.Composable) -> sql.Composed:
        """The query `text` with `{on_edges}` (and the other `parts`) filled in."""
        edges = [
            edge
            for day, edge in (
                (self.occurred_edge, OCCURRED_EDGE),
                (self.recorded_edge, RECORDED_EDGE),
            )
            if day is not None
        ]
        on_edges = sql.SQL(" OR ".join(edges) or "false")
        return sql.SQL(text).format(on_edges=on_edges, **parts)

    def on_edge(self, occurred_at: datetime, recorded_at: datetime) -> bool:
        """Whether a time pair falls on an edge's day (the aggregates leave it out)."""
        return utc_day(occurred_at) == self.occurred_edge or utc_day(recorded_at) == (
            self.recorded_edge
        )

    def known(self, occurred_at: datetime, recorded_at: datetime) -> bool:
        """Whether a time pair is known in the scope."""
        scope = self.scope
        return (scope.as_of is None or occurred_at <= scope.as_of) and (
            scope.as_of_recorded is None or recorded_at <= scope.as_of_recorded
        )


def cut(conn: Connection[Any], scope: Scope) -> Cut:
    """The cut of `scope`, in a repeatable-read transaction when the caller has none open
    (the aggregates and the edges are then read from one snapshot)."""
    if conn.info.transaction_status is TransactionStatus.IDLE and not conn.autocommit:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    latest_occurred, latest_recorded = conn.execute(
        "SELECT max(occurred_at), max(recorded_at) FROM purchases"
    ).fetchone() or (None, None)
    as_of = scope.as_of
    if as_of and (
        latest_occurred is None
        or as_of >= latest_occurred
        or (scope.last is not None and utc_day(as_of) > scope.last)
    ):
        as_of = None
    recorded = scope.as_of_recorded
    if recorded and (latest_recorded is None or recorded >= latest_recorded):
        recorded = None
    kept = replace(scope, as_of=as_of, as_of_recorded=recorded)
    return Cut(kept, _day(as_of), _day(recorded))


def _day(moment: datetime | None) -> date | None:
    return utc_day(moment) if moment else None


def _midnight(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), UTC) if day else None
