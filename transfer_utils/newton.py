r"""Newton's method for roots and minima, its safeguards, and Hessian-free tools.

* :func:`newton_root` solves :math:`F(x)=0` with the Jacobian from autograd.
* :func:`newton_minimize` minimises a scalar :math:`f` with the Hessian from autograd, with
  optional damping (a regularised Hessian :math:`H+\lambda I`), an adaptive shift that makes the
  Hessian positive definite, and a backtracking (Armijo) line search.
* :func:`logistic_irls` is Newton's method for L2-regularised logistic regression written as
  iteratively reweighted least squares, with the Hessian :math:`X^\top W X` in closed form.
* :func:`hvp` (double backward) and :func:`conjugate_gradient` solve :math:`Hp=-g` without
  forming :math:`H`.

Near a minimiser Newton's predicted decrease :math:`\tfrac12\nabla f^\top H^{-1}\nabla f` falls
below the rounding level of :math:`f` (:func:`transfer_utils.optim.rounding_level`, about
:math:`\varepsilon|f|`) while :math:`\|\nabla f\|` is still far above its own floor; from there on
the minimisers judge a step by the gradient norm, which is still resolvable, and report
``status == "stalled"`` when even that cannot be lowered (see :class:`~transfer_utils.optim.OptResult`).

Introduced in ``notebooks/03_newton``; :func:`newton_minimize` is reused in 04 (warm starts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from transfer_utils.optim import (
    OptResult,
    _as_start,
    _backtrack,
    _check_scalar,
    _finish,
    _stalled_message,
    rounding_level,
    value_and_grad,
)

__all__ = [
    "SingularHessianError",
    "hessian",
    "hvp",
    "newton_root",
    "newton_minimize",
    "logistic_irls",
    "conjugate_gradient",
]

Objective = Callable[[torch.Tensor], torch.Tensor]


class SingularHessianError(RuntimeError):
    """The Newton system cannot be solved because the Hessian (or Jacobian) is singular."""


def hessian(f: Objective, x: torch.Tensor) -> torch.Tensor:
    r"""The Hessian :math:`\nabla^2 f(x)`, shape ``(d, d)``, by ``torch.func`` (forward over reverse)."""
    x = x.detach()
    _check_scalar(f(x))
    return torch.func.hessian(lambda z: f(z).reshape(()))(x).detach()


def hvp(f: Objective, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""Hessian-vector product :math:`\nabla^2 f(x)\,v` by double backward (Pearlmutter, 1994).

    :math:`Hv = \nabla_x\big(\nabla f(x)^\top v\big)`: two backward passes, never forming
    :math:`H`, so the cost is a small multiple of one gradient.

    Shape: ``x`` and ``v`` are ``(d,)``; the result is ``(d,)``.
    """
    if x.shape != v.shape:
        raise ValueError(f"x and v must have the same shape, got {tuple(x.shape)} and {tuple(v.shape)}.")
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        y = _check_scalar(f(x))
        (g,) = torch.autograd.grad(y, x, create_graph=True)
        (hv,) = torch.autograd.grad(g, x, grad_outputs=v.detach())
    return hv.detach()


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
    x = _as_start(x0)
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
    return _finish(xs, res, list(res), k, tol)


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

    **At machine precision.** Near a minimiser the Newton decrement
    :math:`|\nabla f^\top p| = \nabla f^\top H^{-1}\nabla f \approx \|\nabla f\|^2/h` (:math:`h` the
    curvature along :math:`p`) is twice the decrease the step will bring, and it drops below the
    rounding level :math:`R \approx 100\,\varepsilon|f|` of :func:`~transfer_utils.optim.rounding_level`
    once :math:`\|\nabla f\| \lesssim \sqrt{Rh}` (about :math:`10^{-8}` for a logistic loss
    :math:`f\approx 0.3` with :math:`h = 0.03`), far above the floor of the gradient itself (about
    :math:`\varepsilon` times the size of its terms, :math:`10^{-17}`-:math:`10^{-15}` there). A step
    later the decrement is :math:`\sim 10^{-18} \ll \varepsilon|f|`, and Armijo's test
    :math:`f(x+tp) \le f(x) + c_1 t\nabla f^\top p` compares two values of :math:`f` that agree to
    rounding: it fails on noise (a CPU whose rounding differs fails on other runs) and
    backtracking shrinks :math:`t` to nothing, so the run crawls to ``max_iter``. So when
    :math:`t|\nabla f^\top p| \le R` the step is judged by the gradient instead: it is accepted if
    :math:`\|\nabla f(x+tp)\| < \|\nabla f(x)\|` (and, with the line search,
    :math:`f(x+tp) \le f(x) + R`). For the full Newton step
    :math:`\nabla f(x+p) = O(\|\nabla f(x)\|^2)`, so this holds unless :math:`\nabla f(x)` is
    rounding noise itself: when it fails (or :math:`x + tp = x` in floating point) no step can be
    shown to make progress and the run stops with ``status == "stalled"``, its message giving
    :math:`\|\nabla f\|`. A tolerance that float64 can reach (e.g. ``1e-10`` for an objective
    of order 1 with gradient terms of order 1) is met before that.

    Args:
        f: objective, a function of a 1-D float tensor returning a scalar tensor.
        x0: start, shape ``(d,)``.
        tol: stop when :math:`\|\nabla f(x_k)\| \le` ``tol``.

    Returns:
        :class:`OptResult`; ``extra`` holds ``"step"`` (the :math:`t_k`), ``"shift"`` (the
        :math:`\lambda_k`) and ``"fallback"`` (iterations that used :math:`-\nabla f`).
        ``status`` is ``"converged"``, ``"stalled"`` or ``"max_iter"``.

    Raises:
        ValueError: ``f`` does not return a scalar, or bad arguments.
        SingularHessianError: :math:`H_k+\lambda_k I` is singular (use ``damping > 0``).
        FloatingPointError: a non-finite value, gradient or Hessian.
    """
    if damping < 0:
        raise ValueError(f"damping must be >= 0, got {damping}.")
    if not (0 < c1 < 1 and 0 < shrink < 1):
        raise ValueError(f"Need 0 < c1 < 1 and 0 < shrink < 1, got c1={c1}, shrink={shrink}.")
    x = _as_start(x0)
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
        H = hessian(f, x)
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
            step = _backtrack(f, x, float(y), g, p, slope, c1=c1, shrink=shrink, rounding=rounding,
                              need_grad=False, floor_trials=1)
            if step is None:
                raise FloatingPointError(f"Line search found no finite value at iteration {k}. {advice}")
            if step.stalled:
                status, message = "stalled", _stalled_message(step.stalled, gnorms[-1], tol)
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
                status, message = "stalled", _stalled_message(stalled, gnorms[-1], tol)
                break
            y, g = y_new, g_new
        steps.append(t)
        x = x_new
        k += 1
        xs.append(x.clone())
    return _finish(xs, values, gnorms, k, tol, message=message, status=status,
                   extra={"step": steps, "shift": shifts, "fallback": fallback})


def logistic_irls(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    l2: float = 1e-3,
    max_iter: int = 50,
    tol: float = 1e-10,
) -> OptResult:
    r"""Newton's method for L2-regularised logistic regression (IRLS), Hessian in closed form.

    Loss :math:`f(w) = \frac1n\sum_i \big[\log(1+e^{x_i^\top w}) - y_i x_i^\top w\big]
    + \frac{\ell_2}{2}\|w\|^2`, :math:`y_i\in\{0,1\}`; with :math:`p=\sigma(Xw)`,
    :math:`\nabla f = X^\top(p-y)/n + \ell_2 w`, :math:`\nabla^2 f = X^\top W X/n + \ell_2 I`,
    :math:`W=\operatorname{diag}(p(1-p))`. Each step solves one weighted least-squares problem.
    Same loss as :func:`transfer_utils.landscapes.logistic_loss` (add a column of ones to ``X``
    for an intercept).

    Stops with ``status`` ``"converged"`` (:math:`\|\nabla f\| \le` ``tol``), ``"max_iter"``, or
    ``"stalled"`` when the Newton decrement :math:`\nabla f^\top H^{-1}\nabla f` is below the
    rounding level :math:`R` of :math:`f` and the step does not lower :math:`\|\nabla f\|` without
    raising :math:`f` by more than :math:`R` (see :func:`newton_minimize`).

    Shape: ``X`` ``(n, d)``, ``y`` ``(n,)``; ``x`` of the result is ``(d,)``.
    """
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (n, d) and y (n,), got {tuple(X.shape)} and {tuple(y.shape)}.")
    if X.shape[0] == 0:
        raise ValueError("X is empty.")
    n, d = X.shape
    y = y.to(X.dtype)
    w = torch.zeros(d, dtype=X.dtype)
    xs, values, gnorms = [w.clone()], [], []
    eye = torch.eye(d, dtype=X.dtype)

    def loss_grad_prob(w: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
        z = X @ w
        p = torch.sigmoid(z)
        loss = (torch.nn.functional.softplus(z) - y * z).mean() + 0.5 * l2 * (w @ w)
        return float(loss), X.T @ (p - y) / n + l2 * w, p

    k = 0
    status, message = "", ""
    loss, g, p = loss_grad_prob(w)
    while True:
        values.append(loss)
        gnorms.append(float(g.norm()))
        if gnorms[-1] <= tol or k == max_iter:
            break
        H = (X.T * (p * (1 - p))) @ X / n + l2 * eye
        step = -_solve(H, g, k, 1e-14, "Hessian X^T W X / n + l2 I (raise l2)")
        w_new = w + step
        loss_new, g_new, p_new = loss_grad_prob(w_new)
        decrement, rounding = -float(g @ step), rounding_level(loss, w, g)
        stalled = ""
        if torch.equal(w_new, w):
            stalled = "the Newton step is below the floating-point resolution of w"
        elif decrement <= rounding and not (loss_new <= loss + rounding and float(g_new.norm()) < gnorms[-1]):
            stalled = (f"the Newton decrement {decrement:.1e} is below the rounding level {rounding:.1e} "
                       f"of f = {loss:.12g} and the step does not lower |grad|")
        if stalled:
            status, message = "stalled", _stalled_message(stalled, gnorms[-1], tol)
            break
        w, loss, g, p = w_new, loss_new, g_new, p_new
        k += 1
        xs.append(w.clone())
    return _finish(xs, values, gnorms, k, tol, message=message, status=status)


def conjugate_gradient(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    *,
    tol: float = 1e-10,
    max_iter: int | None = None,
) -> tuple[torch.Tensor, list[float]]:
    r"""Solve :math:`Ax=b` for symmetric positive-definite :math:`A` given only :math:`v\mapsto Av`.

    Conjugate gradient (Hestenes and Stiefel, 1952): at most :math:`d` steps in exact arithmetic,
    and :math:`\|x_k-x^\star\|_A \le 2\big(\tfrac{\sqrt\kappa-1}{\sqrt\kappa+1}\big)^k\|x_0-x^\star\|_A`.
    Stops when :math:`\|r_k\| \le` ``tol`` :math:`\cdot\|b\|`.

    Returns:
        ``(x, residual_norms)``.

    Raises:
        ValueError: :math:`p^\top A p \le 0` (the operator is not positive definite).
    """
    if b.ndim != 1:
        raise ValueError(f"b must be 1-D, got shape {tuple(b.shape)}.")
    max_iter = b.numel() * 2 if max_iter is None else max_iter
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = float(r @ r)
    res = [rr**0.5]
    bnorm = float(b.norm())
    for _ in range(max_iter):
        if res[-1] <= tol * bnorm:
            break
        Ap = matvec(p)
        pAp = float(p @ Ap)
        if pAp <= 0:
            raise ValueError(
                f"Conjugate gradient met p^T A p = {pAp:.3g} <= 0: the matrix is not positive "
                "definite. Add damping (A + lambda I) or use a method for indefinite systems."
            )
        alpha = rr / pAp
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = float(r @ r)
        res.append(rr_new**0.5)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, res
