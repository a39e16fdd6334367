"""The BG/NBD model: the fit recovers simulated parameters, the likelihood and the forecasts
agree with independent evaluations, and (x, t_x, T) come from purchase days by hand."""

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest
from scipy import integrate
from scipy.special import exp1, hyp2f1
from scipy.stats import chi2

from domain.churn.bgnbd import (
    FitError,
    Model,
    Parameters,
    expected_purchases,
    fit,
    log_likelihood,
    p_alive,
    score,
)
from domain.churn.histories import summarise, utc_day
from tests.bgnbd_simulation import simulate_histories

CDNOW = Parameters(r=0.243, alpha=4.414, a=0.793, b=2.426)
"""The paper's estimates on its CDNOW sample (weeks)."""
SIMULATED = Parameters(r=0.75, alpha=5.0, a=1.5, b=4.0)
CASES = [(0, 0.0, 38.86), (1, 12.0, 30.0), (2, 30.43, 38.86), (7, 35.5, 36.0)]
"""(x, t_x, T): a one-off buyer, a lapsed one, the paper's example, a regular."""


@pytest.fixture(scope="module")
def simulated() -> tuple[tuple, Model]:
    """10,000 customers simulated with SIMULATED, first purchases spread over a year and
    observed for 52 to 104 weeks, and the model fitted on them."""
    rng = np.random.default_rng(20050301)
    T = rng.uniform(52, 104, 10_000)
    history = simulate_histories(rng, SIMULATED, T)
    return history, fit(*history)


def test_fit_recovers_the_parameters_the_purchases_were_simulated_with(simulated) -> None:
    # Given purchases simulated with known parameters; When the model is fitted
    _, model = simulated
    # Then each estimate is near the truth. Over 200 seeds of this design the relative errors'
    # standard deviations were 1.6 % (r), 2.4 % (alpha), 5.0 % (a) and 6.8 % (b): the
    # tolerances are about five of them.
    tolerances = {"r": 0.08, "alpha": 0.12, "a": 0.25, "b": 0.35}
    for name, tolerance in tolerances.items():
        assert getattr(model, name) == pytest.approx(getattr(SIMULATED, name), rel=tolerance)
    assert model.customers == 10_000


def test_the_true_parameters_are_within_the_likelihood_ratio_bound_of_the_optimum(
    simulated,
) -> None:
    # Given the fitted model and the parameters the purchases were simulated with
    history, model = simulated
    # When the total log-likelihoods are compared
    gap = model.log_likelihood - log_likelihood(SIMULATED, *history).sum()
    # Then the optimum is at least as likely, and by Wilks 2 * gap ~ chi2(4 parameters):
    # it exceeds the 99.9 % quantile (18.5, so gap 9.2) once in a thousand samples
    assert 0 <= gap <= chi2.ppf(0.999, df=4) / 2
    assert model.log_likelihood == pytest.approx(log_likelihood(model, *history).sum())


def test_no_small_change_of_a_fitted_parameter_raises_the_likelihood(simulated) -> None:
    # Given the fitted model
    history, model = simulated
    optimum = log_likelihood(model, *history).sum()
    # When each parameter is moved by 1 % either way; Then the likelihood falls
    for name in ("r", "alpha", "a", "b"):
        for factor in (0.99, 1.01):
            moved = replace(model, **{name: getattr(model, name) * factor})
            assert log_likelihood(moved, *history).sum() < optimum


def test_fit_refuses_customers_without_any_repeat_purchase() -> None:
    # Given customers who bought once each; When fitted; Then FitError says why
    with pytest.raises(FitError, match="no customer has a repeat purchase"):
        fit([0, 0, 0], [0.0, 0.0, 0.0], [10.0, 20.0, 30.0])


def test_fit_settles_on_the_limit_model_when_customers_share_one_rate_and_one_dropout() -> None:
    # Given customers who all buy at 0.5 a week and drop out after a purchase with p = 0.2
    # (nearly degenerate gamma and beta): the likelihood keeps rising as r, alpha, a, b grow
    rng = np.random.default_rng(7)
    homogeneous = Parameters(r=1e5, alpha=2e5, a=2e4, b=8e4)
    # When fitted
    model = fit(*simulate_histories(rng, homogeneous, rng.uniform(10, 30, 2000)))
    # Then it converges, with the shared rate and dropout probability as the means
    assert model.r / model.alpha == pytest.approx(0.5, rel=0.05)
    assert model.a / (model.a + model.b) == pytest.approx(0.2, rel=0.1)


@pytest.mark.parametrize(("x", "t_x", "T"), [(-1, 0.0, 1.0), (1, 2.0, 1.0), (1, -1.0, 1.0)])
def test_histories_that_cannot_be_are_refused(x, t_x, T) -> None:
    # Given a negative count, a last purchase after the end, or before the first
    # Then ValueError
    with pytest.raises(ValueError, match="0 <= t_x <= T"):
        p_alive(CDNOW, x, t_x, T)


def equation_6(params: Parameters, x: int, t_x: float, T: float) -> float:
    """The paper's eq. 6 in plain Python, (alpha + t_x)^-(r + x) factored out."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b

    def log_beta(p: float, q: float) -> float:
        return math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)

    head = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha)
    alive = math.exp(
        log_beta(a, b + x) - log_beta(a, b) + (r + x) * math.log((alpha + t_x) / (alpha + T))
    )
    gone = math.exp(log_beta(a + 1, b + x - 1) - log_beta(a, b)) if x > 0 else 0.0
    return head - (r + x) * math.log(alpha + t_x) + math.log(alive + gone)


@pytest.mark.parametrize("params", [CDNOW, SIMULATED, Parameters(3.0, 0.2, 0.4, 0.6)])
def test_log_likelihood_equals_equation_6_written_out(params) -> None:
    # Given customers from one-off buyers to 400 repeat purchases
    x, t_x, T = zip(*CASES, (40, 50.0, 52.0), (400, 99.0, 104.0), strict=True)
    # When evaluated vectorised; Then each equals eq. 6 term by term in plain Python
    expected = [equation_6(params, *case) for case in zip(x, t_x, T, strict=True)]
    assert log_likelihood(params, x, t_x, T) == pytest.approx(expected, rel=1e-12)


def mixed(params: Parameters, integrand) -> float:
    """The integral of integrand(lambda, p) over lambda ~ Gamma(r, alpha), p ~ Beta(a, b)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_norm = r * math.log(alpha) - math.lgamma(r) - math.lgamma(a) - math.lgamma(b)
    log_norm += math.lgamma(a + b)

    def weighted(rate: float, p: float) -> float:
        log_density = (r - 1) * math.log(rate) - alpha * rate + (a - 1) * math.log(p)
        return integrand(rate, p) * math.exp(log_norm + log_density + (b - 1) * math.log1p(-p))

    return integrate.dblquad(weighted, 0, 1, 0, math.inf, epsabs=0, epsrel=1e-9)[0]


def alive_likelihood(x: int, T: float):
    """Eq. 3's first term: x purchases and still alive at T, given lambda and p."""
    return lambda rate, p: (1 - p) ** x * rate**x * math.exp(-rate * T)


def likelihood(x: int, t_x: float, T: float):
    """Eq. 3, the individual likelihood: alive at T, or gone right after the purchase at t_x."""

    def at(rate: float, p: float) -> float:
        gone = p * (1 - p) ** (x - 1) * rate**x * math.exp(-rate * t_x) if x else 0.0
        return alive_likelihood(x, T)(rate, p) + gone

    return at


@pytest.mark.parametrize(("x", "t_x", "T"), CASES[:3])
def test_log_likelihood_equals_the_individual_likelihood_integrated_numerically(x, t_x, T) -> None:
    # Given a customer; When eq. 3 is integrated over the gamma and beta mixing distributions
    integrated = mixed(CDNOW, likelihood(x, t_x, T))
    # Then its logarithm is eq. 6
    assert log_likelihood(CDNOW, x, t_x, T) == pytest.approx(math.log(integrated), rel=1e-7)


@pytest.mark.parametrize("params", [CDNOW, SIMULATED])
def test_expected_purchases_equal_the_posterior_mean_integrated_numerically(params) -> None:
    # Given the paper's example customer, 39 weeks ahead
    x, t_x, T, t = 2, 30.43, 38.86, 39.0

    # When a customer alive at T with (lambda, p), who expects (1 - e^(-lambda p t)) / p
    # purchases (eq. 8), is averaged over the posterior of (lambda, p) numerically
    def purchases(rate: float, p: float) -> float:
        return alive_likelihood(x, T)(rate, p) * -math.expm1(-rate * p * t) / p

    posterior_mean = mixed(params, purchases) / mixed(params, likelihood(x, t_x, T))
    # Then eq. 10 gives the same
    assert expected_purchases(params, t, x, t_x, T) == pytest.approx(posterior_mean, rel=1e-7)


def test_expected_purchases_reproduce_the_papers_example_customer() -> None:
    # Given the CDNOW estimates and a customer with 2 repeat purchases, the last at week 30.43
    # of 38.86; When asked for the next 39 weeks; Then 1.226, the paper's figure
    assert expected_purchases(CDNOW, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)


@pytest.mark.parametrize("params", [CDNOW, SIMULATED])
@pytest.mark.parametrize(("x", "t_x", "T"), [*CASES, (0, 0.0, 0.0), (300, 100.0, 104.0)])
def test_expected_purchases_equal_equation_10_with_the_hypergeometric_as_written(
    params, x, t_x, T
) -> None:
    # Given eq. 10 as printed (2F1(r + x, b + x; a + b + x - 1; z)), where it is finite
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = 52.0
    z = t / (alpha + T + t)
    ratio = (alpha + T) / (alpha + T + t)
    numerator = 1 - ratio ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    printed = (a + b + x - 1) / (a - 1) * numerator * p_alive(params, x, t_x, T)
    # When computed by Euler's transformation; Then the same
    assert expected_purchases(params, t, x, t_x, T) == pytest.approx(printed, rel=1e-9)


def test_expected_purchases_stay_finite_where_equation_10_as_printed_overflows() -> None:
    # Given a customer with 20,000 repeat purchases (as printed: 0 * inf)
    x, t_x, T = 20_000, 51.0, 52.0
    # When forecast for 52 weeks; Then a finite count, near that of one more purchase
    forecast = expected_purchases(CDNOW, 52, x, t_x, T)
    assert np.isfinite(forecast)
    assert 0 < forecast == pytest.approx(expected_purchases(CDNOW, 52, x + 1, t_x, T), rel=1e-3)


def test_p_alive_is_one_for_a_customer_without_repeat_purchase() -> None:
    # Given customers without repeat purchase, however long ago they bought
    T = [0.0, 1.0, 52.0, 520.0]
    # When P(alive) is asked; Then 1: in BG/NBD a customer can drop out only after a purchase
    assert p_alive(CDNOW, 0, 0.0, T).tolist() == [1.0, 1.0, 1.0, 1.0]


def test_p_alive_right_after_a_purchase_is_the_chance_that_it_was_not_the_last() -> None:
    # Given customers who bought just now (t_x = T); Then P(alive) = (b + x - 1) / (a + b + x - 1)
    x = np.array([1, 2, 10])
    expected = (CDNOW.b + x - 1) / (CDNOW.a + CDNOW.b + x - 1)
    assert p_alive(CDNOW, x, 20.0, 20.0) == pytest.approx(expected, rel=1e-12)


def test_p_alive_of_the_papers_example_customer_by_hand() -> None:
    # Given x = 2, t_x = 30.43, T = 38.86 and the CDNOW estimates: by hand,
    # a / (b + x - 1) = 0.793 / 3.426 = 0.2314653, ((4.414 + 38.86) / (4.414 + 30.43)) ** 2.243
    # = 1.2419355 ** 2.243 = 1.6257888, so P(alive) = 1 / (1 + 0.3763136) = 0.7265786
    assert p_alive(CDNOW, 2, 30.43, 38.86) == pytest.approx(0.7265786, abs=1e-7)


def test_p_alive_falls_as_weeks_pass_without_a_purchase() -> None:
    # Given a customer with 3 repeat purchases, the last at week 10; When observed longer
    alive = p_alive(CDNOW, 3, 10.0, [10.0, 20.0, 40.0, 80.0])
    # Then P(alive) keeps falling
    assert np.all(np.diff(alive) < 0)


def test_expected_purchases_grow_with_the_horizon_from_zero() -> None:
    # Given the paper's example customer; When forecast over longer and longer horizons
    forecasts = expected_purchases(CDNOW, [0.0, 1.0, 13.0, 52.0, 520.0], 2, 30.43, 38.86)
    # Then none at first, and more the further ahead
    assert forecasts[0] == 0
    assert np.all(np.diff(forecasts) > 0)


def test_score_gives_p_alive_and_the_next_90_days_and_52_weeks_per_customer() -> None:
    # Given customers as arrays; When scored
    x, t_x, T = (np.array(column) for column in zip(*CASES, strict=True))
    scores = score(CDNOW, x, t_x, T)
    # Then each column is the model's answer for that horizon (90 days = 90 / 7 weeks)
    assert scores.p_alive == pytest.approx(p_alive(CDNOW, x, t_x, T))
    assert scores.next_90_days == pytest.approx(expected_purchases(CDNOW, 90 / 7, x, t_x, T))
    assert scores.next_52_weeks == pytest.approx(expected_purchases(CDNOW, 52, x, t_x, T))


def test_histories_count_purchase_days_and_measure_weeks_from_the_first() -> None:
    # Given purchase days, as of Monday 2 March 2026
    purchases = {
        "twice on day one": [date(2026, 1, 5), date(2026, 1, 19), date(2026, 1, 5),
                             date(2026, 2, 2)],
        "first after as_of": [date(2026, 3, 3)],
        "one before, one after": [date(2026, 2, 20), date(2026, 3, 10)],
        "on the day": [date(2026, 3, 2)],
    }  # fmt: skip
    # When summarised
    histories = summarise(purchases, as_of=date(2026, 3, 2))
    # Then two repeat days, the last 28 days (4 weeks) after the first, 56 days (8 weeks) seen;
    # a customer whose first purchase is later is left out; later purchases are ignored
    assert histories.customers == ("twice on day one", "one before, one after", "on the day")
    assert histories.x.tolist() == [2, 0, 0]
    assert histories.t_x.tolist() == [4.0, 0.0, 0.0]
    assert histories.T == pytest.approx([8.0, 10 / 7, 0.0])


def test_purchase_days_are_utc_dates() -> None:
    # Given a purchase late in the evening in New York, and one just after midnight in Paris
    new_york, paris = timezone(timedelta(hours=-5)), timezone(timedelta(hours=1))
    # Then their days are the UTC ones
    assert utc_day(datetime(2026, 3, 1, 23, 30, tzinfo=new_york)) == date(2026, 3, 2)
    assert utc_day(datetime(2026, 3, 2, 0, 30, tzinfo=paris)) == date(2026, 3, 1)
    assert utc_day(datetime(2026, 3, 2, 0, 0, tzinfo=UTC)) == date(2026, 3, 2)
    with pytest.raises(ValueError, match="UTC offset"):
        utc_day(datetime(2026, 3, 2, 12, 0))


def test_expected_purchases_stay_finite_and_continuous_near_the_limit_of_constant_p() -> None:
    # Given fits near the limit where every customer drops out with the same p = 1/3
    x, t_x, T = np.array([0, 1, 2, 7]), np.array([0.0, 2.7, 8.6, 35.5]), np.array([1, 4, 25, 36.0])
    limits = [Parameters(r=2.2, alpha=16.8, a=k, b=2 * k) for k in (1e3, 1e5, 1.5e6)]
    # When the expected purchases in 90 days are computed on either side of the switch
    found = [expected_purchases(p, 90 / 7, x, t_x, T) for p in limits]
    # Then they are finite and agree as a and b grow
    assert all(np.isfinite(f).all() for f in found)
    assert found[1] == pytest.approx(found[2], rel=1e-3)
    assert found[0] == pytest.approx(found[2], rel=1e-2)


def test_expected_purchases_are_finite_at_the_limit_of_one_purchase_rate() -> None:
    # Given a fit at the limit of no heterogeneity in lambda (r and alpha in the millions, as
    # a few buyers with regular gaps give) and p ~ Beta(1, 1), where scipy's 2F1 gives NaN
    params = Parameters(r=1e6, alpha=1e6, a=1 + 1e-7, b=1 - 1e-7)
    t = 90 / 7
    # When a customer without repeat purchase (alive) is forecast
    found = expected_purchases(params, t, 0, 0.0, 1.0)
    # Then it is the limit's: buying once a week until dropping out with p ~ U(0, 1), they
    # expect the integral of (1 - e^(-p t)) / p over p, that is gamma + ln t + E1(t)
    assert found == pytest.approx(np.euler_gamma + math.log(t) + exp1(t), rel=1e-5)


@pytest.mark.parametrize(
    ("x", "t_x", "T"),
    [
        ([1], [1.0], [2.0]),
        ([1, 1], [1.0, 1.0], [1.0, 1.0]),
        ([1] + [0] * 50, [1 / 7] + [0] * 50, [1 / 7] + [0] * 50),
        ([300], [300 / 7], [300 / 7]),
    ],
    ids=["one-repeat", "two-alike", "one-repeat-among-one-offs", "daily"],
)
def test_fits_on_a_few_regular_buyers_forecast_finite_purchases(x, t_x, T) -> None:
    # Given a fit on a few buyers with no variety (the first days of a shop)
    scored = score(fit(x, t_x, T), x, t_x, T)
    # When they are scored; Then every forecast is a number, and none is negative
    for forecast in (scored.next_90_days, scored.next_52_weeks):
        assert np.isfinite(forecast).all()
        assert (forecast >= 0).all()
