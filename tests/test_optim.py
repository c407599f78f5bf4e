"""Tests for transfer_utils.calculus.optim against closed forms on quadratics and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import torch

from transfer_utils.calculus.landscapes import make_quadratic, rosenbrock
from transfer_utils.calculus.optim import (
    DivergenceError,
    OptResult,
    adam,
    gradient_descent,
    heavy_ball_params,
    lbfgs,
    optimal_gd_lr,
    predicted_iterations,
    quadratic_gd_rate,
    rounding_level,
    sgd,
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


def _torch_adam_path(f, x0: torch.Tensor, *, lr: float, steps: int) -> torch.Tensor:
    """The iterates of torch.optim.Adam on f: an independent implementation to compare with."""
    x = torch.nn.Parameter(x0.clone())
    opt = torch.optim.Adam([x], lr=lr)
    xs = [x.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        f(x).backward()
        opt.step()
        xs.append(x.detach().clone())
    return torch.stack(xs)


def test_adam_matches_torch_adam(quad):
    x0 = torch.zeros(3, dtype=torch.float64)
    r1 = adam(quad, x0, lr=0.05, max_iter=50, tol=0.0)
    torch.testing.assert_close(r1.xs, _torch_adam_path(quad, x0, lr=0.05, steps=50))


def test_lbfgs_matches_scipy_on_rosenbrock_and_quadratic(quad):
    r = lbfgs(quad, torch.zeros(3, dtype=torch.float64), tol=1e-10)
    assert r.converged and r.n_iter < 20
    torch.testing.assert_close(r.x, quad.x_star, atol=1e-9, rtol=0)
    r = lbfgs(rosenbrock, [-1.2, 1.0], tol=1e-8, max_iter=500)
    ref = scipy.optimize.minimize(scipy.optimize.rosen, [-1.2, 1.0], jac=scipy.optimize.rosen_der,
                                  method="L-BFGS-B", options={"gtol": 1e-10})
    assert r.converged and r.n_iter < 100
    np.testing.assert_allclose(r.x.numpy(), ref.x, atol=1e-5)
    # monotone by the Armijo condition (up to the rounding level of f, where |grad| decides)
    assert all(b <= a + 1e-13 * (abs(a) + 1e-3) for a, b in zip(r.values, r.values[1:]))
    assert r.status == "converged"


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
        adam(lambda x: x * 2, x0)
    with pytest.raises(ValueError, match="scalar"):
        lbfgs(lambda x: x * 2, x0)
    with pytest.raises(ValueError, match="1-D"):
        gradient_descent(quad, torch.zeros(3, 1), lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        gradient_descent(quad, x0, lr=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        gradient_descent(quad, x0, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="history_size"):
        lbfgs(quad, x0, history_size=0)


def test_divergence_raises_clear_error(quad):
    with pytest.raises(FloatingPointError, match=r"iteration \d+.*lr"):
        gradient_descent(quad, torch.ones(3, dtype=torch.float64), lr=2.5 / quad.L, max_iter=100000)
    with pytest.raises(FloatingPointError, match="iteration 0"):
        gradient_descent(lambda x: (x**2).sum() + math.nan * x[0], torch.ones(3), lr=0.1)
    with pytest.raises(FloatingPointError, match="iteration"):
        adam(lambda x: torch.log(x).sum(), torch.tensor([-1.0]), lr=0.1)
    with pytest.raises(FloatingPointError, match="iteration 0"):
        lbfgs(lambda x: torch.log(x).sum(), torch.tensor([-1.0]))


# --- statuses: converged, stalled, max_iter, diverged ------------------------------------------


def test_status_field_defaults_and_repr(quad):
    x0 = torch.zeros(3, dtype=torch.float64)
    r = gradient_descent(quad, x0, lr=1 / quad.L, max_iter=5, tol=1e-9)
    assert r.status == "max_iter" and not r.converged and "max_iter" in r.message
    assert "status='max_iter'" in repr(r)
    r = gradient_descent(quad, x0, lr=1 / quad.L, max_iter=5000, tol=1e-9)
    assert r.status == "converged" and r.converged and r.message == "gradient norm <= tol"
    r = sgd(lambda x, idx: quad(x), x0, n_samples=4, batch_size=2, lr=0.05, num_epochs=1)
    assert r.status == "max_iter" and not r.converged
    legacy = OptResult(x=x0, xs=x0[None], values=[0.0], grad_norms=[0.0], n_iter=0, converged=True)
    assert legacy.status == "converged"


def test_rounding_level_formula():
    x = torch.tensor([2.0, -4.0], dtype=torch.float64)
    g = torch.tensor([0.5, 0.25], dtype=torch.float64)
    eps = torch.finfo(torch.float64).eps
    assert rounding_level(-3.0, x, g) == pytest.approx(100 * eps * (3.0 + 2.0 * 0.5 + 4.0 * 0.25))
    eps32 = torch.finfo(torch.float32).eps
    assert rounding_level(1.0, x.float(), g.float()) == pytest.approx(100 * eps32 * 3.0)


def _first_within(values: list[float], factor: float) -> int:
    floor = min(values)
    return next(k for k, v in enumerate(values) if v <= factor * floor)


@pytest.mark.parametrize("kw", [{}, {"momentum": 0.5}, {"momentum": 0.6, "nesterov": True}])
def test_gd_stalls_at_the_float64_floor_instead_of_max_iter(quad, kw):
    """tol = 0 cannot be met: GD reaches the floor (|x - x*| ~ eps|x*|) and says so, long before
    max_iter; plain GD within its 50-step window, momentum within half its run."""
    x0 = torch.zeros(3, dtype=torch.float64)
    res = gradient_descent(quad, x0, lr=1 / quad.L, max_iter=20000, tol=0.0, **kw)
    # (an exactly zero gradient counts as converged)
    assert res.status in ("stalled", "converged") and res.n_iter < 2000, res
    assert (res.x - quad.x_star).abs().max() < 1e-14
    if res.status == "stalled":
        assert res.message.startswith("stalled at machine precision") and "|grad| =" in res.message
        floor_at = _first_within(res.grad_norms, 10.0)
        window = 50 if not kw else max(50, res.n_iter // 2)
        assert res.n_iter - floor_at <= 2 * window + 50, (floor_at, res.n_iter)


def test_gd_still_converges_to_reachable_tol_and_never_stalls_while_progressing():
    """A slow run (kappa 1e3) on f = q + 1, whose decrease per step ~|grad|^2/L falls far below
    the rounding of f ~ 1 long before the end, is not cut short: |grad| still sets a new low each
    step. Its iteration count is the closed form's: |grad_k|^2 = sum_i lam_i^2 c_i^2 (1 - lam_i/L)^(2k)."""
    q = make_quadratic(torch.logspace(-3, 0, 6), generator=torch.Generator().manual_seed(4))
    x0 = q.x_star + torch.ones(6, dtype=torch.float64)
    res = gradient_descent(lambda x: q(x) + 1.0, x0, lr=1 / q.L, max_iter=60000, tol=1e-12)
    assert res.status == "converged" and res.grad_norms[-1] <= 1e-12
    lam, V = torch.linalg.eigh(q.A)
    c = V.T @ (x0 - q.x_star)
    k = np.arange(60001)[:, None]
    gn = np.sqrt((lam.numpy() ** 2 * c.numpy() ** 2 * (1 - lam.numpy() / q.L) ** (2 * k)).sum(1))
    assert res.n_iter == int(np.argmax(gn <= 1e-12))
    assert res.values[-2] - res.values[-1] < 1e-16  # the premise: f no longer shows the progress


def test_gd_divergence_reported_with_status_and_the_partial_run():
    """lr = 2.1/L on a quadratic: |1 - lr L| = 1.1 per step, f grows 1.21x per step. It stops once
    f is 1e10 times its start scale (about 120 steps) instead of reaching f ~ 1e82 at max_iter."""
    q = make_quadratic([1.0, 10.0], x_star=[0.5, -0.3], generator=torch.Generator().manual_seed(0))
    x0 = torch.tensor([-1.5, 1.2], dtype=torch.float64)
    lr = 2.1 / q.L
    with pytest.raises(DivergenceError, match=r"diverged at iteration \d+.*Lower lr") as info:
        gradient_descent(q, x0, lr=lr)
    assert isinstance(info.value, FloatingPointError)
    res = info.value.result
    assert res.status == "diverged" and not res.converged and res.message == str(info.value)
    assert 100 < res.n_iter < 160
    assert len(res.values) == res.n_iter + 1 and res.xs.shape == (res.n_iter + 1, 2)
    scale = abs(res.values[0]) + lr * res.grad_norms[0] ** 2
    assert res.values[-1] - res.values[0] > 1e10 * scale >= res.values[-2] - res.values[0]
    # the iterates are the closed form x* + (I - lr A)^k (x0 - x*)
    M = torch.eye(2, dtype=torch.float64) - lr * q.A
    torch.testing.assert_close(res.x, q.x_star + torch.linalg.matrix_power(M, res.n_iter) @ (x0 - q.x_star))
    # a 100-step run (notebook 02 plots it) is returned whole, growing at the predicted rate
    res = gradient_descent(q, x0, lr=lr, max_iter=100, tol=0.0)
    assert res.status == "max_iter" and res.n_iter == 100
    err = (res.xs - q.x_star).norm(dim=1)
    rho = quadratic_gd_rate(q.eigenvalues, lr)
    assert (err[-1] / err[-51]).item() ** (1 / 50) == pytest.approx(rho, abs=1e-3)
    # far above 2/L it stops within a few steps, still a FloatingPointError (notebook 02 catches it)
    with pytest.raises(FloatingPointError, match="Lower lr"):
        gradient_descent(q, x0, lr=5.0 / q.L, max_iter=10_000)


def test_lbfgs_stalls_at_the_floor_and_matches_the_closed_form():
    """tol = 0 on 0.5 x'Ax - b'x (eigenvalues 1..100): L-BFGS's line search needs to see f decrease,
    so it stops, as "stalled" and not at max_iter, once the decrease |g|^2/(2 lambda) is below the
    rounding of f; x is then within |grad|/mu of the closed-form minimiser A^{-1}b (strong
    convexity, mu = 1), and a reachable tol converges."""
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        Q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
        A = Q @ torch.diag(torch.logspace(0, 2, 5, dtype=torch.float64)) @ Q.T
        b = torch.randn(5, generator=g, dtype=torch.float64)
        x_star = np.linalg.solve(A.numpy(), b.numpy())
        res = lbfgs(lambda x, A=A, b=b: 0.5 * x @ A @ x - b @ x, torch.zeros(5, dtype=torch.float64),
                    tol=0.0, max_iter=2000)
        assert res.status == "stalled" and not res.converged and res.n_iter < 200, res
        assert res.message.startswith("stalled at machine precision")
        assert res.grad_norms[-1] < 1e-6, res
        assert np.abs(res.x.numpy() - x_star).max() <= res.grad_norms[-1] / 1.0 * (1 + 1e-6)
        res = lbfgs(lambda x, A=A, b=b: 0.5 * x @ A @ x - b @ x, torch.zeros(5, dtype=torch.float64),
                    tol=1e-6)
        assert res.status == "converged" and res.grad_norms[-1] <= 1e-6
