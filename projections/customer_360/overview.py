"""The customer overview: the 360 view with the customer's churn risk and lifetime value, as
`GET /v1/customers/{id}` answers it.

What it costs: the customer's row (one read by key; with `as_of` or `as_of_recorded`, their
events folded instead), then the churn outlook (`projections.churn.assessment.outlook`): a
few reads of the customer's complaints, ratings, SLA breaches and emails, and the buyers of
the day (`projections.churn.buyers.buyers`). Those are kept per database and day; computing
them again (every purchase read, the BG/NBD model fitted over every buyer) happens only after
the purchases changed, at most once per `reuse_seconds` (docs/decisions/0005-churn-refit-reuse.md).
"""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from infra.timeline import customer_events
from projections.churn import assessment
from projections.customer_360 import queries


def customer_overview(
    conn: Connection[Any],
    customer_id: UUID,
    as_of: datetime | None = None,
    as_of_recorded: datetime | None = None,
    reuse_seconds: float = 0,
) -> dict[str, Any] | None:
    """The customer's 360 view (None if there is no such customer then) with `churn_risk`
    and `lifetime_value` as of `as_of` (or now): as it stood at business time `as_of`, with
    only what had been recorded by `as_of_recorded` (None: no bound). With `as_of_recorded`
    both are null: the read models they come from know business time only."""
    if as_of is None and as_of_recorded is None:
        found = queries.get(conn, customer_id)
    else:
        found = queries.as_of(customer_events(conn, customer_id), as_of, as_of_recorded)
    if found is None:
        return None
    if as_of_recorded is not None:
        return found | assessment.NO_OUTLOOK
    at = (as_of or datetime.now(UTC)).astimezone(UTC)
    return found | assessment.outlook(conn, at, customer_id, reuse_seconds)
