"""Tests for transfer_utils.optim against closed forms on quadratics and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import torch

from transfer_utils.landscapes import make_quadratic, rosenbrock
from transfer_utils.optim import (
    OptResult,
    adam,
    gradient_descent,
    heavy_ball_params,
    lbfgs,
    optimal_gd_lr,
    predicted_iterations,
    quadratic_gd_rate,
    sgd,
    torch_minimize,
    value_and_grad,
)


@pytest.fixture
def quad() -> object:
    g = torch.Generator().manual_seed(0)
    return make_quadratic([1.0, 4.0, 20.0], x_star=[1.0, -2.0, 0.5], generator=g)


def test_value_and_grad_matches_closed_form(quad):
    x = torch.tensor([0.3, 0.1, -0.7], dtype=torch.float64)
    y, g = value_and_grad(quad, x)
    e = x - quad.x_star
    torch.testing.assert_close(y, 0.5 * e @ quad.A @ e)
    torch.testing.assert_close(g, quad.A @ e)


def test_gd_iterates_follow_closed_form(quad):
    """On a quadratic x_k - x* = (I - lr A)^k (x_0 - x*) exactly."""
    x0 = torch.zeros(3, dtype=torch.float64)
    lr = 0.05
    res = gradient_descent(quad, x0, lr=lr, max_iter=7, tol=0.0)
    M = torch.eye(3, dtype=torch.float64) - lr * quad.A
    expected = quad.x_star + torch.linalg.matrix_power(M, 7) @ (x0 - quad.x_star)
    torch.testing.assert_close(res.x, expected)
    assert res.xs.shape == (8, 3) and len(res.values) == 8 and len(res.grad_norms) == 8
    assert res.n_iter == 7 and not res.converged


def test_gd_converges_and_result_fields(quad):
    res = gradient_descent(quad, torch.zeros(3, dtype=torch.float64), lr=1 / quad.L, max_iter=5000, tol=1e-9)
    assert isinstance(res, OptResult) and res.converged
    assert res.grad_norms[-1] <= 1e-9
    torch.testing.assert_close(res.x, quad.x_star, atol=1e-8, rtol=0)
    torch.testing.assert_close(res.xs[-1], res.x)


def test_gd_rate_matches_prediction(quad):
    L, mu = quad.L, quad.mu
    lr, rate = optimal_gd_lr(L, mu)
    assert rate == pytest.approx(quadratic_gd_rate(quad.eigenvalues, lr))
    res = gradient_descent(quad, torch.zeros(3, dtype=torch.float64), lr=lr, max_iter=60, tol=0.0)
    err = (res.xs - quad.x_star).norm(dim=1)
    measured = (err[-1] / err[-31]).item() ** (1 / 30)
    assert measured == pytest.approx(rate, rel=1e-3)


def test_heavy_ball_rate_and_nesterov_match_scalar_recursion():
    q = make_quadratic([1.0, 100.0], rotate=False)
    lr, beta, rate = heavy_ball_params(q.L, q.mu)
    assert rate == pytest.approx((10 - 1) / (10 + 1))
    res = gradient_descent(q, [1.0, 1.0], lr=lr, momentum=beta, max_iter=200, tol=0.0)
    err = (res.xs - q.x_star).norm(dim=1)
    measured = (err[-1] / err[-101]).item() ** (1 / 100)
    assert measured == pytest.approx(rate, rel=0.05)
    # Nesterov: an independent scalar recursion in the first coordinate (eigenvalue 1).
    lr, beta = 0.01, 0.9
    res = gradient_descent(q, [1.0, 0.0], lr=lr, momentum=beta, nesterov=True, max_iter=5, tol=0.0)
    x, v = 1.0, 0.0
    for _ in range(5):
        v = beta * v - lr * (x + beta * v)
        x = x + v
    assert res.x[0].item() == pytest.approx(x)


def test_gd_matches_scipy_gradient_on_rosenbrock():
    """Iterates equal a NumPy GD loop driven by scipy's closed-form Rosenbrock gradient."""
    res = gradient_descent(rosenbrock, [-0.5, 0.5], lr=1e-3, max_iter=200, tol=0.0)
    x = np.array([-0.5, 0.5])
    for _ in range(200):
        x = x - 1e-3 * scipy.optimize.rosen_der(x)
    np.testing.assert_allclose(res.x.numpy(), x, rtol=1e-12)
    assert res.values[-1] < res.values[0]


def test_adam_matches_torch_adam(quad):
    x0 = torch.zeros(3, dtype=torch.float64)
    r1 = adam(quad, x0, lr=0.05, max_iter=50, tol=0.0)
    r2 = torch_minimize(quad, x0, optimizer="adam", lr=0.05, max_iter=50, tol=0.0)
    torch.testing.assert_close(r1.xs, r2.xs)


def test_lbfgs_matches_scipy_on_rosenbrock_and_quadratic(quad):
    r = lbfgs(quad, torch.zeros(3, dtype=torch.float64), tol=1e-10)
    assert r.converged and r.n_iter < 20
    torch.testing.assert_close(r.x, quad.x_star, atol=1e-9, rtol=0)
    r = lbfgs(rosenbrock, [-1.2, 1.0], tol=1e-8, max_iter=500)
    ref = scipy.optimize.minimize(scipy.optimize.rosen, [-1.2, 1.0], jac=scipy.optimize.rosen_der,
                                  method="L-BFGS-B", options={"gtol": 1e-10})
    assert r.converged and r.n_iter < 100
    np.testing.assert_allclose(r.x.numpy(), ref.x, atol=1e-5)
    assert all(a >= b for a, b in zip(r.values, r.values[1:]))  # monotone by the Armijo condition


def test_adam_first_step_is_lr_times_sign(quad):
    """After bias correction Adam's first step is lr * g/|g| per coordinate (up to eps)."""
    x0 = torch.zeros(3, dtype=torch.float64)
    r = adam(quad, x0, lr=0.1, max_iter=1, tol=0.0)
    g = quad.grad(x0)
    torch.testing.assert_close(r.x, -0.1 * torch.sign(g), atol=1e-6, rtol=0)


def test_sgd_full_batch_equals_gd_and_schedule(quad):
    n = 4
    # Same objective split into n identical pieces: every mini-batch gradient equals the full one.
    res = sgd(lambda x, idx: quad(x), torch.zeros(3, dtype=torch.float64), n_samples=n, batch_size=2,
              lr=0.05, num_epochs=3, generator=torch.Generator().manual_seed(0), full_loss=quad)
    ref = gradient_descent(quad, torch.zeros(3, dtype=torch.float64), lr=0.05, max_iter=6, tol=0.0)
    torch.testing.assert_close(res.x, ref.x)
    assert res.n_iter == 6 and len(res.values) == 4
    res = sgd(lambda x, idx: quad(x), torch.zeros(3, dtype=torch.float64), n_samples=n, batch_size=2,
              lr=lambda k: 0.1 / (1 + k), num_epochs=1)
    assert res.extra["lr"] == pytest.approx([0.1, 0.05])


def test_sgd_least_squares_unbiased():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(200, 3, generator=g, dtype=torch.float64)
    w_true = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    y = X @ w_true
    res = sgd(lambda w, idx: ((X[idx] @ w - y[idx]) ** 2).mean() / 2, torch.zeros(3, dtype=torch.float64),
              n_samples=200, batch_size=10, lr=0.1, num_epochs=20, generator=g)
    torch.testing.assert_close(res.x, w_true, atol=1e-6, rtol=0)


def test_predictions():
    assert quadratic_gd_rate([1.0, 10.0], 0.1) == pytest.approx(0.9)
    assert quadratic_gd_rate([1.0, 10.0], 0.25) == pytest.approx(1.5)
    assert predicted_iterations(0.5, 1e-3) == 10
    assert predicted_iterations(0.9, 0.9**7 * 1.0001) == 7
    lr, rate = optimal_gd_lr(10.0, 1.0)
    assert lr == pytest.approx(2 / 11) and rate == pytest.approx(9 / 11)
    with pytest.raises(ValueError):
        optimal_gd_lr(1.0, 2.0)
    with pytest.raises(ValueError):
        predicted_iterations(1.2, 1e-3)


def test_bad_input(quad):
    x0 = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="scalar"):
        gradient_descent(lambda x: x * 2, x0, lr=0.1)
    with pytest.raises(ValueError, match="scalar"):
        torch_minimize(lambda x: x * 2, x0)
    with pytest.raises(ValueError, match="scalar"):
        lbfgs(lambda x: x * 2, x0)
    with pytest.raises(ValueError, match="1-D"):
        gradient_descent(quad, torch.zeros(3, 1), lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        gradient_descent(quad, x0, lr=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        gradient_descent(quad, x0, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        torch_minimize(quad, x0, optimizer="rmsprop2")


def test_divergence_raises_clear_error(quad):
    with pytest.raises(FloatingPointError, match=r"iteration \d+.*lr"):
        gradient_descent(quad, torch.ones(3, dtype=torch.float64), lr=2.5 / quad.L, max_iter=100000)
    with pytest.raises(FloatingPointError, match="iteration 0"):
        gradient_descent(lambda x: (x**2).sum() + math.nan * x[0], torch.ones(3), lr=0.1)
    with pytest.raises(FloatingPointError, match="iteration"):
        adam(lambda x: torch.log(x).sum(), torch.tensor([-1.0]), lr=0.1)
    with pytest.raises(FloatingPointError, match="iteration 0"):
        lbfgs(lambda x: torch.log(x).sum(), torch.tensor([-1.0]))
