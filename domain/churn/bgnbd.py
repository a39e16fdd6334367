"""The BG/NBD model of repeat buying: Fader, Hardie and Lee (2005), "Counting Your Customers
the Easy Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284.

While alive, a customer buys at a Poisson rate lambda ~ Gamma(shape r, rate alpha); after each
repeat purchase they drop out for good with probability p ~ Beta(a, b). A customer is summed
up by (x, t_x, T): repeat purchases, the time of the last one and the time observed, in weeks
from the first purchase. Pure and vectorised over customers (numpy arrays or scalars).
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

# scipy is imported in the functions that use it: importing it takes most of a second of CPU,
# which only a process that fits or scores should pay (not every `crm` command and child).

Floats = NDArray[np.float64]
NEXT_90_DAYS = 90 / 7
"""The churn horizon, in weeks."""
NEXT_52_WEEKS = 52.0
"""The lifetime-value horizon (12 months), in weeks."""
LOG_BOUND = 15.0
"""Each fitted parameter lies in [e^-15, e^15]: a bound is reached only where the likelihood
keeps rising towards a limit model (no heterogeneity in lambda or in p)."""
UNDERFLOW = -600.0
"""Below this log, a factor of eq. 10's Euler form underflows (e^-745 is the last double)."""
FLAT = 1e-3
"""A fit stopped by the line search has converged if no log-parameter moves the mean
log-likelihood per customer by more than this (along a ridge towards a limit model, the
line search fails before the other tests pass)."""


@dataclass(frozen=True)
class Parameters:
    """lambda ~ Gamma(r, alpha) (alpha a rate, per week) and p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class Model(Parameters):
    """Parameters fitted by maximum likelihood; the total log-likelihood at the optimum and
    the number of customers fitted on."""

    log_likelihood: float
    customers: int


@dataclass(frozen=True, eq=False)
class Scores:
    """Per customer: P(alive) and the expected purchases in the next 90 days and 52 weeks."""

    p_alive: Floats
    next_90_days: Floats
    next_52_weeks: Floats


class FitError(ValueError):
    """The customers cannot identify the model, or the optimiser failed."""


def log_likelihood(params: Parameters, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Floats:
    """Each customer's log-likelihood, ln L(r, alpha, a, b | x, t_x, T) (the paper's eq. 6)."""
    return _log_likelihood(params, *_summary(x, t_x, T))[0]


def fit(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Model:
    """The maximum-likelihood model of these customers (L-BFGS-B over the log-parameters,
    with the analytic gradient). Raises FitError without a repeat purchase: the likelihood
    then grows without bound as purchase rates go to zero."""
    from scipy.optimize import minimize

    x_, t_x_, T_ = _summary(x, t_x, T)
    if not x_.sum():
        raise FitError("no customer has a repeat purchase: the model cannot be fitted")
    result = minimize(
        _objective,
        np.log(_start(x_, T_)),
        args=(x_, t_x_, T_),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, LOG_BOUND)] * 4,
    )
    if not np.isfinite(result.fun) or not (
        result.success or np.abs(result.jac).max() <= FLAT * x_.size
    ):
        raise FitError(f"the fit did not converge: {result.message}")
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    return Model(r, alpha, a, b, log_likelihood=-float(result.fun), customers=x_.size)


def p_alive(params: Parameters, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Floats:
    """P(alive at T | x, t_x, T): 1 without a repeat purchase (dropout follows a purchase),
    else 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)), whose
    denominator is eq. 10's."""
    from scipy.special import expit

    x_, t_x_, T_ = _summary(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_odds = (
        np.log(a)
        - np.log(b + np.maximum(x_, 1) - 1)
        + (r + x_) * (np.log(alpha + T_) - np.log(alpha + t_x_))
    )
    return np.where(x_ > 0, expit(-log_odds), 1.0)


def expected_purchases(
    params: Parameters, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Floats:
    """E[Y(t) | x, t_x, T], the expected purchases in the next t weeks (the paper's eq. 10).

    Eq. 10's (1 - z) ** (r + x) * 2F1(r + x, b + x; a + b + x - 1; z), z = t / (alpha + T + t),
    is computed by Euler's transformation as (1 - z) ** (a - 1) * 2F1(a + b - 1 - r, a - 1;
    a + b + x - 1; z): the same value, but its series does not blow up as x grows. Where
    (1 - z) ** (a - 1) underflows (a fit near the limit of no heterogeneity in p, a and b in
    the millions), eq. 10's own form is used: its series then converges fast. Needs a != 1
    (eq. 10's removable singularity)."""
    from scipy.special import hyp2f1

    x_, t_x_, T_ = _summary(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    c = a + b + x_ - 1
    t_ = np.asarray(t, dtype=float)
    z = t_ / (alpha + T_ + t_)
    lead = (a - 1) * np.log1p(-z)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        euler = np.exp(lead) * hyp2f1(a + b - 1 - r, a - 1, c, z)
        direct = np.exp((r + x_) * np.log1p(-z)) * hyp2f1(r + x_, b + x_, c, z)
    tail = np.where(lead > UNDERFLOW, euler, direct)
    lost = ~np.isfinite(tail)
    if lost.any():
        tail = np.where(lost, _summed_tail(params, x_, z, lost), tail)
    return p_alive(params, x_, t_x_, T_) * c / (a - 1) * (1 - tail)


def score(params: Parameters, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Scores:
    """Each customer's P(alive) and expected purchases in the next 90 days and 52 weeks."""
    return Scores(
        p_alive(params, x, t_x, T),
        expected_purchases(params, NEXT_90_DAYS, x, t_x, T),
        expected_purchases(params, NEXT_52_WEEKS, x, t_x, T),
    )


SERIES_TERMS = 20_000
"""The most terms `_summed_tail` adds before it gives up (NaN)."""
_RESCALE = 1e200


def _summed_tail(params: Parameters, x: Floats, z: Floats, where: NDArray[np.bool_]) -> Floats:
    """Eq. 10's (1 - z) ** (r + x) * 2F1(r + x, b + x; a + b + x - 1; z) by adding up the
    hypergeometric series term by term (in rescaled floats), at `where` (NaN elsewhere).

    For the fits where scipy's hyp2f1 answers NaN or infinity: near the limit of no
    heterogeneity in lambda (r and alpha in the hundreds of thousands, as a few buyers with
    regular gaps give), with a near 1. There the series' terms grow while n < (r + x) z,
    about the purchases expected at the customer's rate, then shrink geometrically: a few
    thousand terms at most for any real customer; NaN if SERIES_TERMS do not suffice."""
    r, b, c_ = params.r, params.b, params.a + params.b - 1
    shape = np.broadcast(x, z, where).shape
    x_, z_ = np.broadcast_to(x, shape)[where], np.broadcast_to(z, shape)[where]
    big, little, bottom = r + x_, b + x_, c_ + x_
    term, total, scale = np.ones_like(z_), np.ones_like(z_), np.zeros_like(z_)
    done = np.zeros(z_.shape, dtype=bool)
    for n in range(SERIES_TERMS):
        ratio = (big + n) * (little + n) * z_ / ((bottom + n) * (n + 1))
        term = term * ratio
        total = total + term
        large = np.abs(total) > _RESCALE
        term, total = (
            np.where(large, term / _RESCALE, term),
            np.where(large, total / _RESCALE, total),
        )
        scale = scale + np.where(large, np.log(_RESCALE), 0.0)
        done |= (np.abs(ratio) < 1) & (np.abs(term) <= 1e-17 * np.abs(total))
        if done.all():
            break
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        summed = np.sign(total) * np.exp(big * np.log1p(-z_) + scale + np.log(np.abs(total)))
    found = np.full(shape, np.nan)
    found[where] = np.where(done, summed, np.nan)
    return found


def _summary(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[Floats, Floats, Floats]:
    """(x, t_x, T) as float arrays of one shape; ValueError unless x >= 0 and 0 <= t_x <= T."""
    x_, t_x_, T_ = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    if not (np.all(x_ >= 0) and np.all(t_x_ >= 0) and np.all(t_x_ <= T_)):
        raise ValueError("(x, t_x, T) need x >= 0 and 0 <= t_x <= T")
    return x_, t_x_, T_


def _start(x: Floats, T: Floats) -> Floats:
    """A starting point: r = a = b = 1 and a mean purchase rate r / alpha of all the repeat
    purchases over all the weeks observed."""
    return np.array([1.0, max(T.sum() / x.sum(), 1e-3), 1.0, 1.0])


def _log_likelihood(params: Parameters, x: Floats, t_x: Floats, T: Floats) -> tuple[Floats, Floats]:
    """Each customer's log-likelihood, and the weight of eq. 6's second term (gone after the
    last purchase) in it: 0 when x = 0, where that term is absent.

    ln L = ln[Gamma(r + x) alpha^r / (Gamma(r) B(a, b))] + ln(alive + gone), with
    alive = B(a, b + x) / (alpha + T)^(r + x) and
    gone = B(a + 1, b + x - 1) / (alpha + t_x)^(r + x), added in logs (log-sum-exp)."""
    from scipy.special import betaln, gammaln

    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x_safe = np.maximum(x, 1)  # keeps b + x - 1 > 0 in rows the mask then drops
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    gone = np.where(x > 0, betaln(a + 1, b + x_safe - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    total = np.logaddexp(alive, gone)
    return common + total, np.exp(gone - total)


def _objective(log_params: Floats, x: Floats, t_x: Floats, T: Floats) -> tuple[float, Floats]:
    """The negative total log-likelihood and its gradient in the log-parameters."""
    from scipy.special import digamma

    r, alpha, a, b = np.exp(log_params)
    ll, gone = _log_likelihood(Parameters(r, alpha, a, b), x, t_x, T)
    alive = 1 - gone
    x_safe = np.maximum(x, 1)
    shared = digamma(a + b) - digamma(a + b + x)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha)
    d_r -= alive * np.log(alpha + T) + gone * np.log(alpha + t_x)
    d_alpha = r / alpha - (r + x) * (alive / (alpha + T) + gone / (alpha + t_x))
    d_a = shared + gone / a
    d_b = shared - digamma(b) + digamma(b + x) - gone / (b + x_safe - 1)
    gradient = np.array([d_r.sum(), d_alpha.sum(), d_a.sum(), d_b.sum()]) * [r, alpha, a, b]
    return -float(ll.sum()), -gradient
