"""The BG/NBD model fitted on customers' histories as of a date, as the API shows it."""

from dataclasses import asdict
from datetime import date
from typing import Any

from numpy.typing import ArrayLike

from domain.churn.bgnbd import FitError, Model, fit
from domain.errors import CrmError


class NotEnoughPurchases(CrmError):
    """The purchases up to the as-of date cannot identify the model (no repeat purchase)."""

    rule = "not-enough-purchases"


def fit_histories(x: ArrayLike, t_x: ArrayLike, T: ArrayLike, as_of: date) -> Model:
    """The model fitted by maximum likelihood on the histories (x, t_x, T) as of `as_of`."""
    try:
        return fit(x, t_x, T)
    except FitError as error:
        raise NotEnoughPurchases(f"no model as of {as_of}: {error}") from None


def shown(model: Model, as_of: date) -> dict[str, Any]:
    """The model as the API answers it (rates per week)."""
    return asdict(model) | {"as_of": as_of.isoformat()}
