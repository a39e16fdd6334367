"""Churn risk as a pure function of P(alive) and the signals that fire."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.churn.risk import (
    SIGNALS,
    Evidence,
    drivers,
    falling,
    fifths,
    firing,
    levels,
    risks,
)

NAN = float("nan")


def flags(*names: str) -> np.ndarray:
    return np.array([name in names for name in SIGNALS])


def evidence(**changes: object) -> Evidence:
    """A quiet customer: recency score 4, 10 days since a purchase, usually every 30 days."""
    quiet = {"recency_score": 4, "recency_days": 10, "usual_gap_days": 30.0, "open_complaints": 0,
             "low_ratings": 0, "sla_breaches": 0, "emails": [0, 0, 0, 0]}  # fmt: skip
    fields = quiet | changes
    return Evidence(**{k: np.array([v]) for k, v in fields.items()})  # type: ignore[arg-type]


def test_the_model_alone_gives_one_minus_p_alive() -> None:
    # When a customer with P(alive) 0.5 fires no signal
    (score,) = risks([0.5], flags()[np.newaxis])
    # Then the risk is the model's, all of it driven by it
    assert (score, levels(np.array([score]))[0]) == (pytest.approx(0.5), "medium")
    assert drivers(0.5, flags(), score) == (("not_alive", pytest.approx(0.5)),)


def test_signals_multiply_the_chance_to_stay_and_share_the_risk_by_their_logs() -> None:
    # When a customer sure to be alive is overdue and has an open complaint
    fired = flags("overdue", "open_complaints")
    (score,) = risks([1.0], fired[np.newaxis])
    # Then 1 - 0.7 * 0.75 = 0.475, shared by -ln 0.7 : -ln 0.75, the larger first
    assert score == pytest.approx(0.475)
    overdue, complaints = -math.log(0.7), -math.log(0.75)
    assert drivers(1.0, fired, score) == (
        ("overdue", pytest.approx(0.475 * overdue / (overdue + complaints))),
        ("open_complaints", pytest.approx(0.475 * complaints / (overdue + complaints))),
    )
    # And with P(alive) 0.4 on top: 1 - 0.4 * 0.525 = 0.79, high
    (higher,) = risks([0.4], fired[np.newaxis])
    assert (higher, levels(np.array([higher]))[0]) == (pytest.approx(0.79), "high")


def test_levels_start_at_their_lowest_score() -> None:
    scores = np.array([0.6, 0.5999, 0.3, 0.2999, 0.0, 1.0])
    assert levels(scores).tolist() == ["high", "medium", "medium", "low", "low", "high"]


@given(
    st.floats(0, 1),
    st.lists(st.sampled_from(SIGNALS), unique=True),
    st.sampled_from(SIGNALS),
)
def test_risk_is_a_share_out_that_only_grows_with_signals(p_alive, fired, more) -> None:
    (score,) = risks([p_alive], flags(*fired)[np.newaxis])
    # Then the risk lies in [0, 1], its drivers add up to it
    assert 0 <= score <= 1
    assert sum(share for _, share in drivers(p_alive, flags(*fired), score)) == pytest.approx(score)
    # And one more signal never lowers it
    (with_more,) = risks([p_alive], flags(*fired, more)[np.newaxis])
    assert with_more >= score - 1e-12


def test_fifths_score_by_percentile_rank_ties_alike() -> None:
    population = np.array([10.0, 20, 30, 40, 50])
    # Higher is better: 0, 1/4, 1/2, 3/4 and all of the rest beaten
    assert fifths([10, 20, 30, 40, 50], population, True).tolist() == [1, 2, 3, 4, 5]
    # Lower is better (recency in days): the fewest days score 5
    assert fifths([10, 50], population, False).tolist() == [5, 1]
    # Four buyers: the worst scores 1, the best 5, those between 2 and 4
    assert fifths([1, 2, 3, 4], np.array([1.0, 2, 3, 4]), True).tolist() == [1, 2, 4, 5]
    # Ties beat half of each other; a population of one, or of equals, is in the middle
    assert fifths([0, 0, 1, 2, 2], np.array([0.0, 0, 1, 2, 2]), True).tolist() == [1, 1, 3, 5, 5]
    assert fifths([7, 7], np.array([7.0, 7.0]), True).tolist() == [3, 3]
    assert fifths([7], np.array([7.0]), False).tolist() == [3]


def test_each_signal_fires_on_its_own_rule() -> None:
    # Given a quiet customer, then each of the rules met in turn
    assert not firing(evidence()).any()
    cases = {
        "lapsing": {"recency_score": 1},
        "overdue": {"recency_days": 60},  # twice the usual gap of 30 days
        "open_complaints": {"open_complaints": 1},
        "low_ratings": {"low_ratings": 2},
        "sla_breaches": {"sla_breaches": 1},
        "falling_engagement": {"emails": [2, 0, 2, 2]},
    }
    for signal, changes in cases.items():
        assert firing(evidence(**changes))[0].tolist() == flags(signal).tolist()
    # And just short of a rule, or without a usual gap, nothing fires
    assert not firing(evidence(recency_days=59)).any()
    assert not firing(evidence(usual_gap_days=NAN, recency_days=400)).any()


def test_engagement_falls_when_the_share_opened_is_at_least_halved_on_enough_emails() -> None:
    # Columns: sent and opened in the last 90 days, then in the 90 before
    emails = np.array([[2, 1, 2, 2], [3, 2, 2, 2], [1, 0, 4, 4], [4, 0, 4, 0]])
    assert falling(emails).tolist() == [True, False, False, False]
