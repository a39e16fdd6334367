"""Each buyer's churn risk as of an instant: the BG/NBD scores and purchase signals of the
day (`buyers`), the other signals of the instant (`facts`), combined by `risk.risk`.

Customers who have not bought by then are not assessed: the model starts at a first purchase.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from projections import cursor as cursor_codec
from projections.churn import facts
from projections.churn.buyers import Buyers, buyers
from projections.churn.histories import utc_day
from projections.churn.model import NotEnoughPurchases
from projections.churn.risk import Emails, Risk, Signals, risk

Position = tuple[float, str]
"""A place in the order of the list: minus the risk, then the customer id."""


@dataclass(frozen=True)
class Assessment:
    """A customer's signals, P(alive), expected purchases in the next 90 days, and risk."""

    customer_id: UUID
    signals: Signals
    p_alive: float
    next_90_days: float
    risk: Risk


@dataclass(frozen=True)
class Page:
    """A page of assessments, highest risk first, and the next page's cursor (or None)."""

    buyers: Buyers
    items: list[Assessment]
    next_cursor: str | None


def assess(conn: Connection[Any], at: datetime, customer: UUID | None = None) -> Page:
    """Every buyer's assessment as of `at` (only `customer`'s if given), highest risk first."""
    found = buyers(conn, utc_day(at))
    if customer is None:
        places = range(len(found))
    else:
        place = found.index(customer)
        places = range(0) if place is None else range(place, place + 1)
    complaints = facts.open_complaints(conn, at, customer)
    breaches = facts.sla_breaches(conn, at, customer)
    ratings = facts.low_ratings(conn, at, customer)
    emails = facts.emails(conn, at, customer)
    items = []
    for i in places:
        who = found.histories.customers[i]
        signals = replace(
            found.signals(i),
            open_complaints=complaints.get(who, 0),
            sla_breaches=breaches.get(who, 0),
            low_ratings=ratings.get(who, 0),
            emails=emails.get(who, Emails()),
        )
        p_alive = float(found.scores.p_alive[i])
        next_90 = float(found.scores.next_90_days[i])
        items.append(Assessment(who, signals, p_alive, next_90, risk(p_alive, signals.fired())))
    items.sort(key=_order)
    return Page(found, items, None)


def page(
    conn: Connection[Any], at: datetime, level: str | None, after: Position | None, limit: int
) -> Page:
    """A page of the buyers at `level` (any if None) as of `at`, after `after`."""
    everyone = assess(conn, at)
    chosen = [
        a
        for a in everyone.items
        if (level is None or a.risk.level == level) and (after is None or _order(a) > after)
    ]
    more = len(chosen) > limit
    items = chosen[:limit]
    last = items[-1] if items else None
    next_cursor = cursor_codec.encode(f"{last.risk.score!r}/{last.customer_id}") if more else None
    return Page(everyone.buyers, items, next_cursor)


def outlook(conn: Connection[Any], at: datetime, customer: UUID) -> dict[str, Any]:
    """The 360 view's `churn_risk` (the customer's assessment) and `lifetime_value` as of
    `at`: both None before their first purchase, or while no model can be fitted."""
    try:
        found = assess(conn, at, customer)
    except NotEnoughPurchases:
        found = None
    if not found or not found.items:
        return {"churn_risk": None, "lifetime_value": None}
    place = found.buyers.index(customer)
    return {
        "churn_risk": shown(found.items[0]) | {"as_of": at},
        "lifetime_value": found.buyers.lifetime_value(place),  # type: ignore[arg-type]
    }


def shown(assessment: Assessment) -> dict[str, Any]:
    """An assessment as the API answers it."""
    s, r = assessment.signals, assessment.risk
    ratio = s.overdue_ratio
    return {
        "customer_id": str(assessment.customer_id),
        "risk": round(r.score, 4),
        "level": r.level,
        "drivers": [{"signal": name, "share": round(share, 4)} for name, share in r.drivers],
        "p_alive": round(assessment.p_alive, 4),
        "expected_purchases_90_days": round(assessment.next_90_days, 3),
        "signals": {
            "recency_days": s.recency_days,
            "frequency": s.frequency,
            "monetary": {"total": s.monetary, "currency": s.currency},
            "rfm": dict(zip(("recency", "frequency", "monetary"), s.rfm, strict=True))
            | {"score": "".join(map(str, s.rfm))},
            "usual_gap_days": s.usual_gap_days,
            "overdue_ratio": None if ratio is None else round(ratio, 2),
            "open_complaints": s.open_complaints,
            "sla_breaches": s.sla_breaches,
            "low_ratings": s.low_ratings,
            "email_engagement": {
                "recent_sent": s.emails.recent_sent,
                "recent_opened": s.emails.recent_opened,
                "earlier_sent": s.emails.earlier_sent,
                "earlier_opened": s.emails.earlier_opened,
                "falling": s.emails.falling,
            },
            "fired": s.fired(),
        },
    }


def _order(assessment: Assessment) -> Position:
    return (-assessment.risk.score, str(assessment.customer_id))


def position(cursor: str) -> Position:
    """Where a page's cursor points; ValueError for a cursor that is not one of ours."""
    try:
        score, customer = cursor_codec.decode(cursor).split("/")
        return (-float(score), str(UUID(customer)))
    except ValueError:
        raise ValueError("invalid cursor") from None
