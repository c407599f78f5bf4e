"""A backtracking line search that notices when ``f`` can no longer tell two points apart.

Used by :func:`transfer_utils.calculus.newton.newton_minimize` (notebook 03).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from transfer_utils.calculus.optim_base import Objective, check_scalar, value_and_grad

__all__ = ["LineSearchStep", "backtrack"]


@dataclass
class LineSearchStep:
    """The outcome of :func:`backtrack`: an accepted point, or the reason it stalled."""

    t: float = 0.0
    x: torch.Tensor | None = None
    f: torch.Tensor | None = None
    g: torch.Tensor | None = None  # the gradient at x when the search evaluated it
    n_evals: int = 0
    stalled: str = ""
    at_floor: bool = False  # accepted by the rounding-level test rather than by Armijo's


def backtrack(
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
    max_trials: int = 60,
) -> LineSearchStep | None:
    r"""Backtracking line search from :math:`t = 1` that notices when :math:`f` can no longer tell.

    ``slope`` is :math:`\phi'(0) = \nabla f(x)^\top p < 0`; trial steps are :math:`t = 1,
    s, s^2, \dots` (:math:`s` = ``shrink``). For each trial:

    * if the predicted decrease :math:`t|\phi'(0)|` exceeds the rounding level :math:`R` of
      :func:`~transfer_utils.calculus.optim_base.rounding_level`, :math:`f` can resolve it and Armijo's condition decides:
      :math:`f(x+tp) \le f(x) + c_1 t \phi'(0)`;
    * otherwise the comparison of two values of :math:`f` is rounding noise (near a minimiser,
      Newton's :math:`\phi'(0) = -\nabla f^\top H^{-1}\nabla f \approx -2(f-f^\star)`, which
      falls below :math:`\varepsilon|f|` long before :math:`\|\nabla f\|` reaches its own floor
      of about :math:`\varepsilon\,\|\text{terms of }\nabla f\|`). Gradients are still
      resolvable, so the step is accepted when :math:`f(x+tp) \le f(x) + R` (no resolvable
      increase) and

      the gradient norm falls, :math:`\|\nabla f(x+tp)\| < \|\nabla f(x)\|`. For a Newton
      step near a minimiser :math:`\nabla f(x+p) = O(\|\nabla f(x)\|^2)`, so this holds unless
      :math:`\nabla f(x)` is itself rounding noise.

      After ``floor_trials`` such trials fail, no step along :math:`p` can be shown to help: the
      search reports a stall.

    A trial point equal to :math:`x` in floating point (the step is below the resolution of
    :math:`x`) is a stall too.

    Args:
        f: the objective; ``x`` the point, ``fx`` :math:`f(x)`, ``g`` :math:`\nabla f(x)`, ``p`` the
            direction.
        c1: Armijo's constant; ``shrink`` the factor :math:`s \in (0, 1)`.
        rounding: :math:`R`, from :func:`~transfer_utils.calculus.optim_base.rounding_level`.
        need_grad: evaluate the gradient at every trial (otherwise only below the rounding level).
        floor_trials: how many trials below the rounding level may fail before it reports a stall.

    Returns:
        the accepted step, a stalled :class:`LineSearchStep` (its ``stalled`` says why), or None when
        ``max_trials`` trials found nothing (only for non-finite values).
    """
    gnorm = float(g.norm())
    t, n_evals, floor_failed = 1.0, 0, 0
    for _ in range(max_trials):
        x_new = x + t * p
        if torch.equal(x_new, x):
            return LineSearchStep(n_evals=n_evals, stalled=(
                f"the step t*p (t = {t:.3g}, |p| = {float(p.norm()):.3e}) is below the floating-point "
                "resolution of x"))
        resolvable = t * abs(slope) > rounding
        if resolvable and not need_grad:
            with torch.no_grad():
                y_new, g_new = check_scalar(f(x_new)).detach(), None
        else:
            y_new, g_new = value_and_grad(f, x_new)
        n_evals += 1
        ft = float(y_new)
        if resolvable:
            if ft <= fx + c1 * t * slope:  # NaN compares False, so it shrinks on NaN too
                return LineSearchStep(t=t, x=x_new, f=y_new, g=g_new, n_evals=n_evals)
        else:
            if ft <= fx + rounding and float(g_new.norm()) < gnorm:
                return LineSearchStep(t=t, x=x_new, f=y_new, g=g_new, n_evals=n_evals, at_floor=True)
            floor_failed += 1
            if floor_failed >= floor_trials:
                return LineSearchStep(n_evals=n_evals, stalled=(
                    f"no step decreases f beyond rounding (predicted decrease {abs(slope):.1e} at "
                    f"t = 1, rounding level {rounding:.1e} of f = {fx:.12g}) and no trial step "
                    "lowers |grad|"))
        t *= shrink
    return None

