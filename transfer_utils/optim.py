"""First-order optimisers that record their whole trajectory, and the rates theory predicts.

Every optimiser here minimises ``f``, a function of a 1-D float tensor that returns a scalar
tensor; gradients come from autograd. Each returns an :class:`OptResult` holding every iterate,
so that a notebook can draw the path on a contour plot and the error against the iteration.

Introduced in ``notebooks/02_gradient_descent``; reused by 03 (Newton) and 04 (warm starts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

__all__ = [
    "OptResult",
    "value_and_grad",
    "gradient_descent",
    "adam",
    "sgd",
    "lbfgs",
    "torch_minimize",
    "quadratic_gd_rate",
    "optimal_gd_lr",
    "heavy_ball_params",
    "predicted_iterations",
]

Objective = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class OptResult:
    """The record of one optimisation run.

    Attributes:
        x: the final iterate, shape ``(d,)``.
        xs: every iterate including the start, shape ``(n_iter + 1, d)``.
        values: ``f`` at each iterate (``n_iter + 1`` floats).
        grad_norms: the Euclidean norm of the gradient at each iterate (``n_iter + 1`` floats).
        n_iter: the number of steps taken.
        converged: True when the last gradient norm is ``<= tol``.
        message: why the run stopped, in words.
        extra: method-specific records (for example the step lengths of a line search).
    """

    x: torch.Tensor
    xs: torch.Tensor
    values: list[float]
    grad_norms: list[float]
    n_iter: int
    converged: bool
    message: str = ""
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"OptResult(n_iter={self.n_iter}, converged={self.converged}, "
            f"f={self.values[-1]:.6g}, |grad|={self.grad_norms[-1]:.3g}, message={self.message!r})"
        )


def _as_start(x0: torch.Tensor | Sequence[float]) -> torch.Tensor:
    # A tensor keeps its dtype; a list or array of numbers becomes float64.
    if isinstance(x0, torch.Tensor):
        x = x0.detach().clone()
    else:
        x = torch.as_tensor(x0, dtype=torch.float64)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if x.ndim != 1 or x.numel() == 0:
        raise ValueError(
            f"x0 must be a non-empty 1-D tensor (the parameter vector), got shape {tuple(x.shape)}; "
            "flatten it with x0.reshape(-1)."
        )
    return x


def _check_scalar(y: object, where: str = "f") -> torch.Tensor:
    if not isinstance(y, torch.Tensor):
        raise ValueError(f"{where} must return a scalar torch tensor, got {type(y).__name__}.")
    if y.numel() != 1:
        raise ValueError(
            f"{where} must return a scalar (one number) but returned shape {tuple(y.shape)}; "
            "reduce it, e.g. with .sum() or .mean()."
        )
    return y.reshape(())


def _non_finite(what: str, it: int, advice: str) -> FloatingPointError:
    return FloatingPointError(
        f"Non-finite {what} at iteration {it}: the run diverged. {advice}"
    )


def value_and_grad(f: Objective, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return :math:`f(x)` and :math:`\nabla f(x)` (both detached), by one backward pass.

    Raises:
        ValueError: ``f`` does not return a scalar tensor.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        y = _check_scalar(f(x))
        if not y.requires_grad:
            raise ValueError("f(x) does not depend on x through torch operations, so it has no gradient.")
        (g,) = torch.autograd.grad(y, x)
    return y.detach(), g.detach()


def _finish(xs, values, gnorms, n_iter, tol, message="", extra=None) -> OptResult:
    converged = gnorms[-1] <= tol
    if not message:
        message = "gradient norm <= tol" if converged else "max_iter reached"
    return OptResult(
        x=xs[-1].clone(),
        xs=torch.stack(xs),
        values=values,
        grad_norms=gnorms,
        n_iter=n_iter,
        converged=converged,
        message=message,
        extra=extra or {},
    )


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
    Stops when :math:`\|\nabla f(x_k)\| \le` ``tol`` or after ``max_iter`` steps.

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
        FloatingPointError: a value or gradient becomes inf/NaN (the step is too large).
    """
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}.")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}.")
    if nesterov and momentum == 0.0:
        raise ValueError("nesterov=True needs momentum > 0.")
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}.")
    advice = f"Lower lr (now {lr:g}) below 2/L, the bound for an L-smooth f, or rescale f."
    x = _as_start(x0)
    v = torch.zeros_like(x)
    xs, values, gnorms = [x.clone()], [], []
    k = 0
    while True:
        y, g = value_and_grad(f, x)
        if not (torch.isfinite(y) and torch.isfinite(g).all()):
            raise _non_finite("value or gradient", k, advice)
        values.append(float(y))
        gnorms.append(float(g.norm()))
        if gnorms[-1] <= tol or k == max_iter:
            break
        if nesterov:
            _, g = value_and_grad(f, x + momentum * v)
            if not torch.isfinite(g).all():
                raise _non_finite("look-ahead gradient", k, advice)
        v = momentum * v - lr * g
        x = x + v
        k += 1
        xs.append(x.clone())
    return _finish(xs, values, gnorms, k, tol)


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
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}.")
    b1, b2 = betas
    if not (0 <= b1 < 1 and 0 <= b2 < 1):
        raise ValueError(f"betas must lie in [0, 1), got {betas}.")
    x = _as_start(x0)
    m, v = torch.zeros_like(x), torch.zeros_like(x)
    xs, values, gnorms = [x.clone()], [], []
    k = 0
    while True:
        y, g = value_and_grad(f, x)
        if not (torch.isfinite(y) and torch.isfinite(g).all()):
            raise _non_finite("value or gradient", k, f"Lower lr (now {lr:g}).")
        values.append(float(y))
        gnorms.append(float(g.norm()))
        if gnorms[-1] <= tol or k == max_iter:
            break
        k += 1
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1**k)) / ((v / (1 - b2**k)).sqrt() + eps)
        xs.append(x.clone())
    return _finish(xs, values, gnorms, k, tol)


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
    if n_samples <= 0 or batch_size <= 0 or num_epochs < 0:
        raise ValueError(
            f"n_samples, batch_size must be positive and num_epochs >= 0, got {n_samples}, "
            f"{batch_size}, {num_epochs}."
        )
    schedule = lr if callable(lr) else (lambda k, c=float(lr): c)
    x = _as_start(x0)
    xs, values, gnorms, lrs = [x.clone()], [], [], []

    def record_full(epoch: int) -> None:
        y, g = value_and_grad(full_loss, x)
        if not torch.isfinite(y):
            raise _non_finite("full loss", epoch, "Lower the step size or use a decaying schedule.")
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
                raise _non_finite("mini-batch loss or gradient", k, "Lower the step size.")
            if full_loss is None:
                values.append(float(y))
                gnorms.append(float(g.norm()))
            eta = float(schedule(k))
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


def torch_minimize(
    f: Objective,
    x0: torch.Tensor | Sequence[float],
    *,
    optimizer: str = "adam",
    max_iter: int = 100,
    tol: float = 1e-8,
    **opt_kwargs: object,
) -> OptResult:
    """Run a ``torch.optim`` optimiser on ``f`` and record its iterates.

    Args:
        optimizer: ``"adam"``, ``"sgd"`` or ``"adagrad"`` (for L-BFGS use :func:`lbfgs`, which
            records every iterate).
        max_iter: the number of optimiser steps.
        opt_kwargs: passed to the optimiser (``lr`` and so on).

    Returns:
        :class:`OptResult`; ``extra["n_evals"]`` counts the function evaluations.
    """
    names = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad}
    key = optimizer.lower()
    if key not in names:
        raise ValueError(f"Unknown optimizer {optimizer!r}; use one of {sorted(names)}.")
    x = torch.nn.Parameter(_as_start(x0))
    opt = names[key]([x], **opt_kwargs)
    n_evals = 0

    def closure() -> torch.Tensor:
        nonlocal n_evals
        opt.zero_grad()
        y = _check_scalar(f(x))
        y.backward()
        n_evals += 1
        return y

    xs, values, gnorms = [x.detach().clone()], [], []
    k = 0
    while True:
        y, g = value_and_grad(f, x.detach())
        if not (torch.isfinite(y) and torch.isfinite(g).all()):
            raise _non_finite("value or gradient", k, "Lower lr or check f.")
        values.append(float(y))
        gnorms.append(float(g.norm()))
        if gnorms[-1] <= tol or k == max_iter:
            break
        opt.step(closure)
        k += 1
        xs.append(x.detach().clone())
    return _finish(xs, values, gnorms, k, tol, extra={"n_evals": n_evals})


def lbfgs(
    f: Objective,
    x0: torch.Tensor | Sequence[float],
    *,
    max_iter: int = 500,
    tol: float = 1e-8,
    history_size: int = 10,
    c1: float = 1e-4,
    shrink: float = 0.5,
) -> OptResult:
    r"""Limited-memory BFGS (Liu and Nocedal, 1989) with a backtracking Armijo line search.

    The direction :math:`p_k = -H_k\nabla f(x_k)` applies the inverse-Hessian approximation built
    from the last ``history_size`` pairs :math:`s_i = x_{i+1}-x_i`, :math:`y_i = \nabla f_{i+1}-\nabla f_i`
    by the two-loop recursion, with :math:`H_k^0 = \frac{s^\top y}{y^\top y} I`; pairs with
    :math:`s^\top y \le 10^{-12}\|s\|\|y\|` are skipped so that :math:`H_k` stays positive definite.
    Nocedal and Wright (2006), Algorithm 7.4. Cost per iteration :math:`O(md)` besides the gradient.

    Returns:
        :class:`OptResult`; ``extra["n_evals"]`` counts function evaluations, ``extra["step"]`` the
        accepted step lengths. Raises as :func:`gradient_descent`.
    """
    if history_size < 1:
        raise ValueError(f"history_size must be >= 1, got {history_size}.")
    x = _as_start(x0)
    xs, values, gnorms, steps = [x.clone()], [], [], []
    S: list[torch.Tensor] = []
    Y: list[torch.Tensor] = []
    n_evals = 0
    k = 0
    y_val, g = value_and_grad(f, x)
    n_evals += 1
    while True:
        if not (torch.isfinite(y_val) and torch.isfinite(g).all()):
            raise _non_finite("value or gradient", k, "Check f; rescale it or start closer to a minimum.")
        values.append(float(y_val))
        gnorms.append(float(g.norm()))
        if gnorms[-1] <= tol or k == max_iter:
            break
        # two-loop recursion
        q = g.clone()
        alphas = []
        for s_i, y_i in reversed(list(zip(S, Y))):
            a = (s_i @ q) / (y_i @ s_i)
            alphas.append(a)
            q = q - a * y_i
        if S:
            q = q * ((S[-1] @ Y[-1]) / (Y[-1] @ Y[-1]))
        else:
            q = q / max(float(g.norm()), 1.0)  # a cautious first step
        for (s_i, y_i), a in zip(zip(S, Y), reversed(alphas)):
            b = (y_i @ q) / (y_i @ s_i)
            q = q + (a - b) * s_i
        p = -q
        slope = float(g @ p)
        if slope >= 0:  # numerical trouble: restart from steepest descent
            S.clear()
            Y.clear()
            p, slope = -g, -float(g @ g)
        t = 1.0
        for _ in range(60):
            x_new = x + t * p
            y_new, g_new = value_and_grad(f, x_new)
            n_evals += 1
            if torch.isfinite(y_new) and float(y_new) <= float(y_val) + c1 * t * slope:
                break
            t *= shrink
        else:
            raise _non_finite("line search (no decrease found)", k, "Check f and its gradient.")
        s_k, y_k = x_new - x, g_new - g
        if float(s_k @ y_k) > 1e-12 * float(s_k.norm() * y_k.norm()):
            S.append(s_k)
            Y.append(y_k)
            if len(S) > history_size:
                S.pop(0)
                Y.pop(0)
        x, y_val, g = x_new, y_new, g_new
        steps.append(t)
        k += 1
        xs.append(x.clone())
    return _finish(xs, values, gnorms, k, tol, extra={"n_evals": n_evals, "step": steps})


# --- what theory predicts on a quadratic -----------------------------------------------------


def quadratic_gd_rate(eigenvalues: torch.Tensor | Sequence[float], lr: float) -> float:
    r"""Contraction factor of GD on a quadratic: :math:`\rho(\eta) = \max_i |1 - \eta\lambda_i|`.

    The error obeys :math:`\|x_k - x^\star\| \le \rho^k \|x_0 - x^\star\|`; GD converges iff
    :math:`\rho < 1`, i.e. :math:`0 < \eta < 2/\lambda_{\max}` (all :math:`\lambda_i > 0`).
    """
    lam = torch.as_tensor(eigenvalues, dtype=torch.float64)
    if lam.numel() == 0:
        raise ValueError("eigenvalues is empty.")
    return float((1 - lr * lam).abs().max())


def optimal_gd_lr(L: float, mu: float) -> tuple[float, float]:
    r"""The best constant GD step on a quadratic and its rate.

    :math:`\eta^\star = 2/(L+\mu)`, :math:`\rho^\star = (\kappa-1)/(\kappa+1)`, :math:`\kappa = L/\mu`.
    """
    if not (L >= mu > 0):
        raise ValueError(f"Need L >= mu > 0, got L={L}, mu={mu}.")
    kappa = L / mu
    return 2.0 / (L + mu), (kappa - 1) / (kappa + 1)


def heavy_ball_params(L: float, mu: float) -> tuple[float, float, float]:
    r"""Polyak's tuned heavy-ball step, momentum and rate on a quadratic.

    :math:`\eta = 4/(\sqrt L + \sqrt\mu)^2`, :math:`\beta = \big((\sqrt\kappa-1)/(\sqrt\kappa+1)\big)^2`,
    rate :math:`(\sqrt\kappa-1)/(\sqrt\kappa+1)` (Polyak, 1964).

    Returns:
        ``(lr, momentum, rate)``.
    """
    if not (L >= mu > 0):
        raise ValueError(f"Need L >= mu > 0, got L={L}, mu={mu}.")
    sk = math.sqrt(L / mu)
    rate = (sk - 1) / (sk + 1)
    return 4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2, rate**2, rate


def predicted_iterations(rate: float, reduction: float) -> int:
    r"""Steps :math:`k` with :math:`\rho^k \le` ``reduction``: :math:`\lceil \log r / \log\rho \rceil`."""
    if not 0 < reduction < 1:
        raise ValueError(f"reduction must be in (0, 1), got {reduction}.")
    if not 0 <= rate < 1:
        raise ValueError(f"rate must be in [0, 1) for convergence, got {rate}.")
    if rate == 0:
        return 1
    return math.ceil(math.log(reduction) / math.log(rate))
