"""Churn risk: the BG/NBD model's P(alive) combined with what else a CRM sees of a customer.

Each signal that fires multiplies the chance the customer stays by `1 - weight` (a
noisy-OR): `risk = 1 - P(alive) * prod(1 - weight)`. The weights are judgement, not fitted:
each says how much that signal alone is taken to raise the risk. The drivers share the risk
out in proportion to `-ln(1 - weight)` (and `-ln P(alive)` for the model's part), so they
add up to the risk, whatever order the signals are listed in.

Vectorised over customers (numpy arrays in one order), so a list of every buyer costs a few
array operations; only the customers shown become Python objects.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Flags = NDArray[np.bool_]

WEIGHTS = {
    "lapsing": 0.3,
    "overdue": 0.3,
    "open_complaints": 0.25,
    "low_ratings": 0.25,
    "sla_breaches": 0.2,
    "falling_engagement": 0.15,
}
"""lapsing: recency score 1 (among the fifth of buyers longest without a purchase, by
percentile rank); overdue: days since the last purchase at least OVERDUE times the
customer's usual gap; open_complaints: a complaint open or pending; low_ratings: a rating of
1 or 2 in the last RATINGS_DAYS; sla_breaches: a ticket opened in the last BREACH_DAYS past
an SLA target; falling_engagement: the share of campaign emails opened at most halved
between the previous EMAIL_DAYS and the last (with at least MIN_EMAILS sent in each)."""
SIGNALS = tuple(WEIGHTS)
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
_LOG_STAY = -np.log1p(-np.array([WEIGHTS[name] for name in SIGNALS]))


@dataclass(frozen=True, eq=False)
class Evidence:
    """Per customer: the recency score (1 to 5), days since the last purchase day, usual gap
    between purchase days (NaN after one), complaints open, low ratings, SLA breaches, and
    campaign emails (columns: sent and opened in the last EMAIL_DAYS, sent and opened in
    the EMAIL_DAYS before)."""

    recency_score: Ints
    recency_days: Ints
    usual_gap_days: Floats
    open_complaints: Ints
    low_ratings: Ints
    sla_breaches: Ints
    emails: Ints


def falling(emails: Ints) -> Flags:
    """Whether the share opened is at most half what it was, on enough emails to tell."""
    recent_sent, recent_opened, earlier_sent, earlier_opened = np.asarray(emails).T
    enough = (np.minimum(recent_sent, earlier_sent) >= MIN_EMAILS) & (earlier_opened > 0)
    return enough & (2 * recent_opened * earlier_sent <= earlier_opened * recent_sent)


def overdue_ratio(evidence: Evidence) -> Floats:
    """Days since the last purchase over the usual gap (NaN without a gap)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return evidence.recency_days / evidence.usual_gap_days


def firing(evidence: Evidence) -> Flags:
    """Which signals fire for each customer: one column per signal, in SIGNALS order."""
    with np.errstate(invalid="ignore"):
        overdue = overdue_ratio(evidence) >= OVERDUE  # NaN compares false
    return np.column_stack(
        [
            evidence.recency_score == 1,
            overdue,
            evidence.open_complaints > 0,
            evidence.low_ratings > 0,
            evidence.sla_breaches > 0,
            falling(evidence.emails),
        ]
    )


def risks(p_alive: ArrayLike, fired: Flags) -> Floats:
    """Each customer's risk from 0 to 1."""
    return -np.expm1(-_log_parts(p_alive, fired).sum(axis=1))


def levels(scores: Floats) -> NDArray[np.str_]:
    """The level each risk score is in."""
    names = [name for name, _ in LEVELS]
    return np.select([scores >= lowest for _, lowest in LEVELS], names, default=names[-1])


def drivers(p_alive: float, fired: Flags, score: float) -> tuple[tuple[str, float], ...]:
    """One customer's drivers (the model's part and each signal that fired) with their
    shares of `score`, largest first."""
    parts = _log_parts(np.array([p_alive]), fired[np.newaxis])[0]
    names = (NOT_ALIVE, *SIGNALS)
    total = parts.sum()
    shares = [(names[i], float(score * parts[i] / total)) for i in np.flatnonzero(parts > 0)]
    return tuple(sorted(shares, key=lambda share: -share[1]))


def _log_parts(p_alive: ArrayLike, fired: Flags) -> Floats:
    """-ln P(alive), then -ln(1 - weight) of each signal that fired (0 otherwise)."""
    alive = -np.log(np.maximum(np.asarray(p_alive, dtype=np.float64), SMALLEST_P_ALIVE))
    return np.column_stack([alive, np.where(fired, _LOG_STAY, 0.0)])


def fifths(values: ArrayLike, population: NDArray[np.float64], higher_is_better: bool) -> Ints:
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
