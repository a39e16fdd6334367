"""The customer overview: the 360 view with the customer's churn risk and lifetime value, as
`GET /v1/customers/{id}` answers it.

What it costs: the customer's row (one read by key; with `as_of` or `as_of_recorded`, their
events folded instead), then the churn outlook (`projections.churn.assessment.outlook`): a
few reads of the customer's complaints, ratings, SLA breaches and emails, and the buyers of
the day as `churn` keeps them. A fit kept is served even while a newer one is computed in
the background; only a day never fitted before waits for its first fit
(docs/decisions/0015-churn-fits-off-the-request-path.md).
"""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.churn.model import NotEnoughPurchases
from infra.timeline import customer_events
from projections.churn import assessment
from projections.churn.models import ChurnModels
from projections.customer_360 import queries


def customer_overview(
    conn: Connection[Any],
    customer_id: UUID,
    churn: ChurnModels,
    as_of: datetime | None = None,
    as_of_recorded: datetime | None = None,
) -> dict[str, Any] | None:
    """The customer's 360 view (None if there is no such customer then) with `churn_risk`
    and `lifetime_value` as of `as_of` (or now, as `churn.current` says): as it stood at
    business time `as_of`, with only what had been recorded by `as_of_recorded` (None: no
    bound). With `as_of_recorded` both are null: the read models they come from know
    business time only."""
    if as_of is None and as_of_recorded is None:
        found = queries.get(conn, customer_id)
    else:
        found = queries.as_of(customer_events(conn, customer_id), as_of, as_of_recorded)
    if found is None:
        return None
    if as_of_recorded is not None:
        return found | assessment.NO_OUTLOOK
    return found | _outlook(conn, churn, customer_id, as_of)


def _outlook(
    conn: Connection[Any], churn: ChurnModels, customer_id: UUID, as_of: datetime | None
) -> dict[str, Any]:
    """The customer's churn outlook with the fit kept for `as_of`'s day (or for now)."""
    try:
        if as_of is None:
            buyers, at = churn.current()
        else:
            at = as_of.astimezone(UTC)
            buyers = churn.fit(at.date())
    except NotEnoughPurchases:
        return assessment.NO_OUTLOOK
    return assessment.outlook(conn, buyers, at, customer_id)
