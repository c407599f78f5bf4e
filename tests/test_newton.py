"""Tests for transfer_utils.newton against closed forms, scipy and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import torch
from sklearn.linear_model import LogisticRegression

from transfer_utils.landscapes import four_wells, logistic_loss, make_quadratic, rosenbrock, saddle
from transfer_utils.newton import (
    SingularHessianError,
    conjugate_gradient,
    hessian,
    hvp,
    logistic_irls,
    newton_minimize,
    newton_root,
)


def test_newton_root_sqrt2_quadratic_convergence():
    res = newton_root(lambda x: x**2 - 2, torch.tensor([1.0], dtype=torch.float64), tol=1e-14)
    assert res.converged
    assert res.x.item() == pytest.approx(math.sqrt(2), abs=1e-15)
    e = [abs(x.item() - math.sqrt(2)) for x in res.xs]
    # e_{k+1}/e_k^2 -> f''/(2 f') = 1/(2 sqrt 2)
    ratios = [e[k + 1] / e[k] ** 2 for k in range(len(e) - 1) if e[k + 1] > 1e-14]
    assert ratios[-1] == pytest.approx(1 / (2 * math.sqrt(2)), rel=0.05)


def test_newton_root_system_matches_scipy():
    F = lambda x: torch.stack([x[0] ** 2 + x[1] ** 2 - 4, torch.exp(x[0]) + x[1] - 1])  # noqa: E731
    res = newton_root(F, torch.tensor([1.0, -1.5], dtype=torch.float64))
    ref = scipy.optimize.fsolve(lambda z: [z[0] ** 2 + z[1] ** 2 - 4, np.exp(z[0]) + z[1] - 1], [1.0, -1.5])
    np.testing.assert_allclose(res.x.numpy(), ref, atol=1e-10)


def test_one_step_on_quadratic():
    q = make_quadratic([0.5, 3.0, 40.0], x_star=[1.0, 2.0, 3.0], generator=torch.Generator().manual_seed(0))
    res = newton_minimize(q, torch.zeros(3, dtype=torch.float64), tol=1e-9)
    assert res.n_iter == 1 and res.converged
    torch.testing.assert_close(res.x, q.x_star)


def test_hessian_and_hvp_match_closed_form():
    q = make_quadratic([1.0, -2.0, 5.0], generator=torch.Generator().manual_seed(1))
    x = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    v = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    torch.testing.assert_close(hessian(q, x), q.A)
    torch.testing.assert_close(hvp(q, x, v), q.A @ v)
    # Rosenbrock Hessian against scipy's closed form
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64)
    np.testing.assert_allclose(hessian(rosenbrock, x).numpy(), scipy.optimize.rosen_hess(x.numpy()))
    np.testing.assert_allclose(hvp(rosenbrock, x, v[:2]).numpy(), scipy.optimize.rosen_hess_prod(x.numpy(), v[:2].numpy()))


def test_rosenbrock_with_line_search_matches_scipy():
    res = newton_minimize(rosenbrock, [-1.2, 1.0], line_search=True, tol=1e-10)
    assert res.converged
    torch.testing.assert_close(res.x, torch.ones(2, dtype=torch.float64))
    assert all(0 < t <= 1 for t in res.extra["step"])


def test_indefinite_hessian_pure_newton_goes_to_saddle_fixes_descend():
    x0 = torch.tensor([0.5, 0.3], dtype=torch.float64)
    pure = newton_minimize(saddle, x0)
    torch.testing.assert_close(pure.x, torch.zeros(2, dtype=torch.float64))  # a saddle, not a minimum
    # from near the maximum of four_wells pure Newton converges to the maximum (0, 0)-ish point
    top = newton_minimize(four_wells, [0.1, 0.1])
    H = hessian(four_wells, top.x)
    assert torch.linalg.eigvalsh(H).max() < 0
    for kw in ({"regularize": True, "line_search": True}, {"line_search": True}):
        res = newton_minimize(four_wells, [0.1, 0.1], **kw)
        assert res.converged and torch.linalg.eigvalsh(hessian(four_wells, res.x)).min() > 0
        assert res.values[-1] < top.values[-1]
    res = newton_minimize(four_wells, [0.1, 0.1], line_search=True)
    assert res.extra["fallback"]  # the indefinite Hessian was detected


def test_damping_equals_regularised_solve():
    q = make_quadratic([1.0, 4.0], generator=torch.Generator().manual_seed(2), x_star=[1.0, 1.0])
    x0 = torch.zeros(2, dtype=torch.float64)
    res = newton_minimize(q, x0, damping=2.0, max_iter=1, tol=0)
    expected = x0 - torch.linalg.solve(q.A + 2 * torch.eye(2, dtype=torch.float64), q.grad(x0))
    torch.testing.assert_close(res.x, expected)


def test_irls_matches_autograd_newton_and_sklearn():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 4, generator=g, dtype=torch.float64)
    w_true = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)
    y = (torch.rand(300, generator=g, dtype=torch.float64) < torch.sigmoid(X @ w_true)).to(torch.float64)
    l2 = 1e-2
    r1 = logistic_irls(X, y, l2=l2)
    r2 = newton_minimize(lambda w: logistic_loss(w, X, y, l2), torch.zeros(4, dtype=torch.float64))
    assert r1.converged and r2.converged and r1.n_iter < 12
    torch.testing.assert_close(r1.x, r2.x, atol=1e-9, rtol=0)
    sk = LogisticRegression(C=1 / (l2 * 300), fit_intercept=False, tol=1e-12, max_iter=10000).fit(X.numpy(), y.numpy())
    np.testing.assert_allclose(r1.x.numpy(), sk.coef_.ravel(), atol=1e-5)


def test_conjugate_gradient_matches_solve_and_hvp():
    q = make_quadratic(torch.linspace(1, 50, 8), generator=torch.Generator().manual_seed(3))
    b = torch.arange(8, dtype=torch.float64)
    x, res = conjugate_gradient(lambda v: q.A @ v, b, tol=1e-12)
    torch.testing.assert_close(x, torch.linalg.solve(q.A, b))
    assert len(res) <= 9 + 1
    x2, _ = conjugate_gradient(lambda v: hvp(q, torch.zeros(8, dtype=torch.float64), v), b, tol=1e-12)
    torch.testing.assert_close(x2, x)
    with pytest.raises(ValueError, match="positive definite"):
        conjugate_gradient(lambda v: -v, b)


def test_bad_input():
    with pytest.raises(ValueError, match="scalar"):
        newton_minimize(lambda x: x**2, [1.0, 2.0])
    with pytest.raises(SingularHessianError, match="damping"):
        newton_minimize(lambda x: (x[0] - x[1]) ** 2 + x[0], [1.0, 0.0])
    with pytest.raises(SingularHessianError, match="singular"):
        newton_root(lambda x: x**2 - 1, torch.tensor([0.0], dtype=torch.float64))
    with pytest.raises(FloatingPointError, match="iteration"):
        newton_minimize(lambda x: (torch.sqrt(x) ** 3).sum(), torch.tensor([-1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="damping"):
        newton_minimize(rosenbrock, [0.0, 0.0], damping=-1.0)
    with pytest.raises(ValueError, match="same shape"):
        newton_root(lambda x: x.sum(), [1.0, 2.0])
    # damping fixes the singular case
    res = newton_minimize(lambda x: (x[0] - x[1]) ** 2 + 0.5 * (x**2).sum(), [1.0, 0.0], damping=0.0)
    assert res.converged
