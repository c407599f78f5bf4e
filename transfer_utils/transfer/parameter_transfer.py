"""Parameter transfer as calculus: regularising toward source weights, and warm starts.

A model trained on the source domain gives weights :math:`w_S`. Two ways to reuse them on the
target domain, both introduced in notebook 04:

* **start** the target optimisation at :math:`w_S` instead of at 0 (a warm start): for a strongly
  convex loss, gradient descent needs about :math:`\\kappa \\log(\\|w_0 - w^*\\| / \\text{tol})`
  iterations, so starting closer saves iterations, and Newton's method enters its quadratic phase
  sooner;
* **regularise** toward :math:`w_S`: ridge regression with the penalty centred at the source
  weights,

  .. math:: \\hat w = \\arg\\min_w \\|Xw - y\\|^2 + \\lambda \\|w - w_S\\|^2
            = (X^\\top X + \\lambda I)^{-1}(X^\\top y + \\lambda w_S),

  which runs from the source weights (:math:`\\lambda \\to \\infty`) to the target fit nearest
  :math:`w_S` (:math:`\\lambda \\to 0`): the least-squares fit when :math:`X^\\top X` is invertible,
  and with fewer samples than features (:math:`n < d`) the interpolant :math:`Xw = y` closest to
  :math:`w_S`, :math:`w_S + X^+(y - Xw_S)` (a minimum-norm correction of the source weights). With
  :math:`w_S = 0` it is ordinary ridge. When the source is unrelated, the pull toward :math:`w_S`
  hurts: negative transfer.

For the deep-network version of the penalty see L2-SP (Li, Grandvalet and Davoine, ICML 2018);
for transfer by regularising toward a prior model see e.g. Kuzborskij and Orabona (ICML 2013).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from transfer_utils.calculus.landscapes import logistic_loss
from transfer_utils.core.validation import check_positive, check_shaped, check_xy

__all__ = ["ridge_toward", "logistic_objective"]


def _check_Xy(X: torch.Tensor, y: torch.Tensor) -> None:
    check_xy(X, y)


def ridge_toward(
    X: torch.Tensor, y: torch.Tensor, lam: float, w_src: torch.Tensor | None = None
) -> torch.Tensor:
    """Ridge regression regularised toward source weights, in closed form.

    .. math:: \\hat w = (X^\\top X + \\lambda I)^{-1}(X^\\top y + \\lambda w_S)

    It minimises :math:`\\|Xw - y\\|^2 + \\lambda \\|w - w_S\\|^2` (setting the gradient
    :math:`2X^\\top(Xw - y) + 2\\lambda(w - w_S)` to zero). No intercept is added: append a column of
    ones to ``X`` for one (it is then pulled toward the source intercept too).

    Args:
        X: target inputs ``(n, d)``, floating point.
        y: target responses ``(n,)`` (for a classifier, labels coded as -1/+1).
        lam: :math:`\\lambda \\ge 0`; 0 is least squares (needs :math:`X^\\top X` invertible).
        w_src: source weights ``(d,)``; None means 0, i.e. ordinary ridge.

    Returns:
        :math:`\\hat w`, shape ``(d,)``, dtype and device of ``X``.

    Raises:
        ValueError: bad shapes, NaN or inf in ``X``, ``y`` or ``w_src``, a negative or NaN ``lam``,
            or ``lam = 0`` with a rank-deficient ``X``. TypeError: an integer ``X``.
    """
    _check_Xy(X, y)
    if not torch.is_floating_point(X):
        raise TypeError(f"X must be floating point, got {X.dtype}.")
    check_positive(lam, "lam", allow_zero=True)
    d = X.shape[1]
    if w_src is None:
        w_src = torch.zeros(d, dtype=X.dtype, device=X.device)
    check_shaped(w_src, "w_src", (d,), what="X")
    if w_src.device != X.device:
        raise ValueError(f"w_src is on {w_src.device} but X is on {X.device}.")
    if lam == 0 and int(torch.linalg.matrix_rank(X)) < d:
        raise ValueError(
            f"With lam = 0, X^T X must be invertible, but X (shape {tuple(X.shape)}) has rank "
            f"{int(torch.linalg.matrix_rank(X))} < {d}; use lam > 0 (or more samples than features)."
        )
    y = y.to(X.dtype)
    w_src = w_src.to(X.dtype)
    A = X.T @ X + lam * torch.eye(d, dtype=X.dtype, device=X.device)
    b = X.T @ y + lam * w_src
    try:
        return torch.linalg.solve(A, b)
    except RuntimeError as err:  # torch.linalg.LinAlgError is a RuntimeError
        raise ValueError(
            "X^T X + lam I is singular; use lam > 0 (or more samples than features)."
        ) from err


def logistic_objective(
    X: torch.Tensor, y: torch.Tensor, *, l2: float = 0.0, w_ref: torch.Tensor | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The regularised logistic loss of a linear classifier, as a function of its weights.

    .. math:: f(w) = \\frac{1}{n}\\sum_{i=1}^n \\log\\bigl(1 + e^{-y_i x_i^\\top w}\\bigr)
              + \\frac{\\ell_2}{2}\\|w - w_{\\text{ref}}\\|^2, \\qquad y_i \\in \\{-1, +1\\},

    strongly convex for :math:`\\ell_2 > 0` (so GD and Newton have one minimiser to reach). With
    :math:`y_i = 2t_i - 1`, :math:`t_i \\in \\{0, 1\\}`, it is
    :func:`transfer_utils.calculus.landscapes.logistic_loss` of the labels :math:`t`, which computes it.

    Args:
        X: inputs ``(n, d)`` (append a column of ones for an intercept).
        y: labels ``(n,)`` in {-1, +1} (0/1 labels are mapped to -1/+1).
        l2: the L2 strength :math:`\\ell_2 \\ge 0`.
        w_ref: the centre of the penalty (default 0).

    Returns:
        ``f(w) -> scalar tensor``, differentiable by autograd, for ``w`` of shape ``(d,)``.
    """
    _check_Xy(X, y)
    check_positive(l2, "l2", allow_zero=True)
    if w_ref is not None:
        check_shaped(w_ref, "w_ref", (X.shape[1],), what="X")
    y = y.to(X.dtype)
    if bool(((y == -1) | (y == 1)).all()):
        y = (y + 1) / 2
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("y must hold labels in {-1, +1} (or {0, 1}).")
    d = X.shape[1]
    ref = None if w_ref is None else w_ref.to(X)

    def f(w: torch.Tensor) -> torch.Tensor:
        if w.shape != (d,):
            raise ValueError(f"w must have shape ({d},), got {tuple(w.shape)}.")
        return logistic_loss(w, X, y, l2, w_ref=ref)

    return f
