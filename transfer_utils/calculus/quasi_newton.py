r"""L-BFGS that records its iterates: a thin wrapper over ``torch.optim.LBFGS``.

L-BFGS (Liu and Nocedal, 1989) steps along :math:`p_k = -H_k\nabla f(x_k)`, where :math:`H_k` is
the inverse-Hessian approximation built from the last :math:`m` pairs
:math:`s_i = x_{i+1}-x_i`, :math:`y_i = \nabla f_{i+1}-\nabla f_i` by the two-loop recursion
(Nocedal and Wright 2006, Algorithm 7.4), with a strong-Wolfe line search. The course uses it as a
reference point between gradient descent and Newton (notebook 03), so the algorithm itself is
PyTorch's; this module only runs it one iteration at a time and records the path as an
:class:`~transfer_utils.calculus.optim_base.OptResult`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from transfer_utils.calculus.optim_base import (
    Objective,
    OptResult,
    as_start,
    check_budget,
    check_scalar,
    finish_result,
    non_finite_error,
    rounding_level,
    stalled_message,
    value_and_grad,
)

__all__ = ["lbfgs"]

#: L-BFGS stops as stalled after this many iterations in a row that neither set a new low of the
#: gradient norm nor changed f beyond its rounding level.
LBFGS_PATIENCE = 5


def lbfgs(f: Objective, x0: torch.Tensor | Sequence[float], *, max_iter: int = 500, tol: float = 1e-8,
          history_size: int = 10) -> OptResult:
    r"""Minimise ``f`` by ``torch.optim.LBFGS`` (strong-Wolfe line search), recording every iterate.

    Each call of the optimiser's ``step`` is one L-BFGS iteration (``max_iter=1``; the curvature
    pairs live in the optimiser's state between calls); after it the iterate, :math:`f` and
    :math:`\|\nabla f\|` are recorded. The run stops with ``status``

    * ``"converged"`` when :math:`\|\nabla f(x_k)\| \le` ``tol`` (the Euclidean norm, as for every
      optimiser of the course; PyTorch's own tests are switched off);
    * ``"stalled"`` when an iteration leaves :math:`x` unchanged, or when for more than 5
      iterations in a row :math:`\|\nabla f\|` set no new low and :math:`f` stayed within its
      :func:`~transfer_utils.calculus.optim_base.rounding_level` of its value at the start of that
      stretch: the run is at the floor of floating point;
    * ``"max_iter"`` after ``max_iter`` iterations otherwise.

    Returns:
        :class:`~transfer_utils.calculus.optim_base.OptResult`; ``extra["n_evals"]`` counts evaluations of
        ``f`` (the line search's and the recording's).

    Raises:
        ValueError: bad arguments or ``f`` not scalar.
        FloatingPointError: a value or gradient becomes inf/NaN.
    """
    if history_size < 1:
        raise ValueError(f"history_size must be >= 1, got {history_size}.")
    check_budget(max_iter, tol)
    x = torch.nn.Parameter(as_start(x0))
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=1, max_eval=50, tolerance_grad=0.0,
                            tolerance_change=0.0, history_size=history_size,
                            line_search_fn="strong_wolfe")
    n_evals = 0

    def closure() -> torch.Tensor:
        nonlocal n_evals
        opt.zero_grad()
        y = check_scalar(f(x))
        y.backward()
        n_evals += 1
        return y

    advice = "Check f; rescale it or start closer to a minimum."
    xs, values, gnorms = [x.detach().clone()], [], []
    status, message = "", ""
    k = anchor = 0
    f_anchor, g_best = float("nan"), float("inf")
    while True:
        y, g = value_and_grad(f, x.detach())
        n_evals += 1
        if not (torch.isfinite(y) and torch.isfinite(g).all()):
            raise non_finite_error("value or gradient", k, advice)
        fk, gk = float(y), float(g.norm())
        values.append(fk)
        gnorms.append(gk)
        if gk <= tol or k == max_iter:
            break
        if gk < g_best or not abs(fk - f_anchor) <= rounding_level(fk, x.detach(), g):
            anchor, f_anchor, g_best = k, fk, min(g_best, gk)
        if k - anchor > LBFGS_PATIENCE:
            status, message = "stalled", stalled_message(
                f"{k - anchor} iterations in a row changed f by less than its rounding level and "
                f"none set a new low of |grad| (best {g_best:.3e})", gk, tol)
            break
        opt.step(closure)
        if torch.equal(x.detach(), xs[-1]):
            status, message = "stalled", stalled_message(
                "the L-BFGS step left x unchanged in floating point", gk, tol)
            break
        k += 1
        xs.append(x.detach().clone())
    return finish_result(xs, values, gnorms, k, tol, message=message, status=status,
                         extra={"n_evals": n_evals})
