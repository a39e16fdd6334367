"""Each buyer's churn risk as of an instant: the BG/NBD scores and purchase signals of the
day (`buyers`), the other signals of the instant (`facts`), combined by `risk`.

Every buyer is scored in arrays; only the customers a page shows become `Assessment`s.
Customers who have not bought by then are not assessed: the model starts at a first purchase.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import numpy as np
from numpy.typing import NDArray
from psycopg import Connection

from domain.churn.histories import utc_day
from domain.churn.model import NotEnoughPurchases
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
from projections.churn.buyers import Buyers, buyers

Position = tuple[float, str]
"""A place in the order of the list: minus the risk, then the customer id."""
EMAIL_COLUMNS = ("recent_sent", "recent_opened", "earlier_sent", "earlier_opened")
NO_OUTLOOK: dict[str, Any] = {"churn_risk": None, "lifetime_value": None}
"""The outlook of a customer who is not assessed."""


@dataclass(frozen=True, eq=False)
class Assessed:
    """The buyers at `places` (all, or one) with their evidence, the signals that fire,
    their risks and levels (arrays in the order of `places`)."""

    buyers: Buyers
    places: NDArray[np.int64]
    evidence: Evidence
    fired: Flags
    risks: Floats
    levels: NDArray[np.str_]


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


@dataclass(frozen=True)
class Page:
    """A page of assessments, highest risk first, and the next page's cursor (or None)."""

    buyers: Buyers
    items: list[Assessment]
    next_cursor: str | None


def assess(
    conn: Connection[Any], at: datetime, customer: UUID | None = None, reuse_seconds: float = 0
) -> Assessed:
    """Every buyer's risk as of `at` (only `customer`'s, if given); the buyers' purchase
    signals may be up to `reuse_seconds` old (`buyers`)."""
    found = buyers(conn, utc_day(at), reuse_seconds)
    if customer is None:
        places = np.arange(len(found))
    else:
        place = found.place(customer)
        places = np.array([] if place is None else [place], dtype=np.int64)
    who = [found.histories.customers[i] for i in places]
    evidence = Evidence(
        recency_score=found.rfm[places, 0],
        recency_days=found.recency_days[places],
        usual_gap_days=found.usual_gap_days[places],
        open_complaints=_counts(facts.open_complaints(conn, at, customer), who),
        low_ratings=_counts(facts.low_ratings(conn, at, customer), who),
        sla_breaches=_counts(facts.sla_breaches(conn, at, customer), who),
        emails=_email_counts(facts.emails(conn, at, customer), who),
    )
    fired = firing(evidence)
    scores = risks(found.scores.p_alive[places], fired)
    return Assessed(found, places, evidence, fired, scores, levels(scores))


def page(
    conn: Connection[Any],
    at: datetime,
    level: str | None,
    after: Position | None,
    limit: int,
    reuse_seconds: float = 0,
) -> Page:
    """A page of the buyers at `level` (any if None) as of `at`, after `after`."""
    assessed = assess(conn, at, reuse_seconds=reuse_seconds)
    order = np.lexsort((assessed.places, -assessed.risks))
    chosen = np.ones(len(order), dtype=bool)
    if level is not None:
        chosen &= assessed.levels[order] == level
    if after is not None:
        ids = np.array([str(c) for c in assessed.buyers.histories.customers])[order]
        minus = -assessed.risks[order]
        chosen &= (minus > after[0]) | ((minus == after[0]) & (ids > after[1]))
    shown = order[chosen][: limit + 1]
    items = [assessment(assessed, int(k)) for k in shown[:limit]]
    more = len(shown) > limit
    last = items[-1] if items else None
    next_cursor = cursor_codec.encode(f"{last.risk!r}/{last.customer_id}") if more else None
    return Page(assessed.buyers, items, next_cursor)


def outlook(
    conn: Connection[Any], at: datetime, customer: UUID, reuse_seconds: float = 0
) -> dict[str, Any]:
    """The 360 view's `churn_risk` (the customer's assessment) and `lifetime_value` as of
    `at`: both None before their first purchase, or while no model can be fitted."""
    try:
        assessed = assess(conn, at, customer, reuse_seconds)
    except NotEnoughPurchases:
        assessed = None
    if assessed is None or not len(assessed.places):
        return NO_OUTLOOK
    return {
        "churn_risk": shown(assessment(assessed, 0)) | {"as_of": at},
        "lifetime_value": assessed.buyers.lifetime_value(int(assessed.places[0])),
    }


def assessment(assessed: Assessed, k: int) -> Assessment:
    """The assessment of the `k`th customer assessed."""
    found, i, evidence = assessed.buyers, int(assessed.places[k]), assessed.evidence
    spend, rfm = found.spend[i], [int(score) for score in found.rfm[i]]
    gap, ratio = float(evidence.usual_gap_days[k]), float(overdue_ratio(evidence)[k])
    emails = dict(zip(EMAIL_COLUMNS, map(int, evidence.emails[k]), strict=True))
    p_alive, score = float(found.scores.p_alive[i]), float(assessed.risks[k])
    signals = {
        "recency_days": int(evidence.recency_days[k]),
        "frequency": int(found.histories.x[i]) + 1,
        "monetary": {"total": spend.total, "currency": spend.currency},
        "rfm": dict(zip(("recency", "frequency", "monetary"), rfm, strict=True))
        | {"score": "".join(map(str, rfm))},
        "usual_gap_days": None if np.isnan(gap) else gap,
        "overdue_ratio": None if np.isnan(ratio) else round(ratio, 2),
        "open_complaints": int(evidence.open_complaints[k]),
        "sla_breaches": int(evidence.sla_breaches[k]),
        "low_ratings": int(evidence.low_ratings[k]),
        "email_engagement": emails | {"falling": bool(falling(evidence.emails[k : k + 1])[0])},
        "fired": [name for name, on in zip(SIGNALS, assessed.fired[k], strict=True) if on],
    }
    return Assessment(
        customer_id=found.histories.customers[i],
        risk=score,
        level=str(assessed.levels[k]),
        drivers=drivers(p_alive, assessed.fired[k], score),
        p_alive=p_alive,
        next_90_days=float(found.scores.next_90_days[i]),
        signals=signals,
    )


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


def _counts(by_customer: dict[UUID, int], who: list[UUID]) -> NDArray[np.int64]:
    return np.array([by_customer.get(c, 0) for c in who], dtype=np.int64)


def _email_counts(by_customer: dict[UUID, tuple[int, ...]], who: list[UUID]) -> NDArray[np.int64]:
    counts = [by_customer.get(c, (0, 0, 0, 0)) for c in who]
    return np.array(counts, dtype=np.int64).reshape(len(who), len(EMAIL_COLUMNS))
