r"""Newton's method for roots and minima, its safeguards, and Hessian-free tools.

* :func:`newton_root` solves :math:`F(x)=0` with the Jacobian from autograd.
* :func:`newton_minimize` minimises a scalar :math:`f` with the Hessian from autograd, with
  optional damping (a regularised Hessian :math:`H+\lambda I`), an adaptive shift that makes the
  Hessian positive definite, and a backtracking (Armijo) line search.
* :func:`logistic_irls` is Newton's method for L2-regularised logistic regression written as
  iteratively reweighted least squares, with the Hessian :math:`X^\top W X` in closed form
  (and an optional Gaussian prior, which :func:`transfer_utils.bayes.laplace.fit_laplace_logistic` uses).
* :func:`hvp` (double backward) and :func:`conjugate_gradient` solve :math:`Hp=-g` without
  forming :math:`H` (they live in :mod:`transfer_utils.calculus.hessian_free` and are re-exported here).

Near a minimiser Newton's predicted decrease :math:`\tfrac12\nabla f^\top H^{-1}\nabla f` falls
below the rounding level of :math:`f` (:func:`transfer_utils.calculus.optim_base.rounding_level`, about
:math:`\varepsilon|f|`) while :math:`\|\nabla f\|` is still far above its own floor; from there on
the minimisers judge a step by the gradient norm, which is still resolvable, and report
``status == "stalled"`` when even that cannot be lowered (see :class:`~transfer_utils.calculus.optim_base.OptResult`).

Introduced in ``notebooks/03_newton``; :func:`newton_minimize` is reused in 04 (warm starts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from transfer_utils.calculus.hessian_free import conjugate_gradient, hvp
from transfer_utils.calculus.landscapes import logistic_loss
from transfer_utils.calculus.line_search import backtrack
from transfer_utils.calculus.optim_base import (Objective, OptResult, as_start, check_budget, check_scalar,
                                                finish_result, rounding_level, stalled_message, value_and_grad)
from transfer_utils.core.validation import check_binary_labels, check_finite, check_positive, check_shaped, check_xy

__all__ = ["SingularHessianError", "hessian", "hvp", "newton_root", "newton_minimize", "logistic_irls",
           "conjugate_gradient"]


class SingularHessianError(RuntimeError):
    """The Newton system cannot be solved because the Hessian (or Jacobian) is singular."""


def hessian(f: Objective, x: torch.Tensor) -> torch.Tensor:
    r"""The Hessian :math:`\nabla^2 f(x)`, shape ``(d, d)``, by ``torch.func`` (forward over reverse)."""
    check_finite(x, "x")
    check_scalar(f(x.detach()))
    return torch.func.hessian(lambda z: f(z).reshape(()))(x.detach()).detach()


def _solve(H: torch.Tensor, rhs: torch.Tensor, it: int, rcond: float, what: str) -> torch.Tensor:
    svals = torch.linalg.svdvals(H)
    if not torch.isfinite(svals).all():
        raise FloatingPointError(f"Non-finite {what} at iteration {it}; check f near this point.")
    smax = float(svals.max())
    if smax == 0.0 or float(svals.min()) <= rcond * smax:
        raise SingularHessianError(
            f"The {what} is singular at iteration {it} (smallest/largest singular value "
            f"{float(svals.min()):.2e}/{smax:.2e}), so the Newton step is undefined. Use damping > 0 "
            "(solve with H + damping*I), regularize=True, or start elsewhere."
        )
    return torch.linalg.solve(H, rhs)


def newton_root(
    F: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor | Sequence[float],
    *,
    max_iter: int = 50,
    tol: float = 1e-12,
    rcond: float = 1e-14,
) -> OptResult:
    r"""Newton's method for a root of :math:`F:\mathbb R^d\to\mathbb R^d`.

    :math:`x_{k+1} = x_k - J_F(x_k)^{-1} F(x_k)` (for :math:`d=1`: :math:`x - F(x)/F'(x)`).
    Stops when :math:`\|F(x_k)\| \le` ``tol``.

    Returns:
        :class:`OptResult` whose ``values`` and ``grad_norms`` both hold :math:`\|F(x_k)\|`.

    Raises:
        ValueError: ``F(x)`` does not have the shape of ``x``.
        SingularHessianError: the Jacobian is singular (e.g. :math:`F'(x)=0`).
        FloatingPointError: a non-finite value.
    """
    check_budget(max_iter, tol)
    check_positive(rcond, "rcond", allow_zero=True)
    x = as_start(x0)
    xs, res = [x.clone()], []
    k = 0
    while True:
        Fx = F(x)
        if not isinstance(Fx, torch.Tensor) or Fx.shape != x.shape:
            raise ValueError(
                f"F must map a tensor of shape {tuple(x.shape)} to the same shape, got "
                f"{tuple(Fx.shape) if isinstance(Fx, torch.Tensor) else type(Fx).__name__}."
            )
        Fx = Fx.detach()
        if not torch.isfinite(Fx).all():
            raise FloatingPointError(f"Non-finite F(x) at iteration {k}; start closer to the root.")
        res.append(float(Fx.norm()))
        if res[-1] <= tol or k == max_iter:
            break
        J = torch.func.jacfwd(F)(x).detach()
        x = x - _solve(J, Fx, k, rcond, "Jacobian")
        k += 1
        xs.append(x.clone())
    return finish_result(xs, res, list(res), k, tol)


def newton_minimize(
    f: Objective,
    x0: torch.Tensor | Sequence[float],
    *,
    max_iter: int = 50,
    tol: float = 1e-10,
    damping: float = 0.0,
    line_search: bool = False,
    regularize: bool = False,
    min_eig: float = 1e-6,
    c1: float = 1e-4,
    shrink: float = 0.5,
    rcond: float = 1e-12,
    hess: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> OptResult:
    r"""Newton's method for :math:`\min f`, with the safeguards that make it robust.

    Step: :math:`p_k = -(H_k + \lambda_k I)^{-1} \nabla f(x_k)`, :math:`x_{k+1} = x_k + t_k p_k`.

    * ``damping`` :math:`=\lambda` fixed (a regularised, Levenberg-style Hessian);
    * ``regularize=True`` picks
      :math:`\lambda_k = \max(\lambda,\ \text{min\_eig} - \lambda_{\min},\ -2\lambda_{\min})` with
      :math:`\lambda_{\min}=\lambda_{\min}(H_k)`, so that the smallest eigenvalue of :math:`H_k+\lambda_k I`
      is at least :math:`\max(\text{min\_eig}, |\lambda_{\min}|)` and :math:`p_k` is a descent direction;
    * ``line_search=True`` backtracks :math:`t \leftarrow` ``shrink`` :math:`\cdot t` from :math:`t=1`
      until Armijo's condition :math:`f(x+tp) \le f(x) + c_1 t \nabla f^\top p` holds. If
      :math:`p_k` is not a descent direction (an indefinite Hessian), the step falls back to
      :math:`-\nabla f` for that iteration (recorded in ``extra["fallback"]``).

    Without safeguards :math:`t_k=1`, :math:`\lambda=0`: pure Newton, which converges
    quadratically near a minimiser with positive-definite Hessian, and which can head for a saddle
    or maximum where the Hessian is indefinite.

    **At machine precision.** Near a minimiser the Newton decrement :math:`|\nabla f^\top p|
    \approx \|\nabla f\|^2/h` (:math:`h` the curvature along :math:`p`) drops below the rounding
    level :math:`R` of :func:`~transfer_utils.calculus.optim_base.rounding_level` long before
    :math:`\|\nabla f\|` reaches its own floor; Armijo's test then compares two values of
    :math:`f` that agree to rounding and fails on noise. So when :math:`t|\nabla f^\top p| \le R` a
    step is judged by the gradient instead: accepted if :math:`\|\nabla f(x+tp)\| < \|\nabla f(x)\|`
    (and, with the line search, :math:`f(x+tp) \le f(x) + R`). For the full Newton step
    :math:`\nabla f(x+p) = O(\|\nabla f(x)\|^2)`, so this holds unless :math:`\nabla f(x)` is
    rounding noise itself; when it fails (or :math:`x + tp = x` in floating point) the run stops
    with ``status == "stalled"``, its message giving :math:`\|\nabla f\|`.

    Args:
        f: objective, a function of a 1-D float tensor returning a scalar tensor.
        x0: start, shape ``(d,)``.
        tol: stop when :math:`\|\nabla f(x_k)\| \le` ``tol``.
        hess: :math:`x \mapsto \nabla^2 f(x)` in closed form; None takes it from autograd
            (:func:`hessian`).

    Returns:
        :class:`OptResult`; ``extra`` holds ``"step"`` (the :math:`t_k`), ``"shift"`` (the
        :math:`\lambda_k`) and ``"fallback"`` (iterations that used :math:`-\nabla f`).
        ``status`` is ``"converged"``, ``"stalled"`` or ``"max_iter"``.

    Raises:
        ValueError: ``f`` does not return a scalar, or bad arguments.
        SingularHessianError: :math:`H_k+\lambda_k I` is singular (use ``damping > 0``).
        FloatingPointError: a non-finite value, gradient or Hessian.
    """
    check_positive(damping, "damping", allow_zero=True)
    check_positive(min_eig, "min_eig")
    check_positive(rcond, "rcond", allow_zero=True)
    check_budget(max_iter, tol)
    if not (0 < c1 < 1 and 0 < shrink < 1):
        raise ValueError(f"Need 0 < c1 < 1 and 0 < shrink < 1, got c1={c1}, shrink={shrink}.")
    x = as_start(x0)
    eye = torch.eye(x.numel(), dtype=x.dtype)
    xs, values, gnorms = [x.clone()], [], []
    steps, shifts, fallback = [], [], []
    advice = "Use line_search=True, damping > 0 or regularize=True, or start closer to a minimum."
    k = 0
    status, message = "", ""
    y, g = value_and_grad(f, x)
    while True:
        if not (torch.isfinite(y) and torch.isfinite(g).all()):
            raise FloatingPointError(f"Non-finite value or gradient at iteration {k}: the run diverged. {advice}")
        values.append(float(y))
        gnorms.append(float(g.norm()))
        if gnorms[-1] <= tol or k == max_iter:
            break
        H = hessian(f, x) if hess is None else hess(x).detach()
        if not torch.isfinite(H).all():
            raise FloatingPointError(f"Non-finite Hessian at iteration {k}. {advice}")
        H = 0.5 * (H + H.T)
        lam = damping
        if regularize:
            lmin = float(torch.linalg.eigvalsh(H)[0])
            lam = max(lam, min_eig - lmin, -2.0 * lmin)
        shifts.append(lam)
        p = -_solve(H + lam * eye, g, k, rcond, "Hessian" if lam == 0 else "regularised Hessian")
        slope = float(g @ p)
        rounding = rounding_level(float(y), x, g)
        if line_search:
            if slope >= 0:
                p, slope = -g, -float(g @ g)
                fallback.append(k)
            step = backtrack(f, x, float(y), g, p, slope, c1=c1, shrink=shrink, rounding=rounding,
                              need_grad=False, floor_trials=1)
            if step is None:
                raise FloatingPointError(f"Line search found no finite value at iteration {k}. {advice}")
            if step.stalled:
                status, message = "stalled", stalled_message(step.stalled, gnorms[-1], tol)
                break
            t, x_new = step.t, step.x
            y, g = (step.f, step.g) if step.g is not None else value_and_grad(f, x_new)
        else:
            t, x_new = 1.0, x + p
            stalled = ""
            if torch.equal(x_new, x):
                stalled = "the Newton step is below the floating-point resolution of x"
            y_new, g_new = value_and_grad(f, x_new)
            if not stalled and abs(slope) <= rounding and float(g_new.norm()) >= gnorms[-1]:
                stalled = (f"the Newton decrement {abs(slope):.1e} is below the rounding level "
                           f"{rounding:.1e} of f = {float(y):.12g} and the step does not lower |grad|")
            if stalled:
                status, message = "stalled", stalled_message(stalled, gnorms[-1], tol)
                break
            y, g = y_new, g_new
        steps.append(t)
        x = x_new
        k += 1
        xs.append(x.clone())
    return finish_result(xs, values, gnorms, k, tol, message=message, status=status,
                   extra={"step": steps, "shift": shifts, "fallback": fallback})


def logistic_irls(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    l2: float = 1e-3,
    center: torch.Tensor | None = None,
    precision: torch.Tensor | None = None,
    init: torch.Tensor | None = None,
    line_search: bool = False,
    max_iter: int = 50,
    tol: float = 1e-10,
) -> OptResult:
    r"""Newton's method for penalised logistic regression (IRLS), Hessian in closed form.

    Minimises the mean logistic loss of :func:`transfer_utils.calculus.landscapes.logistic_loss`
    (:math:`y_i\in\{0,1\}`) plus a quadratic penalty,

    .. math:: f(w) = \frac1n\sum_i \big[\log(1+e^{x_i^\top w}) - y_i x_i^\top w\big]
              + \tfrac12 (w - m)^\top P (w - m),

    :math:`P = \ell_2 I`, :math:`m = 0` by default (a Gaussian prior :math:`\mathcal N(m, (nP)^{-1})`
    in general: its precision adds to the Hessian and :math:`P(w - m)` to the gradient). With
    :math:`p=\sigma(Xw)`, :math:`\nabla f = X^\top(p-y)/n + P(w-m)` and
    :math:`\nabla^2 f = X^\top W X/n + P`, :math:`W=\operatorname{diag}(p(1-p))`, so each step
    :math:`w \leftarrow w - (\nabla^2 f)^{-1}\nabla f` solves one weighted least-squares problem.
    The steps are those of :func:`newton_minimize` (same stopping rules and ``status``), given
    this closed-form Hessian instead of autograd's. Add a column of ones to ``X`` for an intercept.

    Args:
        l2: :math:`\ell_2`, used when ``precision`` is None.
        center: :math:`m`, shape ``(d,)`` (default 0).
        precision: :math:`P`, shape ``(d, d)``, symmetric positive semi-definite.
        init: the start (default: zeros).
        line_search: backtrack until Armijo's condition holds (damped Newton, for far starts).

    Shape: ``X`` ``(n, d)``, ``y`` ``(n,)``; ``x`` of the result is ``(d,)``.

    Raises:
        ValueError: bad shapes or labels, NaN/inf, ``l2 < 0``. SingularHessianError: singular :math:`X^\top WX/n + P`.
    """
    X, y = check_xy(X, y, floating=True)
    y = check_binary_labels(y).to(X.dtype)
    check_positive(l2, "l2", allow_zero=True)
    n, d = X.shape
    for name, T, shape in (("center", center, (d,)), ("precision", precision, (d, d)), ("init", init, (d,))):
        check_shaped(T, name, shape, what=f"X with d={d}", allow_none=True)
    m = torch.zeros(d, dtype=X.dtype) if center is None else center.to(X)
    P = l2 * torch.eye(d, dtype=X.dtype) if precision is None else precision.to(X)

    def f(w: torch.Tensor) -> torch.Tensor:
        if precision is None and center is None:
            return logistic_loss(w, X, y, l2)
        r = w - m
        return logistic_loss(w, X, y) + 0.5 * r @ (P @ r)

    def hess(w: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(X @ w)
        return (X.T * (p * (1 - p))) @ X / n + P

    w0 = torch.zeros(d, dtype=X.dtype) if init is None else init.to(X)
    return newton_minimize(f, w0, hess=hess, line_search=line_search, max_iter=max_iter, tol=tol,
                           rcond=1e-14)
