"""Each buyer's churn risk as of an instant: the BG/NBD scores and purchase signals of the
day (`Buyers`), the other signals of the instant (`facts`), combined by `risk`.

Every buyer is scored in arrays (`scored`); only the customers an answer shows become
`Assessment`s. Customers who have not bought by then are not assessed: the model starts at
a first purchase.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import numpy as np
from numpy.typing import NDArray
from psycopg import Connection

from domain.churn.risk import (
    SIGNALS,
    Evidence,
    Flags,
    Floats,
    drivers,
    falling,
    firing,
    levels,
    overdue_ratio,
    risks,
)
from infra import page_cursor as cursor_codec
from projections.churn import facts
from projections.churn.buyers import Buyers

Places = NDArray[np.signedinteger[Any]]
Position = tuple[float, str]
"""A place in the order of the list: minus the risk, then the customer id."""
RFM = ("recency", "frequency", "monetary")
EMAIL_COLUMNS = ("recent_sent", "recent_opened", "earlier_sent", "earlier_opened")
NO_OUTLOOK: dict[str, Any] = {"churn_risk": None, "lifetime_value": None}
"""The outlook of a customer who is not assessed."""


@dataclass(frozen=True, eq=False)
class Facts:
    """Per customer, in the order of some places: complaints open, low ratings, SLA
    breaches, and campaign emails (EMAIL_COLUMNS)."""

    open_complaints: NDArray[np.int32]
    low_ratings: NDArray[np.int32]
    sla_breaches: NDArray[np.int32]
    emails: NDArray[np.int32]

    def __getitem__(self, chosen: Places | slice) -> "Facts":
        return Facts(*(column[chosen] for column in vars(self).values()))


@dataclass(frozen=True)
class Assessment:
    """One customer's risk as the API shows it."""

    customer_id: UUID
    risk: float
    level: str
    drivers: tuple[tuple[str, float], ...]
    p_alive: float
    next_90_days: float
    signals: dict[str, Any]


def read_facts(conn: Connection[Any], found: Buyers, at: datetime, customer: UUID | None) -> Facts:
    """The facts as of `at` of every buyer in place order, or of `customer` alone."""
    ids = found.ids if customer is None else np.array([customer.bytes], dtype=found.ids.dtype)
    return Facts(
        _counts(ids, facts.open_complaints(conn, at, customer)),
        _counts(ids, facts.low_ratings(conn, at, customer)),
        _counts(ids, facts.sla_breaches(conn, at, customer)),
        _counts(ids, facts.emails(conn, at, customer), len(EMAIL_COLUMNS)),
    )


def evidence(found: Buyers, places: Places, known: Facts) -> Evidence:
    """The evidence of the buyers at `places`, whose facts are `known`."""
    return Evidence(
        recency_score=found.rfm[places, 0].astype(np.int64),
        recency_days=found.recency_days(places),
        usual_gap_days=found.usual_gap_days(places),
        open_complaints=known.open_complaints.astype(np.int64),
        low_ratings=known.low_ratings.astype(np.int64),
        sla_breaches=known.sla_breaches.astype(np.int64),
        emails=known.emails.astype(np.int64),
    )


def scored(found: Buyers, places: Places, known: Facts) -> tuple[Flags, Floats]:
    """Which signals fire for the buyers at `places`, and their risks."""
    fired = firing(evidence(found, places, known))
    return fired, risks(found.scores.p_alive[places], fired)


def outlook(conn: Connection[Any], found: Buyers, at: datetime, customer: UUID) -> dict[str, Any]:
    """The 360 view's `churn_risk` (the customer's assessment) and `lifetime_value` as of
    `at`, with the buyers of `at`'s day: both None before their first purchase."""
    place = found.place(customer)
    if place is None:
        return NO_OUTLOOK
    places, known = np.array([place]), read_facts(conn, found, at, customer)
    (one,) = assessments(found, places, known, scored(found, places, known)[1])
    return {
        "churn_risk": shown(one) | {"as_of": at},
        "lifetime_value": found.lifetime_value(place),
    }


def assessments(found: Buyers, places: Places, known: Facts, scores: Floats) -> list[Assessment]:
    """The assessments of the buyers at `places`, whose facts are `known` and risks `scores`."""
    seen = evidence(found, places, known)
    fired = firing(seen)
    columns = zip(
        places.tolist(), scores.tolist(), levels(scores).tolist(), fired,
        found.scores.p_alive[places].tolist(), found.scores.next_90_days[places].tolist(),
        _signals(found, places, seen, fired), strict=True,
    )  # fmt: skip
    return [
        Assessment(
            found.customer(i),
            score,
            level,
            drivers(p_alive, flags, score),
            p_alive,
            next_90_days,
            signals,
        )  # fmt: skip
        for i, score, level, flags, p_alive, next_90_days, signals in columns
    ]


def _signals(found: Buyers, places: Places, seen: Evidence, fired: Flags) -> list[dict[str, Any]]:
    """Each buyer's signals as the API shows them."""
    rows = zip(
        places.tolist(), seen.recency_days.tolist(), found.x[places].tolist(),
        found.rfm[places].tolist(), seen.usual_gap_days.tolist(), overdue_ratio(seen).tolist(),
        seen.open_complaints.tolist(), seen.sla_breaches.tolist(), seen.low_ratings.tolist(),
        seen.emails.tolist(), falling(seen.emails).tolist(), fired.tolist(), strict=True,
    )  # fmt: skip
    return [
        {
            "recency_days": recency,
            "frequency": repeats + 1,
            "monetary": found.spend(i),
            "rfm": dict(zip(RFM, rfm, strict=True)) | {"score": "".join(map(str, rfm))},
            "usual_gap_days": None if math.isnan(gap) else gap,
            "overdue_ratio": None if math.isnan(ratio) else round(ratio, 2),
            "open_complaints": complaints,
            "sla_breaches": breaches,
            "low_ratings": ratings,
            "email_engagement": dict(zip(EMAIL_COLUMNS, emails, strict=True)) | {"falling": down},
            "fired": [name for name, on in zip(SIGNALS, flags, strict=True) if on],
        }
        for i, recency, repeats, rfm, gap, ratio, complaints, breaches, ratings, emails, down, flags in rows  # fmt: skip
    ]


def shown(assessment: Assessment) -> dict[str, Any]:
    """An assessment as the API answers it."""
    return {
        "customer_id": str(assessment.customer_id),
        "risk": round(assessment.risk, 4),
        "level": assessment.level,
        "drivers": [{"signal": name, "share": round(s, 4)} for name, s in assessment.drivers],
        "p_alive": round(assessment.p_alive, 4),
        "expected_purchases_90_days": finite(assessment.next_90_days, 3),
        "signals": assessment.signals,
    }


def finite(value: float, digits: int) -> float | None:
    """`value` rounded, or None where the model gives no number (NaN or infinite)."""
    return round(value, digits) if np.isfinite(value) else None


def position(cursor: str) -> Position:
    """Where a page's cursor points; ValueError for a cursor that is not one of ours."""
    try:
        score, customer = cursor_codec.decode(cursor).split("/")
        return (-float(score), str(UUID(customer)))
    except ValueError:
        raise ValueError("invalid cursor") from None


def _counts(
    ids: NDArray[np.bytes_], by_customer: dict[UUID, Any], width: int = 0
) -> NDArray[np.int32]:
    """The counts of `by_customer` at `ids` (sorted), 0 where absent: one column, or `width`."""
    counts = np.zeros((len(ids), width) if width else len(ids), dtype=np.int32)
    if by_customer and len(ids):
        keys = np.array([c.bytes for c in by_customer], dtype=ids.dtype)
        at = np.minimum(np.searchsorted(ids, keys), len(ids) - 1)
        hit = ids[at] == keys
        counts[at[hit]] = np.array(list(by_customer.values()), dtype=np.int32)[hit]
    return counts
