"""Every customer who bought by a day, as the purchases read model shows them: their BG/NBD
scores under the model fitted that day, recency, frequency and monetary (RFM) with their
scores, usual gap between purchase days, and lifetime value.

All of it depends only on the day and the purchases table, so it is kept per database and
day (`buyers`): a page of the churn list or a 360 view costs no new fit until purchases
change.
"""

import math
import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any
from uuid import UUID
from weakref import WeakValueDictionary

import numpy as np
from numpy.typing import NDArray
from psycopg import Connection

from domain.churn.bgnbd import Model, Scores, score
from domain.churn.histories import WEEK, Histories, summarise
from domain.churn.model import fit_histories
from domain.churn.risk import fifths
from infra.metrics import CHURN_FITS

CENT = Decimal("0.01")
KEPT = 4
"""For how many databases and days buyers are kept."""

PURCHASES = """
SELECT customer_id, occurred_on, currency, total FROM purchases
WHERE occurred_on <= %s ORDER BY customer_id, last_position
"""


@dataclass(frozen=True)
class _Spend:
    """A customer's orders and spend in their main currency (that of their first recorded
    purchase, as in the 360 view)."""

    currency: str
    orders: int
    total: Decimal


@dataclass(frozen=True, eq=False)
class Buyers:
    """The customers who bought on or before `day`, in customer-id order, with their
    histories, scores under the model, and purchase signals (arrays in that order)."""

    day: date
    model: Model
    histories: Histories[UUID]
    scores: Scores
    spend: tuple[_Spend, ...]
    rfm: NDArray[np.int64]
    """Per customer, the recency, frequency and monetary scores (columns)."""

    def __post_init__(self) -> None:
        places = {c: i for i, c in enumerate(self.histories.customers)}
        object.__setattr__(self, "_places", places)

    def __len__(self) -> int:
        return len(self.histories.customers)

    def place(self, customer: UUID) -> int | None:
        """The customer's place, or None if they had not bought by the day."""
        return self._places.get(customer)  # type: ignore[attr-defined,no-any-return]

    @cached_property
    def recency_days(self) -> NDArray[np.int64]:
        """Days from each customer's last purchase day to the day."""
        return np.rint((self.histories.T - self.histories.t_x) * WEEK).astype(np.int64)

    @cached_property
    def usual_gap_days(self) -> NDArray[np.float64]:
        """Mean days between each customer's purchase days (NaN after one day only)."""
        x = self.histories.x
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, np.round(self.histories.t_x * WEEK / x, 1), np.nan)

    def lifetime_value(self, i: int) -> dict[str, Any]:
        """Expected purchases in the next 12 months (52 weeks) times the average order value
        in the customer's main currency; `value` and `expected_purchases_12_months` are None
        where the model gives no number."""
        spend, expected = self.spend[i], float(self.scores.next_52_weeks[i])
        average = (spend.total / spend.orders).quantize(CENT)
        known = math.isfinite(expected)
        return {
            "value": (Decimal(expected) * average).quantize(CENT) if known else None,
            "currency": spend.currency,
            "expected_purchases_12_months": round(expected, 3) if known else None,
            "average_order_value": average,
        }


Database = tuple[str, int, str]
"""A database as a connection names it: host, port and name."""
Key = tuple[Database, date]


@dataclass(frozen=True, eq=False)
class _Kept:
    """Buyers as computed from the purchases table with `contents` (its row count and highest
    position), and when they were last found current (monotonic seconds)."""

    contents: tuple[int, int]
    checked_at: float
    buyers: Buyers


class _Gate:
    """Lets one thread at a time check or compute the buyers of one database and day."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


_kept: OrderedDict[Key, _Kept] = OrderedDict()
"""The buyers of the last KEPT databases and days used."""
_keeping = threading.Lock()
_gates: WeakValueDictionary[Key, _Gate] = WeakValueDictionary()


def buyers(conn: Connection[Any], day: date, reuse_seconds: float = 0) -> Buyers:
    """The buyers of `conn`'s database as of `day`; raises NotEnoughPurchases when the model
    cannot be fitted.

    This is the expensive step of every churn answer: computing them reads every purchase
    up to `day` and fits the BG/NBD model over every buyer. So they are kept per database
    and day, and computed again only when the purchases table has changed (its row count or
    highest position), which is looked at most once per `reuse_seconds`; concurrent readers
    wait for one computation instead of each running their own
    (docs/decisions/0005-churn-refit-reuse.md)."""
    key, arrived = (_database(conn), day), time.monotonic()
    with _keeping:
        kept = _kept.get(key)
        if kept and arrived - kept.checked_at < reuse_seconds:
            return kept.buyers
        gate = _gates.setdefault(key, _Gate())
    with gate.lock:
        kept = _kept.get(key)
        if kept and kept.checked_at >= arrived:  # found current while this thread waited
            return kept.buyers
        count, last = conn.execute("SELECT count(*), max(last_position) FROM purchases").fetchone()  # type: ignore[misc]
        contents = (count, last or 0)
        found = kept.buyers if kept and kept.contents == contents else _fitted(conn, day)
        _keep(key, _Kept(contents, time.monotonic(), found))
    return found


def _database(conn: Connection[Any]) -> Database:
    info = conn.info
    return (info.host, info.port, info.dbname)


def _keep(key: Key, kept: _Kept) -> None:
    with _keeping:
        _kept[key] = kept
        _kept.move_to_end(key)
        while len(_kept) > KEPT:
            _kept.popitem(last=False)


def _fitted(conn: Connection[Any], day: date) -> Buyers:
    """The buyers computed afresh, timed (`crm_churn_fit_seconds`)."""
    with CHURN_FITS.time():
        return _computed(conn, day)


def _computed(conn: Connection[Any], day: date) -> Buyers:
    days: defaultdict[UUID, list[date]] = defaultdict(list)
    spend: dict[UUID, _Spend] = {}
    for customer, on, currency, total in conn.execute(PURCHASES, (day,)):
        days[customer].append(on)
        was = spend.get(customer) or _Spend(currency, 0, Decimal(0))
        if currency == was.currency:
            spend[customer] = _Spend(currency, was.orders + 1, was.total + total)
    histories = summarise(days, day)
    model = fit_histories(histories, day)
    spent = tuple(spend[c] for c in histories.customers)
    return Buyers(
        day, model, histories, score(model, histories.x, histories.t_x, histories.T), spent,
        _rfm(histories, spent),
    )  # fmt: skip


def _rfm(histories: Histories[UUID], spend: tuple[_Spend, ...]) -> NDArray[np.int64]:
    """Recency (days since the last purchase day, fewer is better), frequency (purchase
    days) and monetary (spend, against buyers in the same currency) scores."""
    recency = (histories.T - histories.t_x) * WEEK
    frequency = histories.x.astype(np.float64)
    scores = np.ones((len(spend), 3), dtype=np.int64)
    if not spend:
        return scores
    scores[:, 0] = fifths(recency, np.sort(recency), higher_is_better=False)
    scores[:, 1] = fifths(frequency, np.sort(frequency), higher_is_better=True)
    totals = np.array([float(s.total) for s in spend])
    currencies = np.array([s.currency for s in spend])
    for currency in np.unique(currencies):
        same = currencies == currency
        scores[same, 2] = fifths(totals[same], np.sort(totals[same]), higher_is_better=True)
    return scores
