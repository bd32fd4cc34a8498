"""BG/NBD and Gamma-Gamma: the published examples, and parameters recovered from data simulated with known ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from custdim.stages.predictions import btyd

# Fader, Hardie and Lee (2005), CDNOW, in weeks.
CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


def test_conditional_expectation_matches_the_paper() -> None:
    # "A Note on Deriving the Pareto/NBD Model ..." / BG/NBD paper, section 5: a customer with x = 2, t_x = 30.43 and
    # T = 38.86 weeks is expected to make 1.226 purchases in the next 39 weeks.
    expected = btyd.expected_purchases(CDNOW, 39, np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert expected[0] == pytest.approx(1.226, abs=0.001)
    # Without repeat purchases nobody can have dropped out yet; more time, more purchases.
    assert btyd.probability_alive(CDNOW, np.array([0.0]), np.array([0.0]), np.array([30.0]))[0] == 1.0
    longer = btyd.expected_purchases(CDNOW, 78, np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert longer[0] > expected[0]
    # A customer silent for long since their last purchase is less likely alive than one who just bought.
    recent, silent = btyd.probability_alive(CDNOW, np.array([5.0, 5.0]), np.array([38.0, 5.0]), np.array([39.0, 39.0]))
    assert recent > 0.85 and silent < 0.1


def test_log_likelihood_is_the_papers_formula() -> None:
    r, alpha, a, b = CDNOW.values()
    x, t_x, T = 3, 20.0, 38.0

    def beta(p: float, q: float) -> float:
        return math.gamma(p) * math.gamma(q) / math.gamma(p + q)

    common = math.gamma(r + x) * alpha**r / math.gamma(r)
    direct = beta(a, b + x) / beta(a, b) * common / (alpha + T) ** (r + x) + beta(a + 1, b + x - 1) / beta(
        a, b
    ) * common / (alpha + t_x) ** (r + x)
    ll = btyd.bgnbd_log_likelihood(np.array(list(CDNOW.values())), np.array([3.0]), np.array([20.0]), np.array([38.0]))
    assert ll[0] == pytest.approx(math.log(direct), rel=1e-10)
    # x = 0: only the "still alive" term.
    ll0 = btyd.bgnbd_log_likelihood(np.array(list(CDNOW.values())), np.array([0.0]), np.array([0.0]), np.array([38.0]))
    assert ll0[0] == pytest.approx(math.log(alpha**r / (alpha + 38.0) ** r), rel=1e-10)
    # Gamma-Gamma's population mean: p v / (q - 1) = 35.22 dollars in the CDNOW paper.
    assert btyd.population_average_value(CDNOW_GG) == pytest.approx(35.22, abs=0.01)


def test_bgnbd_parameters_are_recovered_within_two_percent() -> None:
    truth = {"r": 0.5, "alpha": 2.0, "a": 1.2, "b": 3.0}
    rng = np.random.default_rng(42)
    T = rng.uniform(52, 156, 100_000).round()
    x, t_x = btyd.simulate_bgnbd(truth, T, rng)
    # Fitted on the distinct (x, t_x, T) rows with their counts, as the stage does.
    rows, counts = np.unique(np.stack([x, t_x, T], axis=1), axis=0, return_counts=True)
    fit = btyd.fit_bgnbd(rows[:, 0], rows[:, 1], rows[:, 2], counts.astype(float))
    assert fit.converged and not fit.at_bounds
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=0.02), name


def test_gamma_gamma_parameters_are_recovered_within_two_percent() -> None:
    truth = {"p": 6.0, "q": 4.0, "v": 15.0}
    rng = np.random.default_rng(42)
    x = rng.integers(1, 12, 100_000).astype(float)
    m = btyd.simulate_gamma_gamma(truth, x, rng)
    fit = btyd.fit_gamma_gamma(x, m, np.ones(len(x)))
    assert fit.converged
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=0.02), name
    # Shrinkage: one purchase says little, so the estimate sits near the population mean; many say more.
    mean = btyd.population_average_value(fit.params)
    few, many = btyd.expected_average_value(fit.params, np.array([1.0, 50.0]), np.array([100.0, 100.0]))
    assert mean < few < many < 100


def test_grouped_and_per_customer_fits_agree() -> None:
    rng = np.random.default_rng(7)
    T = rng.integers(10, 60, 3000).astype(float)
    x, t_x = btyd.simulate_bgnbd({"r": 0.8, "alpha": 5.0, "a": 1.5, "b": 4.0}, T, rng)
    t_x = np.round(t_x)
    rows, counts = np.unique(np.stack([x, t_x, T], axis=1), axis=0, return_counts=True)
    grouped = btyd.fit_bgnbd(rows[:, 0], rows[:, 1], rows[:, 2], counts.astype(float))
    single = btyd.fit_bgnbd(x, t_x, T, np.ones(len(x)))
    assert len(rows) < len(x)
    for name in grouped.params:
        assert grouped.params[name] == pytest.approx(single.params[name], rel=1e-3)
    assert grouped.log_likelihood == pytest.approx(single.log_likelihood, rel=1e-6)


def test_data_without_dropout_fits_a_dropout_probability_near_zero() -> None:
    # Nobody ever drops out (Poisson buyers): the fitted mean dropout probability a / (a + b) goes to 0.
    rng = np.random.default_rng(3)
    T = np.full(5000, 100.0)
    lam = rng.gamma(2.0, 0.05, 5000)
    x = rng.poisson(lam * T).astype(float)
    t_x = np.where(x > 0, T * rng.beta(x + 1e-9, 1.0), 0.0).round()
    fit = btyd.fit_bgnbd(x, t_x, T, np.ones(len(x)))
    assert fit.params["a"] / (fit.params["a"] + fit.params["b"]) < 1e-3
    # Heterogeneity in purchase rates is still found: Gamma(2, 0.05) per week has shape 2, mean 0.1.
    assert fit.params["r"] == pytest.approx(2.0, rel=0.1) and fit.params["r"] / fit.params["alpha"] == pytest.approx(
        0.1, rel=0.05
    )


def test_analytic_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, 50).astype(float)
    T = rng.uniform(5, 100, 50)
    t_x = np.where(x > 0, T * rng.random(50), 0.0)
    eps = 1e-6
    p = np.array([0.7, 3.0, 1.3, 2.2])
    ll, grad = btyd.bgnbd_gradient(p, x, t_x, T)
    assert np.allclose(ll, btyd.bgnbd_log_likelihood(p, x, t_x, T))
    for k in range(4):
        step = np.eye(4)[k] * eps
        numeric = (btyd.bgnbd_log_likelihood(p + step, x, t_x, T) - btyd.bgnbd_log_likelihood(p - step, x, t_x, T)) / (
            2 * eps
        )
        assert np.allclose(grad[k], numeric, atol=1e-6), k
    m = rng.gamma(3, 10, 50)
    repeats = np.maximum(x, 1)
    q = np.array([5.0, 3.0, 12.0])
    _, grad = btyd.gamma_gamma_gradient(q, repeats, m)
    for k in range(3):
        step = np.eye(3)[k] * eps
        numeric = (
            btyd.gamma_gamma_log_likelihood(q + step, repeats, m)
            - btyd.gamma_gamma_log_likelihood(q - step, repeats, m)
        ) / (2 * eps)
        assert np.allclose(grad[k], numeric, atol=1e-5), k
