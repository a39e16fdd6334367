"""Churn risk as a pure function of P(alive) and the signals that fire."""

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.churn.risk import WEIGHTS, Emails, Signals, fifths, level, risk

QUIET = Signals(recency_days=10, frequency=3, monetary=Decimal("90"), currency="EUR",
                rfm=(4, 3, 3), usual_gap_days=30.0)  # fmt: skip


def test_the_model_alone_gives_one_minus_p_alive() -> None:
    # When a customer with P(alive) 0.5 fires no signal
    found = risk(0.5, [])
    # Then the risk is the model's, all of it driven by it
    assert (found.score, found.level) == (pytest.approx(0.5), "medium")
    assert found.drivers == (("not_alive", pytest.approx(0.5)),)


def test_signals_multiply_the_chance_to_stay_and_share_the_risk_by_their_logs() -> None:
    # When a customer sure to be alive is overdue and has an open complaint
    found = risk(1.0, ["overdue", "open_complaints"])
    # Then 1 - 0.7 * 0.75 = 0.475, shared by -ln 0.7 : -ln 0.75, the larger first
    assert found.score == pytest.approx(0.475)
    overdue, complaints = -math.log(0.7), -math.log(0.75)
    assert found.drivers == (
        ("overdue", pytest.approx(0.475 * overdue / (overdue + complaints))),
        ("open_complaints", pytest.approx(0.475 * complaints / (overdue + complaints))),
    )
    assert found.level == "medium"
    # And with P(alive) 0.4 on top: 1 - 0.4 * 0.525 = 0.79, high
    assert risk(0.4, ["overdue", "open_complaints"]).score == pytest.approx(0.79)
    assert risk(0.4, ["overdue", "open_complaints"]).level == "high"


def test_levels_start_at_their_lowest_score() -> None:
    assert [level(s) for s in (0.6, 0.5999, 0.3, 0.2999, 0.0)] == [
        "high", "medium", "medium", "low", "low"]  # fmt: skip


@given(
    st.floats(0, 1),
    st.lists(st.sampled_from(list(WEIGHTS)), unique=True),
    st.sampled_from(list(WEIGHTS)),
)
def test_risk_is_a_share_out_that_only_grows_with_signals(p_alive, fired, more) -> None:
    found = risk(p_alive, fired)
    # Then the risk lies in [0, 1], its drivers add up to it
    assert 0 <= found.score <= 1
    assert sum(share for _, share in found.drivers) == pytest.approx(found.score)
    # And one more signal never lowers it, whichever order the signals come in
    assert risk(p_alive, sorted({*fired, more})).score >= found.score - 1e-12
    assert risk(p_alive, fired[::-1]).score == pytest.approx(found.score)


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
    assert QUIET.fired() == []
    cases = {
        "lapsing": {"rfm": (1, 3, 3)},
        "overdue": {"recency_days": 60},  # twice the usual gap of 30 days
        "open_complaints": {"open_complaints": 1},
        "low_ratings": {"low_ratings": 2},
        "sla_breaches": {"sla_breaches": 1},
        "falling_engagement": {"emails": Emails(2, 0, 2, 2)},
    }
    for signal, changes in cases.items():
        assert Signals(**(vars(QUIET) | changes)).fired() == [signal]
    # And just short of a rule, nothing fires
    assert Signals(**(vars(QUIET) | {"recency_days": 59})).fired() == []
    assert Signals(**(vars(QUIET) | {"usual_gap_days": None, "recency_days": 400})).fired() == []


def test_engagement_falls_when_the_share_opened_is_at_least_halved_on_enough_emails() -> None:
    assert Emails(recent_sent=2, recent_opened=1, earlier_sent=2, earlier_opened=2).falling
    assert not Emails(recent_sent=3, recent_opened=2, earlier_sent=2, earlier_opened=2).falling
    assert not Emails(recent_sent=1, recent_opened=0, earlier_sent=4, earlier_opened=4).falling
    assert not Emails(recent_sent=4, recent_opened=0, earlier_sent=4, earlier_opened=0).falling
