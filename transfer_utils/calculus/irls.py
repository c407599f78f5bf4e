r"""Newton's method for penalised logistic regression as iteratively reweighted least squares (IRLS).

:func:`logistic_irls` takes Newton steps with the Hessian :math:`X^\top W X` in closed form (and an
optional Gaussian prior, which :func:`transfer_utils.bayes.laplace.fit_laplace_logistic` uses): the one
Newton solver for logistic regression in the course. Introduced in ``notebooks/03_newton``.
"""

from __future__ import annotations

import torch

from transfer_utils.calculus.landscapes import logistic_loss
from transfer_utils.calculus.newton import newton_minimize
from transfer_utils.calculus.optim_base import OptResult
from transfer_utils.core.validation import check_binary_labels, check_positive, check_shaped, check_xy

__all__ = ["logistic_irls"]


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
