"""First-order optimisers that record their whole trajectory: gradient descent, Adam, SGD.

Every run ends with a ``status`` (see :class:`~transfer_utils.calculus.optim_base.OptResult`):
``"converged"`` (the gradient norm reached ``tol``), ``"stalled"`` (it can no longer make progress
in floating point: no step changes ``f`` beyond its rounding level and none lowers the gradient
norm), ``"max_iter"`` (the budget ran out while it was still progressing) or ``"diverged"``
(gradient descent whose ``f`` blew up; raised as :class:`DivergenceError`, which carries the run).

Introduced in ``notebooks/02_gradient_descent``; reused by 03 (Newton) and 04 (warm starts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from transfer_utils.calculus.optim_base import (
    DivergenceError,
    Objective,
    OptResult,
    as_start,
    check_budget,
    finish_result,
    non_finite_error,
    rounding_level,
    stalled_message,
    value_and_grad,
)
from transfer_utils.core.validation import check_int, check_interval, check_positive

__all__ = ["gradient_descent", "adam", "sgd"]

#: Gradient descent stops as stalled after this many steps without progress (see its docstring).
_STALL_WINDOW = 50
#: Gradient descent raises :class:`DivergenceError` once f has grown this many times its start scale.
_DIVERGENCE_FACTOR = 1e10


def gradient_descent(
    f: Objective,
    x0: torch.Tensor | Sequence[float],
    *,
    lr: float,
    max_iter: int = 1000,
    tol: float = 1e-8,
    momentum: float = 0.0,
    nesterov: bool = False,
) -> OptResult:
    r"""Gradient descent, optionally with heavy-ball or Nesterov momentum.

    Plain GD: :math:`x_{k+1} = x_k - \eta \nabla f(x_k)`. With momentum :math:`\beta`
    (Polyak, 1964): :math:`v_{k+1} = \beta v_k - \eta \nabla f(x_k)`, :math:`x_{k+1} = x_k + v_{k+1}`.
    Nesterov (1983) evaluates the gradient at the look-ahead point :math:`x_k + \beta v_k`.

    Stops with ``status``

    * ``"converged"`` when :math:`\|\nabla f(x_k)\| \le` ``tol``;
    * ``"stalled"`` when for :math:`W` consecutive steps :math:`\|\nabla f\|` set no new low and
      :math:`f` stayed within its :func:`rounding_level` :math:`R` of its value at the start of
      that stretch: neither measure of progress moves, so the iterates only jitter at the floor of
      floating point. :math:`W = 50` for plain GD: with :math:`\eta \le 2/L` on a convex region
      :math:`\nabla f_{k+1} = (I - \eta\bar H)\nabla f_k` with :math:`0 \preceq \bar H \preceq LI`
      (:math:`\bar H` the Hessian averaged along the step), so the gradient norm never increases and
      a progressing run sets a new low at every step. With momentum :math:`\|\nabla f\|` and
      :math:`f` oscillate with a period that grows like :math:`\sqrt\kappa`, so
      :math:`W = \max(50, k/2)`: no progress during the second half of the run;
    * ``"max_iter"`` after ``max_iter`` steps otherwise.

    It raises :class:`DivergenceError` (``result.status == "diverged"``) when
    :math:`f(x_k) - f(x_0) > 10^{10}\,(|f(x_0)| + \eta\|\nabla f(x_0)\|^2)` while
    :math:`\|\nabla f(x_k)\| > \|\nabla f(x_0)\|`: :math:`f` has grown by ten orders of magnitude
    over its scale at the start (:math:`\eta\|\nabla f(x_0)\|^2` is the first step's predicted
    decrease) and the gradient with it, which on an :math:`L`-smooth :math:`f` means :math:`\eta` is
    beyond the stable range :math:`2/L` (on a quadratic the error then grows like
    :math:`|1-\eta\lambda_{\max}|^k`). A run of moderate length above :math:`2/L` (say 100 steps at
    :math:`2.1/L`, where :math:`f` grows by :math:`1.21^{100}\approx 2\times10^{8}`) still
    returns its whole path, to be plotted.

    Args:
        f: objective, a function of a 1-D float tensor returning a scalar tensor.
        x0: start, shape ``(d,)`` (a tensor keeps its dtype; a list becomes float64).
        lr: step size :math:`\eta > 0`.
        momentum: :math:`\beta \in [0, 1)`.
        nesterov: use Nesterov's look-ahead gradient (needs ``momentum > 0``).

    Returns:
        :class:`OptResult` with every iterate.

    Raises:
        ValueError: bad arguments or ``f`` not scalar.
        DivergenceError: (a :class:`FloatingPointError`) :math:`f` blew up as above, or a value
            or gradient became inf/NaN (the step is too large); ``error.result`` holds the run.
    """
    check_positive(lr, "lr")
    momentum = check_interval(momentum, "momentum", 0.0, 1.0, include_high=False)
    if nesterov and momentum == 0.0:
        raise ValueError("nesterov=True needs momentum > 0.")
    check_budget(max_iter, tol)
    advice = f"Lower lr (now {lr:g}) below 2/L, the bound for an L-smooth f, or rescale f."
    x = as_start(x0)
    v = torch.zeros_like(x)
    xs, values, gnorms = [x.clone()], [], []

    def diverged(message: str) -> DivergenceError:
        n = len(values)  # the iterates whose value was finite
        res = None
        if n:
            res = finish_result(xs[:n], values, gnorms, n - 1, tol, message=message, status="diverged")
        return DivergenceError(message, res)

    k = 0
    anchor, f_anchor, g_best = 0, math.nan, math.inf  # the last step that made progress
    status, message = "", ""
    while True:
        y, g = value_and_grad(f, x)
        if not (torch.isfinite(y) and torch.isfinite(g).all()):
            raise diverged(str(non_finite_error("value or gradient", k, advice)))
        fk, gk = float(y), float(g.norm())
        values.append(fk)
        gnorms.append(gk)
        if gk <= tol:
            break
        scale = abs(values[0]) + lr * gnorms[0] ** 2
        if fk - values[0] > _DIVERGENCE_FACTOR * scale and gk > gnorms[0]:
            raise diverged(
                f"Gradient descent diverged at iteration {k}: f grew from {values[0]:.4g} to {fk:.4g} "
                f"(more than {_DIVERGENCE_FACTOR:.0e} times its scale {scale:.3g} at the start) while "
                f"|grad| grew from {gnorms[0]:.3g} to {gk:.3g}. {advice}"
            )
        rounding = rounding_level(fk, x, g)
        if gk < g_best or not abs(fk - f_anchor) <= rounding:  # a new low of |grad|, or f moved
            anchor, f_anchor = k, fk
            g_best = min(g_best, gk)
        window = _STALL_WINDOW if momentum == 0.0 else max(_STALL_WINDOW, k // 2)
        if k - anchor >= window:
            status = "stalled"
            message = stalled_message(
                f"for {k - anchor} steps |grad| set no new low (best {g_best:.3e}) and f stayed within "
                f"its rounding level {rounding:.1e} of {f_anchor:.12g}", gk, tol)
            break
        if k == max_iter:
            break
        if nesterov:
            _, g = value_and_grad(f, x + momentum * v)
            if not torch.isfinite(g).all():
                raise diverged(str(non_finite_error("look-ahead gradient", k, advice)))
        v = momentum * v - lr * g
        x = x + v
        k += 1
        xs.append(x.clone())
    return finish_result(xs, values, gnorms, k, tol, message=message, status=status)


def adam(
    f: Objective,
    x0: torch.Tensor | Sequence[float],
    *,
    lr: float = 1e-2,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    max_iter: int = 1000,
    tol: float = 1e-8,
) -> OptResult:
    r"""Adam (Kingma and Ba, ICLR 2015) on a deterministic objective, recording the path.

    :math:`m_k = \beta_1 m_{k-1} + (1-\beta_1) g_k`, :math:`v_k = \beta_2 v_{k-1} + (1-\beta_2) g_k^2`,
    :math:`x_{k+1} = x_k - \eta\, \hat m_k / (\sqrt{\hat v_k} + \epsilon)` with bias-corrected
    :math:`\hat m_k = m_k/(1-\beta_1^k)`, :math:`\hat v_k = v_k/(1-\beta_2^k)`.

    Returns:
        :class:`OptResult`. Raises as :func:`gradient_descent`.
    """
    check_positive(lr, "lr")
    b1, b2 = betas
    if not (0 <= b1 < 1 and 0 <= b2 < 1):
        raise ValueError(f"betas must lie in [0, 1), got {betas}.")
    check_positive(eps, "eps")
    check_budget(max_iter, tol)
    x = as_start(x0)
    m, v = torch.zeros_like(x), torch.zeros_like(x)
    xs, values, gnorms = [x.clone()], [], []
    k = 0
    while True:
        y, g = value_and_grad(f, x)
        if not (torch.isfinite(y) and torch.isfinite(g).all()):
            raise non_finite_error("value or gradient", k, f"Lower lr (now {lr:g}).")
        values.append(float(y))
        gnorms.append(float(g.norm()))
        if gnorms[-1] <= tol or k == max_iter:
            break
        k += 1
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1**k)) / ((v / (1 - b2**k)).sqrt() + eps)
        xs.append(x.clone())
    return finish_result(xs, values, gnorms, k, tol)


def sgd(
    loss_on: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x0: torch.Tensor | Sequence[float],
    *,
    n_samples: int,
    batch_size: int,
    lr: float | Callable[[int], float],
    num_epochs: int,
    generator: torch.Generator | None = None,
    full_loss: Objective | None = None,
) -> OptResult:
    r"""Mini-batch stochastic gradient descent with an optional step-size schedule.

    :math:`x_{k+1} = x_k - \eta_k \nabla \tfrac{1}{|B_k|}\sum_{i\in B_k} \ell_i(x_k)`, the batches
    :math:`B_k` a fresh random partition of the ``n_samples`` indices each epoch.

    Args:
        loss_on: ``loss_on(x, idx)`` the mean loss over the samples ``idx`` (a LongTensor), a scalar.
        lr: a constant, or a schedule ``lr(k)`` of the step number ``k = 0, 1, ...``.
        full_loss: if given, ``values``/``grad_norms`` hold the full objective once per epoch
            (and at the start); otherwise the mini-batch losses and gradient norms of every step.

    Returns:
        :class:`OptResult`; ``xs`` holds the iterate after every step, ``converged`` is False
        (SGD has no gradient-norm stopping rule here), ``extra["lr"]`` the step sizes used.
    """
    check_int(n_samples, "n_samples", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    check_int(num_epochs, "num_epochs", minimum=0)
    if not callable(lr):
        check_positive(lr, "lr")
    schedule = lr if callable(lr) else (lambda k, c=float(lr): c)
    x = as_start(x0)
    xs, values, gnorms, lrs = [x.clone()], [], [], []

    def record_full(epoch: int) -> None:
        y, g = value_and_grad(full_loss, x)
        if not torch.isfinite(y):
            raise non_finite_error("full loss", epoch, "Lower the step size or use a decaying schedule.")
        values.append(float(y))
        gnorms.append(float(g.norm()))

    if full_loss is not None:
        record_full(0)
    k = 0
    for epoch in range(num_epochs):
        perm = torch.randperm(n_samples, generator=generator)
        for start in range(0, n_samples, batch_size):
            idx = perm[start : start + batch_size]
            y, g = value_and_grad(lambda z: loss_on(z, idx), x)
            if not (torch.isfinite(y) and torch.isfinite(g).all()):
                raise non_finite_error("mini-batch loss or gradient", k, "Lower the step size.")
            if full_loss is None:
                values.append(float(y))
                gnorms.append(float(g.norm()))
            eta = float(schedule(k))
            if not (eta >= 0 and math.isfinite(eta)):
                raise ValueError(f"The lr schedule returned {eta} at step {k}; lr(k) must return "
                                 "finite step sizes >= 0.")
            lrs.append(eta)
            x = x - eta * g
            xs.append(x.clone())
            k += 1
        if full_loss is not None:
            record_full(epoch + 1)
    return OptResult(
        x=x.clone(),
        xs=torch.stack(xs),
        values=values,
        grad_norms=gnorms,
        n_iter=k,
        converged=False,
        message=f"{num_epochs} epochs done",
        extra={"lr": lrs},
    )
