"""Tests for transfer_utils.calculus.newton against closed forms, scipy and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import scipy.special
import torch
from sklearn.linear_model import LogisticRegression

from transfer_utils.calculus.landscapes import four_wells, logistic_loss, make_quadratic, rosenbrock, saddle
from transfer_utils.calculus.irls import logistic_irls
from transfer_utils.calculus.newton import (
    SingularHessianError,
    conjugate_gradient,
    hessian,
    hvp,
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


# --- stopping honestly at machine precision ------------------------------------------------------
#
# The objective of notebook 04 (section "warm starts"): L2-regularised logistic regression on cubic
# features of two moons whose target sample is rotated. Newton with an Armijo line search used to
# crawl here: near the optimum Newton's predicted decrease |g'p| ~ |g|^2/h (about 1e-18) is far
# below the rounding of f (eps*|f| ~ 7e-17), so Armijo's test failed on rounding noise and the step
# shrank to nothing (seed 1 at 60 degrees: 50 iterations, not converged; seed 4: 19).

ANGLES = (0, 5, 15, 30, 60, 90)


def _cubic_features(X: torch.Tensor) -> torch.Tensor:
    """psi(x): all monomials of (x1, x2) up to degree 3 (the features of notebook 04)."""
    x1, x2 = (X[:, 0] - 0.5).double(), (X[:, 1] - 0.25).double()
    cols = [torch.ones_like(x1)] + [x1 ** (deg - a) * x2**a for deg in (1, 2, 3) for a in range(deg + 1)]
    return torch.stack(cols, 1)


def _moons_problem(seed: int, angle: float, n: int = 300, l2: float = 0.03):
    """(f_src, f_tgt, Psi_tgt, y_tgt in {0, 1}) exactly as notebook 04 builds them."""
    from transfer_utils.data.moons import make_moons_domains
    from transfer_utils.transfer.parameter_transfer import logistic_objective

    g = torch.Generator().manual_seed(1000 + seed)
    md = make_moons_domains(n, rotation_deg=float(angle), generator=g)
    f_src = logistic_objective(_cubic_features(md.X_src), md.y_src, l2=l2)
    Psi = _cubic_features(md.X_tgt)
    return f_src, logistic_objective(Psi, md.y_tgt, l2=l2), Psi, md.y_tgt.double()


def _scipy_logistic_minimiser(Psi: torch.Tensor, y01: torch.Tensor, l2: float) -> np.ndarray:
    """An independent reference: scipy's trust-region Newton on closed-form derivatives in NumPy."""
    X, s = Psi.numpy(), 2 * y01.numpy() - 1
    n = len(s)

    def fun(w):
        return np.logaddexp(0, -s * (X @ w)).mean() + 0.5 * l2 * w @ w

    def jac(w):
        return -X.T @ (s * scipy.special.expit(-s * (X @ w))) / n + l2 * w

    def hess(w):
        p = scipy.special.expit(X @ w)
        return (X.T * (p * (1 - p))) @ X / n + l2 * np.eye(X.shape[1])

    ref = scipy.optimize.minimize(fun, np.zeros(X.shape[1]), jac=jac, hess=hess, method="trust-exact",
                                  options={"gtol": 1e-12})
    return ref.x


@pytest.mark.parametrize("seed", range(5))
def test_newton_line_search_reaches_tol_on_notebook04_objective(seed):
    """Cold and warm starts, every angle: tol 1e-10 in <= 10 iterations (6 cold, 3-8 warm measured)."""
    for angle in ANGLES:
        f_src, f_tgt, Psi, _ = _moons_problem(seed, angle)
        w_cold = torch.zeros(Psi.shape[1], dtype=torch.float64)
        w_src = newton_minimize(f_src, w_cold, tol=1e-10).x
        for start, w0 in (("cold", w_cold), ("warm", w_src)):
            res = newton_minimize(f_tgt, w0, tol=1e-10, line_search=True)
            assert res.status == "converged" and res.converged, (seed, angle, start, res)
            assert res.grad_norms[-1] <= 1e-10 and res.n_iter <= 10, (seed, angle, start, res)
            assert min(res.extra["step"][-2:]) == 1.0  # no crawl: the last steps are full Newton steps


def test_newton_notebook04_case_matches_scipy():
    """The case that crawled (seed 1, 60 degrees) lands on scipy's trust-exact minimiser."""
    _, f_tgt, Psi, y01 = _moons_problem(1, 60)
    res = newton_minimize(f_tgt, torch.zeros(Psi.shape[1], dtype=torch.float64), tol=1e-10, line_search=True)
    assert res.converged and res.n_iter == 6
    np.testing.assert_allclose(res.x.numpy(), _scipy_logistic_minimiser(Psi, y01, 0.03), atol=1e-8, rtol=0)


def _noisy(f, rel: float):
    """f times (1 + rel*u(w)), u a deterministic pseudo-random number in [-1, 1] per point.

    A stand-in for other rounding (another CPU, another summation order): the value changes by
    up to ``rel`` relative, the gradient by the same relative amount.
    """
    c = torch.linspace(1.0, 2.0, 10, dtype=torch.float64)

    def g(w: torch.Tensor) -> torch.Tensor:
        u = torch.sin(1e17 * (w.detach() * c).sum())  # jumps by radians between neighbouring floats
        return f(w) * (1 + rel * u)

    return g


@pytest.mark.parametrize("rel", [1e-15, 1e-14])
def test_newton_line_search_with_perturbed_rounding_never_crawls(rel):
    for seed, angle in ((1, 60), (4, 60), (0, 90), (2, 0)):
        _, f_tgt, Psi, _ = _moons_problem(seed, angle)
        w0 = torch.zeros(Psi.shape[1], dtype=torch.float64)
        res = newton_minimize(_noisy(f_tgt, rel), w0, tol=1e-10, line_search=True)
        assert res.status in ("converged", "stalled") and res.n_iter <= 10, (seed, angle, res)
        assert res.grad_norms[-1] <= 1e-10, (seed, angle, res)
        res = newton_minimize(_noisy(f_tgt, rel), w0, tol=0.0, line_search=True)
        assert res.status == "stalled" and res.n_iter <= 12 and res.grad_norms[-1] < 1e-15, (seed, angle, res)


def _iterations_after_floor(res) -> int:
    """Steps taken after |grad| first came within 10x of the smallest value the run reached."""
    floor = min(res.grad_norms)
    return res.n_iter - next(k for k, gn in enumerate(res.grad_norms) if gn <= 10 * floor)


def test_tol_zero_stalls_at_the_floor_instead_of_max_iter():
    """tol = 0 cannot be met; each solver says "stalled" a few steps after reaching the floor."""
    for seed, angle in ((0, 0), (1, 60), (3, 90)):
        _, f_tgt, Psi, y01 = _moons_problem(seed, angle)
        w0 = torch.zeros(Psi.shape[1], dtype=torch.float64)
        ref = _scipy_logistic_minimiser(Psi, y01, 0.03)
        runs = {
            "Newton + line search": newton_minimize(f_tgt, w0, tol=0.0, line_search=True),
            "pure Newton": newton_minimize(f_tgt, w0, tol=0.0),
            "IRLS": logistic_irls(Psi, y01, l2=0.03, tol=0.0),
        }
        for name, res in runs.items():
            assert res.status == "stalled" and not res.converged, (name, res)
            assert res.message.startswith("stalled at machine precision") and "|grad| =" in res.message
            assert res.grad_norms[-1] < 1e-15 and res.n_iter <= 12, (name, res)
            assert _iterations_after_floor(res) <= 6, (name, res.grad_norms)
            np.testing.assert_allclose(res.x.numpy(), ref, atol=1e-8, rtol=0)
            # the tolerance float64 can reach is met in Newton's usual 6 steps
            assert next(k for k, gn in enumerate(res.grad_norms) if gn <= 1e-10) == 6


def test_newton_stalls_on_a_quadratic_with_a_large_minimiser():
    """0.5 x'Ax - b'x with |b| ~ 1e8: after one step |grad| ~ 1e-8 is rounding (eps*|A||x|), the
    next Newton step is below the rounding of f (|f| ~ 1e16) or even of x. Previously pure Newton
    ran to max_iter and the line search raised "no decrease"; now both say "stalled" at once."""
    b = torch.tensor([1e8, -2e8, 5e7], dtype=torch.float64)
    reasons = set()
    for seed in range(4):
        gen = torch.Generator().manual_seed(seed)
        Q, _ = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))
        A = Q @ torch.diag(torch.tensor([1.0, 3.0, 7.0], dtype=torch.float64)) @ Q.T
        x_star = np.linalg.solve(A.numpy(), b.numpy())
        for kw in ({}, {"line_search": True}):
            res = newton_minimize(lambda x, A=A: 0.5 * x @ A @ x - b @ x, torch.zeros(3, dtype=torch.float64),
                                  tol=0.0, max_iter=200, **kw)
            assert res.status == "stalled" and res.n_iter <= 3, (seed, kw, res)
            assert res.grad_norms[-1] < 1e-15 * b.norm().item()
            np.testing.assert_allclose(res.x.numpy(), x_star, rtol=1e-14)
            reasons.add("resolution" in res.message)
    assert reasons == {True, False}  # both ways of stalling occur: step below eps*|x|, and |grad| not lowered


def test_line_search_status_and_result_fields():
    res = newton_minimize(rosenbrock, [-1.2, 1.0], line_search=True, tol=1e-10)
    assert res.status == "converged" and res.message == "gradient norm <= tol"
    res = newton_minimize(rosenbrock, [-1.2, 1.0], line_search=True, tol=1e-10, max_iter=3)
    assert res.status == "max_iter" and not res.converged and "max_iter" in res.message


@pytest.mark.parametrize("call", [
    "newton_minimize(lambda x: (x**4).sum() + (x**2).sum(), [1.0, -2.0])",
    "hessian(lambda x: (x**3).sum(), torch.ones(2))",
    "newton_root(lambda x: x**2 - 2, torch.tensor([1.0]))",
])
def test_forward_mode_runs_without_torchs_jit_warning(call: str):
    """A fresh process, every FutureWarning an error: forward mode's first use (which makes torch load its
    decompositions through the deprecated ``torch.jit.script``) must not surface that FutureWarning;
    and the filter is scoped to the call, so the same warning raised afterwards still shows."""
    import subprocess
    import sys
    from pathlib import Path
    code = ("import warnings, torch\n"
            "from transfer_utils.calculus.newton import hessian, newton_minimize, newton_root\n"
            f"{call}\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    warnings.warn('`torch.jit.script` is deprecated. (outside)', FutureWarning)\n"
            "assert len(caught) == 1, caught\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-c", code], cwd=root,
                          capture_output=True, text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
