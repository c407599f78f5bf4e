r"""Hessian-free second-order tools: Hessian-vector products and conjugate gradient.

For a network with millions of weights the Hessian cannot be formed, but :math:`Hv` costs two
backward passes (:func:`hvp`), and conjugate gradient (:func:`conjugate_gradient`) solves the Newton
system :math:`Hp = -g` from such products alone. Introduced in ``notebooks/03_newton``.
"""

from __future__ import annotations

from collections.abc import Callable

import math

import torch

from transfer_utils.calculus.optim_base import Objective, check_scalar
from transfer_utils.core.validation import check_finite, check_int, check_positive, check_tensor

__all__ = ["hvp", "conjugate_gradient"]


def hvp(f: Objective, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""Hessian-vector product :math:`\nabla^2 f(x)\,v` by double backward (Pearlmutter, 1994).

    :math:`Hv = \nabla_x\big(\nabla f(x)^\top v\big)`: two backward passes, never forming
    :math:`H`, so the cost is a small multiple of one gradient.

    Shape: ``x`` and ``v`` are ``(d,)``; the result is ``(d,)``.
    """
    check_tensor(x, "x")
    check_tensor(v, "v")
    if x.shape != v.shape:
        raise ValueError(f"x and v must have the same shape, got {tuple(x.shape)} and {tuple(v.shape)}.")
    check_finite(x, "x")
    check_finite(v, "v")
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        y = check_scalar(f(x))
        (g,) = torch.autograd.grad(y, x, create_graph=True)
        (hv,) = torch.autograd.grad(g, x, grad_outputs=v.detach())
    return hv.detach()


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
        ValueError: :math:`p^\top A p \le 0` (the operator is not positive definite), or a bad
            ``b`` (not 1-D, NaN or inf), ``tol`` or ``max_iter``.
        FloatingPointError: ``matvec`` returned NaN or inf.
    """
    check_tensor(b, "b")
    if b.ndim != 1:
        raise ValueError(f"b must be 1-D, got shape {tuple(b.shape)}.")
    check_finite(b, "b")
    check_positive(tol, "tol", allow_zero=True)
    max_iter = b.numel() * 2 if max_iter is None else check_int(max_iter, "max_iter", minimum=0)
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
        if not math.isfinite(pAp):
            raise FloatingPointError(f"matvec returned NaN or inf (p^T A p = {pAp}); check the operator "
                                     "(e.g. the Hessian-vector product at a finite point).")
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
