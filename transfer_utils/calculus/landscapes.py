"""Test functions for optimisation: quadratics of chosen conditioning, Rosenbrock, a saddle,
a function with several local minima, and the logistic-regression loss.

Every function takes a 1-D float tensor and returns a scalar tensor, so it can be handed to
:mod:`transfer_utils.calculus.optim` and :mod:`transfer_utils.calculus.newton` directly. Introduced in
``notebooks/02_gradient_descent``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from transfer_utils.core.validation import check_binary_labels, check_finite, check_number, check_positive

__all__ = [
    "Quadratic",
    "make_quadratic",
    "quadratic_with_condition",
    "rosenbrock",
    "saddle",
    "four_wells",
    "FOUR_WELLS_MINIMA",
    "logistic_loss",
]


def _vec(x: torch.Tensor, d: int | None, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 1 or (d is not None and x.numel() != d):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        want = f"({d},)" if d is not None else "(d,)"
        raise ValueError(f"{name} expects a 1-D tensor of shape {want}, got {shape}.")


@dataclass
class Quadratic:
    r""":math:`f(x) = \tfrac12 (x-x^\star)^\top A (x-x^\star)`, with :math:`A` symmetric.

    Attributes:
        A: the Hessian, shape ``(d, d)``.
        x_star: the minimiser (when :math:`A \succ 0`), shape ``(d,)``.
        eigenvalues: the eigenvalues of ``A``, ascending.
    """

    A: torch.Tensor
    x_star: torch.Tensor
    eigenvalues: torch.Tensor

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _vec(x, self.A.shape[0], "Quadratic")
        e = x - self.x_star.to(x.dtype)
        return 0.5 * e @ (self.A.to(x.dtype) @ e)

    @property
    def L(self) -> float:
        """Smoothness constant: the largest eigenvalue."""
        return float(self.eigenvalues[-1])

    @property
    def mu(self) -> float:
        """Strong-convexity constant: the smallest eigenvalue."""
        return float(self.eigenvalues[0])

    @property
    def kappa(self) -> float:
        r"""Condition number :math:`\kappa = L/\mu`."""
        return self.L / self.mu

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        r"""Closed-form gradient :math:`A(x-x^\star)`."""
        return self.A.to(x.dtype) @ (x - self.x_star.to(x.dtype))


def make_quadratic(
    eigenvalues: Sequence[float] | torch.Tensor,
    *,
    x_star: Sequence[float] | torch.Tensor | None = None,
    rotate: bool = True,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> Quadratic:
    r"""A quadratic :math:`\tfrac12(x-x^\star)^\top Q\Lambda Q^\top(x-x^\star)` with given eigenvalues.

    Args:
        eigenvalues: the spectrum :math:`\Lambda` (any sign; positive for a convex bowl).
        x_star: the centre (default: zeros).
        rotate: use a random orthogonal :math:`Q` (QR of a Gaussian matrix) instead of the identity.
        generator: for the random rotation.
    """
    lam = torch.as_tensor(eigenvalues, dtype=dtype).reshape(-1)
    if lam.numel() == 0 or not torch.isfinite(lam).all():
        raise ValueError(f"eigenvalues must be a non-empty list of finite numbers, got {eigenvalues}.")
    d = lam.numel()
    if rotate:
        G = torch.randn(d, d, generator=generator, dtype=torch.float64).to(dtype)
        Q, R = torch.linalg.qr(G)
        Q = Q * torch.sign(torch.diagonal(R))
    else:
        Q = torch.eye(d, dtype=dtype)
    A = (Q * lam) @ Q.T
    A = 0.5 * (A + A.T)
    xs = torch.zeros(d, dtype=dtype) if x_star is None else torch.as_tensor(x_star, dtype=dtype)
    if xs.shape != (d,):
        raise ValueError(f"x_star must have shape ({d},), got {tuple(xs.shape)}.")
    check_finite(xs, "x_star")
    return Quadratic(A=A, x_star=xs, eigenvalues=torch.sort(lam).values)


def quadratic_with_condition(
    kappa: float,
    d: int = 2,
    *,
    L: float = 1.0,
    rotate: bool = True,
    generator: torch.Generator | None = None,
) -> Quadratic:
    r"""A :math:`d`-dimensional quadratic with :math:`\lambda_{\max}=L` and :math:`\lambda_{\min}=L/\kappa`,
    the other eigenvalues spaced geometrically between them."""
    if not check_number(kappa, "kappa") >= 1:
        raise ValueError(f"kappa must be >= 1, got {kappa}.")
    check_positive(L, "L")
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}.")
    lam = L * torch.logspace(-math.log10(kappa), 0, d, dtype=torch.float64) if d > 1 else torch.tensor([L])
    return make_quadratic(lam, rotate=rotate, generator=generator)


def rosenbrock(x: torch.Tensor, a: float = 1.0, b: float = 100.0) -> torch.Tensor:
    r"""Rosenbrock's valley :math:`\sum_i (a-x_i)^2 + b(x_{i+1}-x_i^2)^2`; minimum 0 at :math:`(a,\dots,a)`.

    Rosenbrock (1960), The Computer Journal 3(3).
    """
    _vec(x, None, "rosenbrock")
    if x.numel() < 2:
        raise ValueError("rosenbrock needs at least 2 coordinates.")
    return ((a - x[:-1]) ** 2).sum() + b * ((x[1:] - x[:-1] ** 2) ** 2).sum()


def saddle(x: torch.Tensor) -> torch.Tensor:
    r"""The saddle :math:`\tfrac12(x_0^2 - x_1^2)`: a critical point at 0 with Hessian diag(1, -1)."""
    _vec(x, 2, "saddle")
    return 0.5 * (x[0] ** 2 - x[1] ** 2)


# Approximate minimisers of four_wells (found by Newton's method; see tests).
FOUR_WELLS_MINIMA = torch.tensor(
    [[-1.035579, -1.012273], [-1.035579, 0.987257], [0.960150, -1.012273], [0.960150, 0.987257]], dtype=torch.float64
)


def four_wells(x: torch.Tensor) -> torch.Tensor:
    r"""A tilted double well in each coordinate: :math:`(x_0^2-1)^2 + (x_1^2-1)^2 + 0.3x_0 + 0.1x_1`.

    Four local minima near :math:`(\pm1,\pm1)` with different values (the deepest near
    :math:`(-1,-1)`), four saddles and a maximum near the origin: which minimum gradient descent
    reaches depends on where it starts.
    """
    _vec(x, 2, "four_wells")
    return (x[0] ** 2 - 1) ** 2 + (x[1] ** 2 - 1) ** 2 + 0.3 * x[0] + 0.1 * x[1]


def logistic_loss(
    w: torch.Tensor,
    X: torch.Tensor,
    y: torch.Tensor,
    l2: float = 0.0,
    *,
    w_ref: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""The logistic loss of a linear classifier with an L2 penalty, labels :math:`y_i\in\{0,1\}`:

    .. math:: f(w) = \frac1n\sum_i \big[\log(1+e^{x_i^\top w}) - y_i\,x_i^\top w\big]
              + \frac{\ell_2}{2}\|w - w_{\text{ref}}\|^2,

    the negative mean log-likelihood of :math:`p(y_i=1\mid x_i) = \sigma(x_i^\top w)`. Each term is
    computed as :math:`\operatorname{softplus}\big((1-2y_i)\,x_i^\top w\big)` (equal to the
    bracket for :math:`y_i\in\{0,1\}`), which neither overflows nor cancels at large margins.
    Convex; strongly convex for :math:`\ell_2>0`. Gradient
    :math:`X^\top(\sigma(Xw)-y)/n + \ell_2 (w - w_{\text{ref}})`, Hessian
    :math:`X^\top \operatorname{diag}(\sigma_i(1-\sigma_i)) X/n + \ell_2 I`. The one logistic loss of
    the course: Newton/IRLS (notebook 03), warm starts (04) and the Laplace posterior (10) use it.

    Args:
        w: weights ``(d,)``; ``X`` inputs ``(n, d)`` (append a column of ones for an intercept);
            ``y`` labels ``(n,)`` in {0, 1}.
        l2: the L2 strength :math:`\ell_2 \ge 0`; ``w_ref`` the centre of the penalty (default 0).
        reduction: ``"mean"`` (the :math:`\frac1n` above) or ``"sum"`` (no :math:`\frac1n`).

    Raises:
        ValueError: bad shapes, an empty ``X``, NaN or inf in ``X``, labels other than 0/1, a
            negative ``l2``, or an unknown reduction.
    """
    _vec(w, None, "logistic_loss (w)")
    if X.ndim != 2 or X.shape[1] != w.numel() or y.shape != (X.shape[0],):
        raise ValueError(
            f"Need X (n, d), y (n,), w (d,); got X {tuple(X.shape)}, y {tuple(y.shape)}, w {tuple(w.shape)}."
        )
    if X.shape[0] == 0:
        raise ValueError("X is empty: logistic_loss needs at least one sample.")
    check_finite(X, "X")
    check_binary_labels(y)
    check_positive(l2, "l2", allow_zero=True)
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}.")
    z = X @ w
    terms = torch.nn.functional.softplus((1 - 2 * y.to(z.dtype)) * z)
    loss = terms.mean() if reduction == "mean" else terms.sum()
    if l2 == 0.0:
        return loss
    r = w if w_ref is None else w - w_ref.to(w)
    return loss + 0.5 * l2 * (r @ r)
