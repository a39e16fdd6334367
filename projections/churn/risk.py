"""Churn risk: the BG/NBD model's P(alive) combined with what else a CRM sees of a customer.

Each signal that fires multiplies the chance the customer stays by `1 - weight` (a
noisy-OR): `risk = 1 - P(alive) * prod(1 - weight)`. The weights are judgement, not fitted:
each says how much that signal alone is taken to raise the risk. The drivers share the risk
out in proportion to `-ln(1 - weight)` (and `-ln P(alive)` for the model's part), so they
add up to the risk, whatever order the signals are listed in.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from numpy.typing import ArrayLike, NDArray

WEIGHTS = {
    "lapsing": 0.3,
    "overdue": 0.3,
    "open_complaints": 0.25,
    "low_ratings": 0.25,
    "sla_breaches": 0.2,
    "falling_engagement": 0.15,
}
"""lapsing: recency score 1 (among the fifth of buyers longest without a purchase, by
percentile rank);
overdue: days since the last purchase at least OVERDUE times the customer's usual gap;
open_complaints: a complaint open or pending; low_ratings: a rating of 1 or 2 in the last
RATINGS_DAYS; sla_breaches: a ticket opened in the last BREACH_DAYS past an SLA target;
falling_engagement: the share of campaign emails opened at most halved between the previous
EMAIL_DAYS and the last (with at least MIN_EMAILS sent in each)."""
NOT_ALIVE = "not_alive"
"""The driver that stands for the model's 1 - P(alive)."""
OVERDUE = 2.0
RATINGS_DAYS = 180
BREACH_DAYS = 90
EMAIL_DAYS = 90
MIN_EMAILS = 2
LEVELS = (("high", 0.6), ("medium", 0.3), ("low", 0.0))
"""Each level and the lowest risk in it."""
SMALLEST_P_ALIVE = 1e-12


@dataclass(frozen=True)
class Emails:
    """Campaign emails sent to a customer in the last EMAIL_DAYS and in the EMAIL_DAYS
    before, and how many of each the customer opened (people's opens only)."""

    recent_sent: int = 0
    recent_opened: int = 0
    earlier_sent: int = 0
    earlier_opened: int = 0

    @property
    def falling(self) -> bool:
        """The share opened is at most half what it was, on enough emails to tell."""
        if min(self.recent_sent, self.earlier_sent) < MIN_EMAILS or not self.earlier_opened:
            return False
        return 2 * self.recent_opened * self.earlier_sent <= self.earlier_opened * self.recent_sent


@dataclass(frozen=True)
class Signals:
    """What a customer's history says, as of a day. RFM scores run from 1 (the fifth of
    buyers that is worst on it) to 5; monetary is spent in the customer's main currency and
    scored against buyers in that currency."""

    recency_days: int
    frequency: int
    monetary: Decimal
    currency: str
    rfm: tuple[int, int, int]
    usual_gap_days: float | None
    open_complaints: int = 0
    sla_breaches: int = 0
    low_ratings: int = 0
    emails: Emails = Emails()

    @property
    def overdue_ratio(self) -> float | None:
        """Days since the last purchase over the usual gap between purchase days."""
        return None if self.usual_gap_days is None else self.recency_days / self.usual_gap_days

    def fired(self) -> list[str]:
        """The signals that raise the risk, in WEIGHTS order."""
        ratio = self.overdue_ratio
        firing = {
            "lapsing": self.rfm[0] == 1,
            "overdue": ratio is not None and ratio >= OVERDUE,
            "open_complaints": self.open_complaints > 0,
            "low_ratings": self.low_ratings > 0,
            "sla_breaches": self.sla_breaches > 0,
            "falling_engagement": self.emails.falling,
        }
        return [name for name in WEIGHTS if firing[name]]


@dataclass(frozen=True)
class Risk:
    """A risk from 0 to 1, its level, and its drivers with their shares, largest first."""

    score: float
    level: str
    drivers: tuple[tuple[str, float], ...]


def risk(p_alive: float, fired: Iterable[str]) -> Risk:
    """The risk of a customer with this P(alive) and these signals firing."""
    parts = {NOT_ALIVE: -math.log(max(p_alive, SMALLEST_P_ALIVE))}
    parts |= {name: -math.log1p(-WEIGHTS[name]) for name in fired}
    total = sum(parts.values())
    score = -math.expm1(-total)
    shares = [(name, score * part / total) for name, part in parts.items() if part > 0]
    shares.sort(key=lambda share: -share[1])
    return Risk(score, level(score), tuple(shares))


def level(score: float) -> str:
    """The level a risk score is in."""
    return next(name for name, lowest in LEVELS if score >= lowest)


def fifths(values: ArrayLike, population: NDArray[np.float64], higher_is_better: bool) -> NDArray:
    """Scores from 1 to 5 of `values` against a sorted `population`, by percentile rank: the
    share of the rest of the population a value beats (ties counting half), in fifths. The
    worst of several scores 1 and the best 5; ties, and a population of one, score alike."""
    values = np.asarray(values, dtype=np.float64)
    below = np.searchsorted(population, values, side="left")
    above = len(population) - np.searchsorted(population, values, side="right")
    worse = below if higher_is_better else above
    equal = len(population) - below - above
    rest = len(population) - 1
    rank = (worse + (equal - 1) / 2) / rest if rest else np.full(values.shape, 0.5)
    return (1 + np.floor(5 * np.clip(rank, 0, 1))).astype(np.int64).clip(1, 5)
