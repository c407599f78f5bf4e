r"""Newton's method for roots and minima, its safeguards, and Hessian-free tools.

* :func:`newton_root` solves :math:`F(x)=0` with the Jacobian from autograd.
* :func:`newton_minimize` minimises a scalar :math:`f` with the Hessian from autograd, with
  optional damping (a regularised Hessian :math:`H+\lambda I`), an adaptive shift that makes the
  Hessian positive definite, and a backtracking (Armijo) line search.
* Newton's method for logistic regression with the Hessian in closed form (IRLS) is in
  :mod:`transfer_utils.calculus.irls`.
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

import warnings
from collections.abc import Callable, Sequence

import torch

from transfer_utils.calculus.hessian_free import conjugate_gradient, hvp
from transfer_utils.calculus.line_search import backtrack
from transfer_utils.calculus.optim_base import (Objective, OptResult, as_start, check_budget, check_scalar,
                                                finish_result, rounding_level, stalled_message, value_and_grad)
from transfer_utils.core.validation import check_finite, check_positive

__all__ = ["SingularHessianError", "hessian", "hvp", "newton_root", "newton_minimize",
           "conjugate_gradient"]


class SingularHessianError(RuntimeError):
    """The Newton system cannot be solved because the Hessian (or Jacobian) is singular."""


def hessian(f: Objective, x: torch.Tensor) -> torch.Tensor:
    r"""The Hessian :math:`\nabla^2 f(x)`, shape ``(d, d)``, by ``torch.func`` (forward over reverse)."""
    check_finite(x, "x")
    x = x.detach()
    check_scalar(f(x))
    with warnings.catch_warnings():  # forward mode's first use in a process loads torch's decompositions with
        warnings.filterwarnings("ignore", r"`torch\.jit\.script` is deprecated", FutureWarning)  # a deprecated API
        return torch.func.hessian(lambda z: f(z).reshape(()))(x).detach()


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
        with warnings.catch_warnings():  # forward mode, as in hessian(): only torch's own FutureWarning
            warnings.filterwarnings("ignore", r"`torch\.jit\.script` is deprecated", FutureWarning)
            x = x - _solve(torch.func.jacfwd(F)(x).detach(), Fx, k, rcond, "Jacobian")
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
