"""Every customer who bought by a day, as the purchases read model shows them: their BG/NBD
scores under the model fitted that day, recency, frequency and monetary (RFM) scores, and
what they spent in their main currency (that of their first recorded purchase, as in the
360 view).

All in arrays in customer-id order, no object per customer: PostgreSQL sums each buyer's
purchases up (`read_buyers`), in binary, and only the customers an answer shows become
Python objects. Computing them is the expensive step of every churn answer; `models`
keeps them (docs/decisions/0015-churn-fits-off-the-request-path.md).
"""

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import numpy as np
from numpy.typing import NDArray
from psycopg import Connection

from domain.churn.bgnbd import Model, Scores, score
from domain.churn.histories import WEEK
from domain.churn.model import fit_histories
from domain.churn.risk import fifths
from infra.metrics import CHURN_FITS

CENT = Decimal("0.01")
SPEND_PLACES = 4
"""Spend is kept in integers of 10^-4: every order total has at most 4 decimal places."""

SPEND = """
COPY (
    WITH bought AS (
        SELECT customer_id, occurred_on, currency, total,
            first_value(currency) OVER (PARTITION BY customer_id ORDER BY last_position) AS main
        FROM purchases WHERE occurred_on <= %(day)s
    )
    SELECT customer_id,
        (count(DISTINCT occurred_on) - 1)::int4,
        (max(occurred_on) - min(occurred_on))::int4,
        (%(day)s::date - min(occurred_on))::int4,
        min(main)::char(3),
        (count(*) FILTER (WHERE currency = main))::int4,
        (sum(total) FILTER (WHERE currency = main) * %(scale)s)::int8,
        (max(scale(total)) FILTER (WHERE currency = main))::int2
    FROM bought GROUP BY customer_id ORDER BY customer_id
) TO STDOUT (FORMAT binary)
"""
"""Per buyer: repeat purchase days, days from the first purchase day to the last and to the
day, main currency (ISO 4217: three letters), orders, spend and its decimal places in it."""

COPY_SIGNATURE, COPY_END = b"PGCOPY\n\xff\r\n\x00", b"\xff\xff"
FIELDS = {"id": "S16", "x": ">i4", "t_x": ">i4", "T": ">i4", "currency": "S3", "orders": ">i4",
          "spent": ">i8", "scale": ">i2"}  # fmt: skip
ROW = np.dtype(
    [("fields", ">i2")]
    + [field for name, kind in FIELDS.items() for field in ((f"{name}_size", ">i4"), (name, kind))]
)
"""One row of SPEND in PostgreSQL's binary COPY format: its field count, then each field's
size and value (big-endian)."""


@dataclass(frozen=True, eq=False)
class Buyers:
    """The customers who bought on or before `day` (`ids`: their UUIDs' bytes, sorted), with
    x (repeat purchase days), t_x and T (days from the first purchase day to the last and to
    `day`), their scores under the model, RFM scores (columns), and, in their main currency
    (`currencies[currency]`), their orders and spend (`spent` in 10^-4, with `places`)."""

    day: date
    model: Model
    ids: NDArray[np.bytes_]
    x: NDArray[np.int32]
    t_x: NDArray[np.int32]
    T: NDArray[np.int32]
    scores: Scores
    rfm: NDArray[np.int8]
    currencies: tuple[str, ...]
    currency: NDArray[np.intp]
    orders: NDArray[np.int32]
    spent: NDArray[np.int64]
    places: NDArray[np.int16]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """The memory its arrays take."""
        arrays = (self.ids, self.x, self.t_x, self.T, self.rfm, self.currency, self.orders,
                  self.spent, self.places, *vars(self.scores).values())  # fmt: skip
        return sum(a.nbytes for a in arrays)

    def place(self, customer: UUID) -> int | None:
        """The customer's place, or None if they had not bought by the day."""
        key = np.array(customer.bytes, dtype=self.ids.dtype)
        i = int(np.searchsorted(self.ids, key))
        return i if i < len(self.ids) and self.ids[i : i + 1] == key else None

    def customer(self, i: int) -> UUID:
        """The customer at place `i`."""
        return UUID(bytes=bytes(self.ids[i]).ljust(16, b"\0"))

    def recency_days(self, places: NDArray[np.intp]) -> NDArray[np.int64]:
        """Days from each customer's last purchase day to the day."""
        return (self.T[places] - self.t_x[places]).astype(np.int64)

    def usual_gap_days(self, places: NDArray[np.intp]) -> NDArray[np.float64]:
        """Mean days between each customer's purchase days (NaN after one day only)."""
        x = self.x[places]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, np.round(self.t_x[places] / x, 1), np.nan)

    def spend(self, i: int) -> dict[str, Any]:
        """What customer `i` spent in their main currency, exactly."""
        total = Decimal(int(self.spent[i])).scaleb(-SPEND_PLACES)
        exact = total.quantize(Decimal(1).scaleb(-int(self.places[i])))
        return {"total": exact, "currency": self.currencies[self.currency[i]]}

    def lifetime_value(self, i: int) -> dict[str, Any]:
        """Expected purchases in the next 12 months (52 weeks) times the average order value
        in the customer's main currency; `value` and `expected_purchases_12_months` are None
        where the model gives no number."""
        spend, expected = self.spend(i), float(self.scores.next_52_weeks[i])
        average = (spend["total"] / int(self.orders[i])).quantize(CENT)
        known = math.isfinite(expected)
        return {
            "value": (Decimal(expected) * average).quantize(CENT) if known else None,
            "currency": spend["currency"],
            "expected_purchases_12_months": round(expected, 3) if known else None,
            "average_order_value": average,
        }


def read_buyers(conn: Connection[Any], day: date) -> Buyers:
    """The buyers of `conn`'s database as of `day`, the model fitted on them, timed
    (`crm_churn_fit_seconds`); raises NotEnoughPurchases when the model cannot be fitted."""
    with CHURN_FITS.time():
        rows = _rows(conn, day)
        x, t_x, T = (rows[name].astype(np.int32) for name in ("x", "t_x", "T"))
        model = fit_histories(x, t_x / WEEK, T / WEEK, day)
        codes, currency = np.unique(rows["currency"], return_inverse=True)
        spent = rows["spent"].astype(np.int64)
        return Buyers(
            day, model, rows["id"].copy(), x, t_x, T, score(model, x, t_x / WEEK, T / WEEK),
            _rfm(T - t_x, x, spent, currency), tuple(c.decode().strip() for c in codes),
            currency, rows["orders"].astype(np.int32), spent, rows["scale"].astype(np.int16),
        )  # fmt: skip


def _rows(conn: Connection[Any], day: date) -> NDArray[np.void]:
    """SPEND's rows, checked to be of ROW's layout."""
    data = bytearray()
    with conn.cursor().copy(SPEND, {"day": day, "scale": 10**SPEND_PLACES}) as copy:
        for chunk in copy:
            data += chunk
    extension = int.from_bytes(data[15:19], "big")
    if not data.startswith(COPY_SIGNATURE) or not data.endswith(COPY_END):
        raise ValueError("not a binary COPY")
    rows = np.frombuffer(memoryview(data)[19 + extension : -len(COPY_END)], dtype=ROW)
    if (rows["fields"] != len(FIELDS)).any() or any(
        (rows[f"{name}_size"] != np.dtype(kind).itemsize).any() for name, kind in FIELDS.items()
    ):
        raise ValueError("a buyer's row is not of the expected layout")
    return rows


def _rfm(
    recency: NDArray[np.int32],
    frequency: NDArray[np.int32],
    spent: NDArray[np.int64],
    currency: NDArray[np.intp],
) -> NDArray[np.int8]:
    """Recency (days since the last purchase day, fewer is better), frequency (purchase
    days) and monetary (spend, against buyers in the same currency) scores."""
    scores = np.ones((len(spent), 3), dtype=np.int8)
    for column, counts, higher in ((0, recency, False), (1, frequency, True)):
        values = counts.astype(np.float64)
        scores[:, column] = fifths(values, np.sort(values), higher_is_better=higher)
    totals = spent.astype(np.float64)
    for code in np.unique(currency):
        same = currency == code
        scores[same, 2] = fifths(totals[same], np.sort(totals[same]), higher_is_better=True)
    return scores
