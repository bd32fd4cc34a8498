"""BG/NBD and Gamma-Gamma: likelihoods, maximum-likelihood fits on grouped summaries, and predictions.

Pure numpy/scipy on arrays, no engine: the engine reduces the activities to per-customer summaries and groups the
customers with equal summaries, and these functions fit on the distinct rows with their counts as weights (one row
per distinct (x, t_x, T), so millions of customers fit in seconds).

Conventions (Fader, Hardie and Lee 2005, as in the BTYD literature): ``x`` is the number of repeat purchases (purchase
days after the first), ``t_x`` the time from the first to the last purchase, ``T`` the time from the first purchase to
the end of the observation; for Gamma-Gamma, ``m`` is the mean value of the ``x`` repeat purchases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Fit:
    """Fitted parameters (by name), the total log-likelihood, and how the optimizer ended."""

    params: dict[str, float]
    log_likelihood: float
    converged: bool
    iterations: int
    message: str
    at_bounds: list[str]


def bgnbd_log_likelihood(params: Array, x: Array, t_x: Array, T: Array) -> Array:
    """Each customer's BG/NBD log-likelihood for ``params`` = (r, alpha, a, b)."""
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    # The dropout term only exists after a repeat purchase; b + x - 1 > 0 there.
    a4 = np.where(
        repeat,
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    result: Array = a1 + a2 + np.logaddexp(a3, a4)
    return result


def bgnbd_gradient(params: Array, x: Array, t_x: Array, T: Array) -> tuple[Array, Array]:
    """Each customer's log-likelihood and its derivatives by (r, alpha, a, b), one row per parameter."""
    r, alpha, a, b = params
    repeat = x > 0
    a3 = -(r + x) * np.log(alpha + T)
    b_x1 = np.where(repeat, b + x - 1, 1.0)
    a4 = np.where(repeat, np.log(a) - np.log(b_x1) - (r + x) * np.log(alpha + t_x), -np.inf)
    total = np.logaddexp(a3, a4)
    w3, w4 = np.exp(a3 - total), np.exp(a4 - total)  # shares of the two terms; they add up to 1
    dig = special.digamma
    ll: Array = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
        + total
    )
    d_r = dig(r + x) - dig(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + t_x)
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    common = dig(a + b) - dig(a + b + x)
    d_a = common + w4 / a
    d_b = common + dig(b + x) - dig(b) - w4 / b_x1
    grad: Array = np.stack([d_r, d_alpha, d_a, d_b])
    return ll, grad


def fit_bgnbd(x: Array, t_x: Array, T: Array, weights: Array) -> Fit:
    """Maximum-likelihood (r, alpha, a, b) over customers grouped by equal summaries (``weights`` = group sizes)."""
    total = float(weights.sum())
    scale = float(np.average(T, weights=weights)) or 1.0

    def nll(log_params: Array) -> tuple[float, Array]:
        p = np.exp(log_params)
        ll, grad = bgnbd_gradient(p, x, t_x, T)
        # d/d log(p) = p * d/dp
        return float(-(weights * ll).sum() / total), -(grad @ weights) * p / total

    # alpha is a time scale: start it at the mean observation length so the search starts near the data's units.
    start = np.log(np.array([1.0, scale, 1.0, 1.0]))
    return _fit(nll, start, ("r", "alpha", "a", "b"), total)


def gamma_gamma_log_likelihood(params: Array, x: Array, m: Array) -> Array:
    """Each customer's Gamma-Gamma log-likelihood for ``params`` = (p, q, v); needs x > 0 and m > 0."""
    p, q, v = params
    px = p * x
    result: Array = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v)
    )
    return result


def gamma_gamma_gradient(params: Array, x: Array, m: Array) -> tuple[Array, Array]:
    """Each customer's Gamma-Gamma log-likelihood and its derivatives by (p, q, v)."""
    p, q, v = params
    px = p * x
    log_xmv = np.log(x * m + v)
    ll = gamma_gamma_log_likelihood(params, x, m)
    dig = special.digamma
    d_p = x * (dig(px + q) - dig(px) + np.log(m) + np.log(x) - log_xmv)
    d_q = dig(px + q) - dig(q) + np.log(v) - log_xmv
    d_v = q / v - (px + q) / (x * m + v)
    grad: Array = np.stack([d_p, d_q, d_v])
    return ll, grad


def fit_gamma_gamma(x: Array, m: Array, weights: Array) -> Fit:
    """Maximum-likelihood (p, q, v) over customers with repeat purchases of positive mean value."""
    total = float(weights.sum())
    mean = float(np.average(m, weights=weights))

    def nll(log_params: Array) -> tuple[float, Array]:
        p = np.exp(log_params)
        ll, grad = gamma_gamma_gradient(p, x, m)
        return float(-(weights * ll).sum() / total), -(grad @ weights) * p / total

    start = np.log(np.array([1.0, 2.0, mean]))
    return _fit(nll, start, ("p", "q", "v"), total)


LOG_BOUND = 12.0
"""Parameters stay within e^-12 .. e^12: a fit that reaches a bound says the data cannot pin that parameter down
(no customer seems to drop out, spend does not vary between customers, ...) and is reported as such."""


def _fit(nll: Any, start: Array, names: tuple[str, ...], total: float) -> Fit:
    # Log-parameters keep every parameter positive. L-BFGS-B with the analytic gradient converges in tens of
    # iterations from a start in the data's units; Nelder-Mead, slower but derivative-free, is the fallback.
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    tight = {"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-9}
    best = optimize.minimize(nll, start, jac=True, method="L-BFGS-B", bounds=bounds, options=tight)
    iterations = int(best.nit)
    if not best.success and _stationary(nll, best.x):
        # The line search gave up on a flat ridge (BG/NBD's a and b grow together when every customer drops out
        # alike) where the gradient is already ~0: the optimum, as far as the data can tell. Nelder-Mead would
        # spend thousands of evaluations to move along the ridge without changing the likelihood.
        best.success = True
    if not best.success:

        def value(log_params: Array) -> float:
            return float(nll(log_params)[0])

        rough = optimize.minimize(
            value, best.x, method="Nelder-Mead", bounds=bounds, options={"maxiter": 2000, "xatol": 1e-6, "fatol": 1e-10}
        )
        polish = optimize.minimize(nll, rough.x, jac=True, method="L-BFGS-B", bounds=bounds, options=tight)
        iterations += int(rough.nit + polish.nit)
        best = min((best, rough, polish), key=lambda r: float(r.fun))
    logs = np.asarray(best.x, dtype=float)
    params = {n: float(v) for n, v in zip(names, np.exp(logs), strict=True)}
    at_bounds = [n for n, v in zip(names, logs, strict=True) if abs(v) >= LOG_BOUND - 1e-6]
    return Fit(
        params=params,
        log_likelihood=float(-best.fun * total),
        converged=bool(best.success) and not at_bounds,
        iterations=iterations,
        message=str(best.message) if not at_bounds else f"{', '.join(at_bounds)} reached the bound e^±{LOG_BOUND:g}",
        at_bounds=at_bounds,
    )


STATIONARY = 1e-4
"""Largest gradient (mean log-likelihood per customer, by log-parameter) still counted as an optimum."""


def _stationary(nll: Any, log_params: Array) -> bool:
    """Whether the gradient vanishes at ``log_params`` in every parameter not held at a bound."""
    grad = np.asarray(nll(log_params)[1], dtype=float)
    free = np.abs(log_params) < LOG_BOUND - 1e-6
    return bool(np.all(np.isfinite(grad))) and float(np.max(np.abs(grad[free]), initial=0.0)) < STATIONARY


def expected_purchases(params: dict[str, float], t: float, x: Array, t_x: Array, T: Array) -> Array:
    """Expected number of repeat purchases in the next ``t`` time units, given each customer's history."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    result: Array = first / (1 + _dropout_odds(params, x, t_x, T))
    return result


def probability_alive(params: dict[str, float], x: Array, t_x: Array, T: Array) -> Array:
    """Probability that each customer has not dropped out by the end of the observation."""
    result: Array = 1 / (1 + _dropout_odds(params, x, t_x, T))
    return result


def _dropout_odds(params: dict[str, float], x: Array, t_x: Array, T: Array) -> Array:
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    repeat = x > 0
    base = np.where(repeat, b + x - 1, 1.0)
    odds: Array = np.where(repeat, a / base * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return odds


def expected_average_value(params: dict[str, float], x: Array, m: Array) -> Array:
    """Gamma-Gamma's expected value of a customer's future purchases: a weighted mean of their own average ``m``
    (over ``x`` repeat purchases) and the population mean ``p v / (q - 1)``; needs q > 1."""
    p, q, v = params["p"], params["q"], params["v"]
    result: Array = p * (v + x * m) / (p * x + q - 1)
    return result


def population_average_value(params: dict[str, float]) -> float:
    p, q, v = params["p"], params["q"], params["v"]
    return p * v / (q - 1)


# --- simulation: data with known parameters, for parameter-recovery tests and benchmarks ----------------------------


def simulate_bgnbd(
    params: dict[str, float],
    T: Array,
    rng: np.random.Generator,
) -> tuple[Array, Array]:
    """(x, t_x) for customers observed for ``T`` time units after their first purchase, drawn from BG/NBD."""
    n = len(T)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    now = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1 / lam[idx])
        bought = now[idx] <= T[idx]
        done = idx[~bought]
        active[done] = False
        buyers = idx[bought]
        x[buyers] += 1
        t_x[buyers] = now[buyers]
        # After each repeat purchase the customer drops out with probability p.
        active[buyers[rng.random(len(buyers)) < p[buyers]]] = False
    return x, t_x


def simulate_gamma_gamma(params: dict[str, float], x: Array, rng: np.random.Generator) -> Array:
    """Mean value of ``x`` purchases per customer (x > 0), drawn from Gamma-Gamma."""
    nu = rng.gamma(params["q"], 1 / params["v"], len(x))
    # The sum of x Gamma(p, nu) values is Gamma(p x, nu).
    total = rng.gamma(params["p"] * x, 1 / nu)
    result: Array = total / x
    return result
