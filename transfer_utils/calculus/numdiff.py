r"""Finite differences: derivatives, gradients and Jacobians by evaluation alone, and gradient checks.

Forward difference :math:`\frac{f(x+h)-f(x)}{h} = f'(x) + \tfrac h2 f''(\xi)` (error :math:`O(h)`),
central difference :math:`\frac{f(x+h)-f(x-h)}{2h} = f'(x) + \tfrac{h^2}{6} f'''(\xi)` (error
:math:`O(h^2)`); with round-off :math:`\epsilon` per evaluation the total error is about
:math:`\tfrac{h}{2}|f''| + \tfrac{2\epsilon|f|}{h}` (forward) and :math:`\tfrac{h^2}{6}|f'''| +
\tfrac{\epsilon|f|}{h}` (central), smallest at :math:`h \sim \epsilon^{1/2}` and
:math:`h \sim \epsilon^{1/3}` respectively.

Introduced in ``notebooks/01_derivatives_autograd``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from transfer_utils.core.validation import check_finite, check_positive

__all__ = [
    "forward_difference",
    "central_difference",
    "optimal_step",
    "numerical_gradient",
    "numerical_jacobian",
    "GradCheck",
    "check_gradient",
]

_METHODS = ("forward", "central")


def _scalar(y: object, name: str = "f") -> torch.Tensor:
    if not isinstance(y, torch.Tensor):
        y = torch.as_tensor(y)
    if y.numel() != 1:
        raise ValueError(
            f"{name} must return a scalar (one number) but returned shape {tuple(y.shape)}; "
            "use numerical_jacobian for vector-valued functions, or reduce the output (.sum())."
        )
    return y.reshape(())


def _check_h(h: float) -> float:
    check_positive(h, "h", advice="The step h must be a positive finite number.")
    return float(h)


def forward_difference(f: Callable, x: float | torch.Tensor, h: float) -> torch.Tensor:
    r"""Forward difference :math:`(f(x+h)-f(x))/h` of a scalar function of a scalar (elementwise on tensors)."""
    h = _check_h(h)
    return (f(x + h) - f(x)) / h


def central_difference(f: Callable, x: float | torch.Tensor, h: float) -> torch.Tensor:
    r"""Central difference :math:`(f(x+h)-f(x-h))/(2h)` of a scalar function of a scalar (elementwise)."""
    h = _check_h(h)
    return (f(x + h) - f(x - h)) / (2 * h)


def optimal_step(method: str = "central", eps: float | None = None, scale: float = 1.0) -> float:
    r"""The step that balances truncation and round-off: :math:`\epsilon^{1/2}` (forward) or
    :math:`\epsilon^{1/3}` (central), times ``scale`` (the size of :math:`x` or of the ratio of
    derivatives; 1 for well-scaled problems).

    Args:
        eps: unit round-off; defaults to float64 machine epsilon :math:`2.2\times10^{-16}`.
    """
    if method not in _METHODS:
        raise ValueError(f"Unknown method {method!r}; use one of {_METHODS}.")
    eps = torch.finfo(torch.float64).eps if eps is None else eps
    return scale * (eps ** 0.5 if method == "forward" else eps ** (1 / 3))


def _default_h(x: torch.Tensor, method: str) -> float:
    return optimal_step(method, torch.finfo(x.dtype).eps, scale=max(1.0, float(x.abs().max())))


def _float_vec(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.to(torch.float64)
    if x.numel() == 0:
        raise ValueError(f"{name} is empty.")
    check_finite(x, name, advice="differentiate at a finite point")
    return x.detach()


def numerical_gradient(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    h: float | None = None,
    method: str = "central",
) -> torch.Tensor:
    r"""Gradient of a scalar function by finite differences, one coordinate at a time.

    :math:`[\nabla f(x)]_i \approx (f(x+he_i) - f(x-he_i))/(2h)` (central) or
    :math:`(f(x+he_i)-f(x))/h` (forward).

    Args:
        f: a function of a tensor returning a scalar tensor.
        x: the point, any shape (use float64 for accuracy).
        h: the step; default :func:`optimal_step` for the dtype of ``x``.

    Returns:
        A tensor of the shape of ``x``.

    Raises:
        ValueError: ``f`` returns more than one number, or an unknown method.
    """
    if method not in _METHODS:
        raise ValueError(f"Unknown method {method!r}; use one of {_METHODS}.")
    x = _float_vec(x)
    h = _default_h(x, method) if h is None else _check_h(h)
    flat = x.reshape(-1)
    grad = torch.empty_like(flat)
    with torch.no_grad():
        f0 = _scalar(f(x)) if method == "forward" else None
        for i in range(flat.numel()):
            e = torch.zeros_like(flat)
            e[i] = h
            fp = _scalar(f((flat + e).reshape(x.shape)))
            if method == "central":
                fm = _scalar(f((flat - e).reshape(x.shape)))
                grad[i] = (fp - fm) / (2 * h)
            else:
                grad[i] = (fp - f0) / h
    return grad.reshape(x.shape)


def numerical_jacobian(
    F: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    h: float | None = None,
) -> torch.Tensor:
    r"""Jacobian :math:`J_{ij} = \partial F_i/\partial x_j` by central differences.

    Shape: ``x`` ``(n,)`` (or any shape, flattened), output of ``F`` ``(m,)`` (flattened);
    returns ``(m, n)``.
    """
    x = _float_vec(x)
    h = _default_h(x, "central") if h is None else _check_h(h)
    flat = x.reshape(-1)
    cols = []
    with torch.no_grad():
        for i in range(flat.numel()):
            e = torch.zeros_like(flat)
            e[i] = h
            fp = torch.as_tensor(F((flat + e).reshape(x.shape))).reshape(-1)
            fm = torch.as_tensor(F((flat - e).reshape(x.shape))).reshape(-1)
            cols.append((fp - fm) / (2 * h))
    return torch.stack(cols, dim=1)


@dataclass
class GradCheck:
    r"""The result of :func:`check_gradient`.

    Attributes:
        max_abs: :math:`\max_i |g_i - \tilde g_i|`.
        max_rel: :math:`\max_i |g_i - \tilde g_i| / \max(|g_i|, |\tilde g_i|)`.
        ok: every coordinate within tolerance (abs diff ``<= atol`` or rel diff ``<= rtol``).
        analytic, numerical: the two gradients.
        norm_rel: :math:`\|g - \tilde g\| / \max(\|g\|, \|\tilde g\|)`, the normwise relative
            difference (not inflated by coordinates that are nearly zero).
    """

    max_abs: float
    max_rel: float
    ok: bool
    analytic: torch.Tensor
    numerical: torch.Tensor
    norm_rel: float = 0.0

    def __str__(self) -> str:
        verdict = "OK" if self.ok else "MISMATCH"
        return (f"gradient check {verdict}: max abs diff {self.max_abs:.2e}, max rel diff {self.max_rel:.2e}, "
                f"normwise rel diff {self.norm_rel:.2e}")


def check_gradient(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    grad: torch.Tensor | None = None,
    *,
    h: float | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> GradCheck:
    r"""Compare a gradient (autograd's by default) with central differences at ``x``.

    Args:
        f: a function of a tensor returning a scalar tensor.
        grad: the gradient to test; if None it is computed by ``torch.autograd.grad``.
        rtol, atol: the check passes when every coordinate has relative error ``<= rtol`` or
            absolute error ``<= atol``. Use float64: in float32 central differences are only
            good to about :math:`10^{-5}` relative.

    Returns:
        :class:`GradCheck` with the largest absolute and relative differences.
    """
    check_positive(rtol, "rtol", allow_zero=True)
    check_positive(atol, "atol", allow_zero=True)
    x = _float_vec(x)
    if grad is None:
        xr = x.clone().requires_grad_(True)
        with torch.enable_grad():
            y = _scalar(f(xr))
            (grad,) = torch.autograd.grad(y, xr)
    grad = torch.as_tensor(grad).detach()
    if grad.shape != x.shape:
        raise ValueError(f"grad has shape {tuple(grad.shape)} but x has {tuple(x.shape)}.")
    num = numerical_gradient(f, x, h=h)
    diff = (grad.to(num.dtype) - num).abs()
    denom = torch.maximum(grad.abs().to(num.dtype), num.abs()).clamp_min(1e-300)
    rel = diff / denom
    max_abs, max_rel = float(diff.max()), float(rel.max())
    ok = bool(((diff <= atol) | (rel <= rtol)).all())
    scale = max(float(grad.norm()), float(num.norm()), 1e-300)
    norm_rel = float((grad.to(num.dtype) - num).norm()) / scale
    return GradCheck(max_abs=max_abs, max_rel=max_rel, ok=ok, analytic=grad, numerical=num, norm_rel=norm_rel)
