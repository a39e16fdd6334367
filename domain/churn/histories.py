"""Each customer's purchase history as the BG/NBD model sees it: (x, t_x, T) as of a date."""

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

K = TypeVar("K", bound=Hashable)
WEEK = 7
"""Days in a week: (x, t_x, T) are in weeks."""


@dataclass(frozen=True, eq=False)
class Histories(Generic[K]):
    """Customers, in the order given, with x (repeat purchase days), t_x (weeks from the first
    purchase day to the last) and T (weeks from the first purchase day to the as-of date)."""

    customers: tuple[K, ...]
    x: NDArray[np.int64]
    t_x: NDArray[np.float64]
    T: NDArray[np.float64]


def utc_day(moment: datetime) -> date:
    """The UTC date of an aware time (a naive time has none: ValueError)."""
    if moment.utcoffset() is None:
        raise ValueError(f"a time without a UTC offset has no UTC date: {moment.isoformat()}")
    return moment.astimezone(UTC).date()


def summarise(purchases: Mapping[K, Iterable[date]], as_of: date) -> Histories[K]:
    """The histories as of `as_of` of customers given their purchase days (UTC dates, see
    `utc_day`). Several purchases on one day count once; days after `as_of` are ignored, and
    customers with none before or on it are left out."""
    customers: list[K] = []
    x: list[int] = []
    t_x: list[int] = []
    T: list[int] = []
    for customer, days in purchases.items():
        seen = {day for day in days if day <= as_of}
        if seen:
            first = min(seen)
            customers.append(customer)
            x.append(len(seen) - 1)
            t_x.append((max(seen) - first).days)
            T.append((as_of - first).days)
    return Histories(
        tuple(customers),
        np.array(x, dtype=np.int64),
        np.array(t_x, dtype=np.float64) / WEEK,
        np.array(T, dtype=np.float64) / WEEK,
    )
