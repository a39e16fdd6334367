"""What the read models say of customers as of an instant, beyond their purchases: open
complaints, SLA breaches, low ratings and campaign email opens. Each reads business times
only, so a past instant gets the answer it would have got then. `customer` narrows a read
to one customer (None: every customer)."""

from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import numpy as np
from psycopg import Connection

from domain.business_time import micros
from domain.churn.risk import BREACH_DAYS, EMAIL_DAYS, RATINGS_DAYS
from projections.sla.measure import BREACHED, measure
from projections.sla.policies import policies
from projections.sla.ticket_clocks import ticket_run
from projections.sla.tickets import LONGEST_RUN

OPEN_COMPLAINTS = """
SELECT customer_id, count(*) FROM tickets AS t
WHERE kind = 'complaint' AND opened_at <= %(at)s
    AND (%(customer)s::uuid IS NULL OR customer_id = %(customer)s)
    AND (status IN ('open', 'pending') OR updated_at > %(at)s)
    AND (
        SELECT stay ->> 'status' FROM jsonb_array_elements(t.status_history)
            WITH ORDINALITY AS history(stay, n)
        WHERE (stay ->> 'at')::timestamptz <= %(at)s
        ORDER BY (stay ->> 'at')::timestamptz DESC, n DESC LIMIT 1
    ) IN ('open', 'pending')
GROUP BY customer_id
"""
"""A complaint's status at `at` is its latest status change by then (only tickets open now,
or changed since, can have been open then)."""

LOW_RATINGS = """
SELECT customer_id, count(*) FROM ratings
WHERE rating <= 2 AND rated_at > %(since)s AND rated_at <= %(at)s
    AND (%(customer)s::uuid IS NULL OR customer_id = %(customer)s)
GROUP BY customer_id
"""

EMAILS = """
SELECT customer_id,
    count(*) FILTER (WHERE sent_at > %(middle)s),
    count(*) FILTER (WHERE sent_at > %(middle)s AND first_opened_at <= %(at)s),
    count(*) FILTER (WHERE sent_at <= %(middle)s),
    count(*) FILTER (WHERE sent_at <= %(middle)s AND first_opened_at <= %(at)s)
FROM campaign_recipients
WHERE sent AND sent_at > %(since)s AND sent_at <= %(at)s
    AND (%(customer)s::uuid IS NULL OR customer_id = %(customer)s)
GROUP BY customer_id
"""


def open_complaints(conn: Connection[Any], at: datetime, customer: UUID | None) -> dict[UUID, int]:
    """Complaints open or pending at `at`, by customer."""
    return dict(conn.execute(OPEN_COMPLAINTS, {"at": at, "customer": customer}).fetchall())  # type: ignore[arg-type]


def low_ratings(conn: Connection[Any], at: datetime, customer: UUID | None) -> dict[UUID, int]:
    """Ratings of 1 or 2 given in the RATINGS_DAYS up to `at`, by customer."""
    since = at - timedelta(days=RATINGS_DAYS)
    params = {"at": at, "since": since, "customer": customer}
    return dict(conn.execute(LOW_RATINGS, params).fetchall())  # type: ignore[arg-type]


def emails(
    conn: Connection[Any], at: datetime, customer: UUID | None
) -> dict[UUID, tuple[int, int, int, int]]:
    """Campaign emails sent in the last EMAIL_DAYS up to `at` and opened by `at`, then the
    same of the EMAIL_DAYS before, by customer."""
    middle = at - timedelta(days=EMAIL_DAYS)
    params = {"at": at, "middle": middle, "since": middle - timedelta(days=EMAIL_DAYS)}
    rows = conn.execute(EMAILS, params | {"customer": customer}).fetchall()
    return {row[0]: row[1:] for row in rows}


def sla_breaches(conn: Connection[Any], at: datetime, customer: UUID | None) -> dict[UUID, int]:
    """Tickets opened in the BREACH_DAYS up to `at` that are past an SLA target at `at`
    (measured as `GET /v1/sla/tickets` measures them), by customer."""
    known = policies(conn)
    instant, since = micros(at), micros(at - timedelta(days=BREACH_DAYS))
    breached: Counter[UUID] = Counter()
    after = None
    while known:
        run = ticket_run(conn, known, None, instant, after, LONGEST_RUN, since, customer=customer)
        measured = measure(run.clocks, known, instant) if len(run) else None
        if measured is not None:
            states = (measured.first_response.state, measured.resolution.state)
            past = (measured.version > 0) & ((states[0] == BREACHED) | (states[1] == BREACHED))
            breached.update(run.customer_id(int(i)) for i in np.flatnonzero(past))
        if len(run) < LONGEST_RUN:
            break
        after = run.ticket_id(len(run) - 1)
    return dict(breached)
