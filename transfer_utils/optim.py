"""First-order optimisers that record their whole trajectory, and the rates theory predicts.

Every optimiser here minimises ``f``, a function of a 1-D float tensor that returns a scalar
tensor; gradients come from autograd. Each returns an :class:`OptResult` holding every iterate,
so that a notebook can draw the path on a contour plot and the error against the iteration.

Every run ends with a ``status`` (see :class:`OptResult`): ``"converged"`` (the gradient norm
reached ``tol``), ``"stalled"`` (it can no longer make progress in floating point: no step changes
``f`` beyond its rounding level and none lowers the gradient norm), ``"max_iter"`` (the budget ran
out while it was still progressing) or ``"diverged"`` (gradient descent whose ``f`` blew up; raised
as :class:`DivergenceError`, which carries the run). A run at the floor of float64 thus says so
instead of crawling to ``max_iter``. :func:`rounding_level` is the yardstick for "beyond rounding".

Introduced in ``notebooks/02_gradient_descent``; reused by 03 (Newton) and 04 (warm starts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

__all__ = [
    "OptResult",
    "DivergenceError",
    "rounding_level",
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
    r"""The record of one optimisation run.

    Attributes:
        x: the final iterate, shape ``(d,)``.
        xs: every iterate including the start, shape ``(n_iter + 1, d)``.
        values: ``f`` at each iterate (``n_iter + 1`` floats).
        grad_norms: the Euclidean norm of the gradient at each iterate (``n_iter + 1`` floats).
        n_iter: the number of steps taken.
        converged: True exactly when the last gradient norm is ``<= tol`` (``status == "converged"``).
        message: why the run stopped, in words.
        extra: method-specific records (for example the step lengths of a line search).
        status: why the run stopped, as one word:

            * ``"converged"``: :math:`\|\nabla f(x_k)\| \le` ``tol``;
            * ``"stalled"``: the method cannot make further progress at machine precision: its
              steps change :math:`f` by less than :func:`rounding_level` (so :math:`f` cannot rank
              them) and fail the progress test that is still resolvable, a lower
              :math:`\|\nabla f\|` (Newton, IRLS: at once; L-BFGS: within 5 steps; gradient
              descent: within 50 steps, or half the run with momentum), or the step is below the
              resolution of :math:`x`. ``x`` is then as good as floating point allows for this
              method; ``message`` says why and gives :math:`\|\nabla f\|`. Ask for a ``tol``
              above it;
            * ``"max_iter"``: ``max_iter`` steps were taken while still progressing (for
              :func:`sgd`: the epochs ran out);
            * ``"diverged"``: :math:`f` grew without bound (only in the ``result`` of a
              :class:`DivergenceError`).

            Left empty it is derived from ``converged`` (``"converged"`` or ``"max_iter"``).
    """

    x: torch.Tensor
    xs: torch.Tensor
    values: list[float]
    grad_norms: list[float]
    n_iter: int
    converged: bool
    message: str = ""
    extra: dict = field(default_factory=dict)
    status: str = ""

    def __post_init__(self) -> None:
        if not self.status:
            self.status = "converged" if self.converged else "max_iter"

    def __repr__(self) -> str:
        return (
            f"OptResult(status={self.status!r}, n_iter={self.n_iter}, converged={self.converged}, "
            f"f={self.values[-1]:.6g}, |grad|={self.grad_norms[-1]:.3g}, message={self.message!r})"
        )


class DivergenceError(FloatingPointError):
    """A run diverged (``f`` blew up or overflowed); ``result`` holds it up to that point.

    A :class:`FloatingPointError`, so ``except FloatingPointError`` catches it too.
    ``result.status`` is ``"diverged"`` and ``result.message`` is the error's text.
    """

    def __init__(self, message: str, result: OptResult | None = None) -> None:
        super().__init__(message)
        self.result = result


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


#: The safety factor :math:`\kappa` of :func:`rounding_level`. The rounding error of a computed
#: ``f`` is a few units in the last place for a well-conditioned evaluation; 100 leaves room for the
#: accumulated rounding of long sums and transcendental functions, and for another CPU's rounding.
#: Being generous costs little: below the level a step is still accepted, by a gradient test.
ROUNDING_FACTOR = 100.0


def rounding_level(fx: float, x: torch.Tensor, g: torch.Tensor) -> float:
    r"""The size below which a change of :math:`f` near :math:`x` is lost in rounding.

    .. math:: R(x) = \kappa\,\varepsilon\,\Big(|f(x)| + \sum_i |x_i|\,|\partial_i f(x)|\Big),

    :math:`\varepsilon` the machine epsilon of ``x``'s dtype (:math:`2.2\times10^{-16}` in float64)
    and :math:`\kappa` = :data:`ROUNDING_FACTOR`. The first term is the rounding of the value
    itself (:math:`\tfrac12\varepsilon|f|` at the very least); the second is what rounding the
    argument to floating point costs, since :math:`|f(x+\delta) - f(x)| \approx |\nabla f^\top\delta|`
    with :math:`|\delta_i| \le \tfrac12\varepsilon|x_i|`. Two computed values of :math:`f` closer
    than :math:`R` cannot be ranked reliably, so a line search whose predicted decrease
    :math:`t\,|\nabla f^\top p|` is below :math:`R` must not rely on comparing them.

    Args:
        fx: :math:`f(x)`.
        x: the point, shape ``(d,)``.
        g: :math:`\nabla f(x)`, shape ``(d,)``.
    """
    eps = torch.finfo(x.dtype).eps if x.is_floating_point() else torch.finfo(torch.float64).eps
    return ROUNDING_FACTOR * eps * (abs(fx) + float((x.abs() * g.abs()).sum()))


@dataclass
class _Step:
    """The outcome of :func:`_backtrack`: an accepted point, or the reason it stalled."""

    t: float = 0.0
    x: torch.Tensor | None = None
    f: torch.Tensor | None = None
    g: torch.Tensor | None = None  # the gradient at x when the search evaluated it
    n_evals: int = 0
    stalled: str = ""
    at_floor: bool = False  # accepted by the rounding-level test rather than by Armijo's


def _backtrack(
    f: Objective,
    x: torch.Tensor,
    fx: float,
    g: torch.Tensor,
    p: torch.Tensor,
    slope: float,
    *,
    c1: float,
    shrink: float,
    rounding: float,
    need_grad: bool,
    floor_trials: int,
    floor_test: str = "grad_norm",
    max_trials: int = 60,
) -> _Step | None:
    r"""Backtracking line search from :math:`t = 1` that notices when :math:`f` can no longer tell.

    ``slope`` is :math:`\phi'(0) = \nabla f(x)^\top p < 0`; trial steps are :math:`t = 1,
    s, s^2, \dots` (:math:`s` = ``shrink``). For each trial:

    * if the predicted decrease :math:`t|\phi'(0)|` exceeds the rounding level :math:`R` of
      :func:`rounding_level`, :math:`f` can resolve it and Armijo's condition decides:
      :math:`f(x+tp) \le f(x) + c_1 t \phi'(0)`;
    * otherwise the comparison of two values of :math:`f` is rounding noise (near a minimiser,
      Newton's :math:`\phi'(0) = -\nabla f^\top H^{-1}\nabla f \approx -2(f-f^\star)`, which
      falls below :math:`\varepsilon|f|` long before :math:`\|\nabla f\|` reaches its own floor
      of about :math:`\varepsilon\,\|\text{terms of }\nabla f\|`). Gradients are still
      resolvable, so the step is accepted when :math:`f(x+tp) \le f(x) + R` (no resolvable
      increase) and, by ``floor_test``,

      - ``"grad_norm"`` (Newton): :math:`\|\nabla f(x+tp)\| < \|\nabla f(x)\|`. For a Newton
        step near a minimiser :math:`\nabla f(x+p) = O(\|\nabla f(x)\|^2)`, so this holds unless
        :math:`\nabla f(x)` is itself rounding noise;
      - ``"slope"`` (quasi-Newton, whose step need not lower the gradient norm): Armijo's condition
        with the change of :math:`f` computed from slopes by the trapezoid rule,
        :math:`\phi(t)-\phi(0) \approx \tfrac t2(\phi'(0)+\phi'(t))` (exact for a quadratic
        :math:`\phi`), which turns :math:`\phi(t) \le \phi(0) + c_1 t\phi'(0)` into
        :math:`\phi'(t) \le (1-2c_1)\,|\phi'(0)|`: the "approximate Wolfe" test of Hager and
        Zhang (SIAM J. Optim. 16, 2005), for exactly this situation. It does not detect the floor
        by itself; the caller watches the gradient norm for that.

      After ``floor_trials`` such trials fail, no step along :math:`p` can be shown to help: the
      search reports a stall.

    A trial point equal to :math:`x` in floating point (the step is below the resolution of
    :math:`x`) is a stall too.

    Returns:
        the accepted step, a stalled :class:`_Step` (its ``stalled`` says why), or None when
        ``max_trials`` trials found nothing (only for non-finite values).
    """
    gnorm = float(g.norm())
    t, n_evals, floor_failed = 1.0, 0, 0
    for _ in range(max_trials):
        x_new = x + t * p
        if torch.equal(x_new, x):
            return _Step(n_evals=n_evals, stalled=(
                f"the step t*p (t = {t:.3g}, |p| = {float(p.norm()):.3e}) is below the floating-point "
                "resolution of x"))
        resolvable = t * abs(slope) > rounding
        if resolvable and not need_grad:
            with torch.no_grad():
                y_new, g_new = _check_scalar(f(x_new)).detach(), None
        else:
            y_new, g_new = value_and_grad(f, x_new)
        n_evals += 1
        ft = float(y_new)
        if resolvable:
            if ft <= fx + c1 * t * slope:  # NaN compares False, so it shrinks on NaN too
                return _Step(t=t, x=x_new, f=y_new, g=g_new, n_evals=n_evals)
        else:
            if floor_test == "grad_norm":
                progress = float(g_new.norm()) < gnorm
            else:
                progress = float(g_new @ p) <= (1 - 2 * c1) * abs(slope)
            if ft <= fx + rounding and progress:
                return _Step(t=t, x=x_new, f=y_new, g=g_new, n_evals=n_evals, at_floor=True)
            floor_failed += 1
            if floor_failed >= floor_trials:
                return _Step(n_evals=n_evals, stalled=(
                    f"no step decreases f beyond rounding (predicted decrease {abs(slope):.1e} at "
                    f"t = 1, rounding level {rounding:.1e} of f = {fx:.12g}) and no trial step "
                    f"{'lowers |grad|' if floor_test == 'grad_norm' else 'passes the slope test'}"))
        t *= shrink
    return None


#: Gradient descent stops as stalled after this many steps without progress (see its docstring).
_STALL_WINDOW = 50
#: L-BFGS stops as stalled after this many steps in a row accepted at the rounding level of f
#: without a new low of the gradient norm (its steps need not lower it, so one is not enough).
_LBFGS_PATIENCE = 5
#: Gradient descent raises :class:`DivergenceError` once f has grown this many times its start scale.
_DIVERGENCE_FACTOR = 1e10


def _stalled_message(reason: str, gnorm: float, tol: float) -> str:
    return f"stalled at machine precision: {reason}; |grad| = {gnorm:.3e} (tol {tol:g})"


def _finish(xs, values, gnorms, n_iter, tol, message="", extra=None, status="") -> OptResult:
    converged = gnorms[-1] <= tol
    if converged:
        status = "converged"
    status = status or "max_iter"
    if not message:
        message = ("gradient norm <= tol" if converged
                   else f"max_iter reached (|grad| = {gnorms[-1]:.3e} > tol {tol:g})")
    return OptResult(
        x=xs[-1].clone(),
        xs=torch.stack(xs),
        values=values,
        grad_norms=gnorms,
        n_iter=n_iter,
        converged=converged,
        message=message,
        extra=extra or {},
        status=status,
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

    def diverged(message: str) -> DivergenceError:
        n = len(values)  # the iterates whose value was finite
        res = None
        if n:
            res = _finish(xs[:n], values, gnorms, n - 1, tol, message=message, status="diverged")
        return DivergenceError(message, res)

    k = 0
    anchor, f_anchor, g_best = 0, math.nan, math.inf  # the last step that made progress
    status, message = "", ""
    while True:
        y, g = value_and_grad(f, x)
        if not (torch.isfinite(y) and torch.isfinite(g).all()):
            raise diverged(str(_non_finite("value or gradient", k, advice)))
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
            message = _stalled_message(
                f"for {k - anchor} steps |grad| set no new low (best {g_best:.3e}) and f stayed within "
                f"its rounding level {rounding:.1e} of {f_anchor:.12g}", gk, tol)
            break
        if k == max_iter:
            break
        if nesterov:
            _, g = value_and_grad(f, x + momentum * v)
            if not torch.isfinite(g).all():
                raise diverged(str(_non_finite("look-ahead gradient", k, advice)))
        v = momentum * v - lr * g
        x = x + v
        k += 1
        xs.append(x.clone())
    return _finish(xs, values, gnorms, k, tol, message=message, status=status)


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

    The step length comes from the backtracking search of :func:`_backtrack`: Armijo's condition
    while the predicted decrease :math:`t|\nabla f^\top p|` exceeds the :func:`rounding_level`
    :math:`R` of :math:`f`, and below it (where comparing two values of :math:`f` is rounding
    noise) Armijo's condition evaluated from slopes, :math:`\nabla f(x+tp)^\top p \le
    (1-2c_1)|\nabla f(x)^\top p|` (Hager and Zhang's approximate Wolfe test), with :math:`f(x+tp)
    \le f(x) + R`. The run stops with ``status == "stalled"`` when no trial passes, or when
    more than 5 steps in a row were accepted at that level without a new low of
    :math:`\|\nabla f\|` (its steps need not lower the gradient norm, so one such step is not
    yet a stall): it is then at the floor of floating point for this method. The values are
    non-increasing up to :math:`R`.

    Returns:
        :class:`OptResult`; ``extra["n_evals"]`` counts function evaluations, ``extra["step"]`` the
        accepted step lengths. ``status`` is ``"converged"``, ``"stalled"`` or ``"max_iter"``.

    Raises:
        ValueError: bad arguments or ``f`` not scalar.
        FloatingPointError: a value or gradient becomes inf/NaN, or no trial step had a finite value.
    """
    if history_size < 1:
        raise ValueError(f"history_size must be >= 1, got {history_size}.")
    x = _as_start(x0)
    xs, values, gnorms, steps = [x.clone()], [], [], []
    S: list[torch.Tensor] = []
    Y: list[torch.Tensor] = []
    n_evals = 0
    k = 0
    status, message = "", ""
    idle = 0  # consecutive steps accepted at the rounding level without a new low of |grad|
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
        step = _backtrack(f, x, float(y_val), g, p, slope, c1=c1, shrink=shrink,
                          rounding=rounding_level(float(y_val), x, g), need_grad=True, floor_trials=3,
                          floor_test="slope")
        if step is None:
            raise _non_finite("line search (no finite trial value)", k, "Check f and its gradient.")
        n_evals += step.n_evals
        idle = idle + 1 if step.at_floor and float(step.g.norm()) >= min(gnorms) else 0
        if step.stalled or idle > _LBFGS_PATIENCE:
            reason = step.stalled or (
                f"{idle} steps in a row changed f by less than its rounding level and none set a new "
                f"low of |grad| (best {min(gnorms):.3e})")
            status, message = "stalled", _stalled_message(reason, gnorms[-1], tol)
            break
        t, x_new, y_new, g_new = step.t, step.x, step.f, step.g
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
    return _finish(xs, values, gnorms, k, tol, message=message, status=status,
                   extra={"n_evals": n_evals, "step": steps})


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
