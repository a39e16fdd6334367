"""Purchases simulated from the BG/NBD model's own story, for its tests and its benchmark."""

import numpy as np
from numpy.typing import NDArray

from domain.churn.bgnbd import Parameters


def simulate_purchases(
    rng: np.random.Generator, params: Parameters, T: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The repeat purchases of customers observed for T weeks after their first purchase, as
    (customer index, weeks after the first purchase), in time order per customer.

    Each customer draws lambda ~ Gamma(r, rate alpha) and p ~ Beta(a, b). Purchases follow a
    Poisson process of rate lambda, and the customer drops out after the N-th of them, N ~
    Geometric(p) (on 1, 2, ...): so the purchases seen are the first min(N, K) of the K ~
    Poisson(lambda T) arrivals in (0, T], which are K uniform times, sorted."""
    n = T.size
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    arrivals = rng.poisson(rate * T)
    made = np.minimum(arrivals, rng.geometric(dropout))
    customer = np.repeat(np.arange(n), arrivals)
    weeks = rng.random(customer.size) * T[customer]
    order = np.lexsort((weeks, customer))
    customer, weeks = customer[order], weeks[order]
    rank = np.arange(customer.size) - np.repeat(np.cumsum(arrivals) - arrivals, arrivals)
    kept = rank < made[customer]
    return customer[kept], weeks[kept]


def simulate_histories(
    rng: np.random.Generator, params: Parameters, T: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """(x, t_x, T) of customers simulated as `simulate_purchases` does, in continuous time."""
    customer, weeks = simulate_purchases(rng, params, T)
    x = np.bincount(customer, minlength=T.size)
    t_x = np.zeros(T.size)
    np.maximum.at(t_x, customer, weeks)
    return x, t_x, T
