"""The BG/NBD model fitted on the purchases read model, as of a date."""

from dataclasses import asdict
from datetime import date
from typing import Any

from psycopg import Connection

from domain.errors import CrmError
from projections.churn.bgnbd import FitError, Model, fit
from projections.churn.histories import summarise
from projections.purchases.days import purchase_days


class NotEnoughPurchases(CrmError):
    """The purchases up to the as-of date cannot identify the model (no repeat purchase)."""

    rule = "not-enough-purchases"


def fitted(conn: Connection[Any], as_of: date) -> Model:
    """The model fitted by maximum likelihood on every customer's purchases up to `as_of`."""
    histories = summarise(purchase_days(conn, as_of), as_of)
    try:
        return fit(histories.x, histories.t_x, histories.T)
    except FitError as error:
        raise NotEnoughPurchases(f"no model as of {as_of}: {error}") from None


def shown(model: Model, as_of: date) -> dict[str, Any]:
    """The model as the API answers it (rates per week)."""
    return asdict(model) | {"as_of": as_of.isoformat()}
