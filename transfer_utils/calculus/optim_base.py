"""What every optimiser of the course shares: the run record, start and scalar checks, rounding.

Every optimiser minimises ``f``, a function of a 1-D float tensor that returns a scalar tensor, and
returns an :class:`OptResult` holding every iterate, so that a notebook can draw the path on a
contour plot and the error against the iteration. Every run ends with a ``status`` (see
:class:`OptResult`). :func:`rounding_level` is the yardstick for "a change of ``f`` beyond rounding".

Used by :mod:`transfer_utils.calculus.first_order`, :mod:`transfer_utils.calculus.line_search`,
:mod:`transfer_utils.calculus.quasi_newton` and :mod:`transfer_utils.calculus.newton` (notebooks 02 and 03).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from transfer_utils.core.validation import check_finite, check_int, check_positive

__all__ = [
    "Objective",
    "OptResult",
    "DivergenceError",
    "ROUNDING_FACTOR",
    "as_start",
    "check_budget",
    "check_scalar",
    "non_finite_error",
    "value_and_grad",
    "rounding_level",
    "stalled_message",
    "finish_result",
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


def as_start(x0: torch.Tensor | Sequence[float]) -> torch.Tensor:
    """The start of a run as a detached 1-D float tensor (a copy).

    A tensor keeps its dtype (an integer one becomes the default float dtype); a list or array of
    numbers becomes float64.

    Raises:
        ValueError: ``x0`` is not a non-empty 1-D vector, or holds NaN or inf.
    """
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
    check_finite(x, "x0", advice="start from a finite point")
    return x


def check_budget(max_iter: int, tol: float) -> None:
    """Raise unless ``max_iter`` is an int >= 0 and ``tol`` a finite number >= 0."""
    check_int(max_iter, "max_iter", minimum=0)
    check_positive(tol, "tol", allow_zero=True)


def check_scalar(y: object, where: str = "f") -> torch.Tensor:
    """``y`` as a 0-d tensor, after checking that ``where`` returned a one-element tensor.

    Raises:
        ValueError: ``y`` is not a tensor, or has more than one element.
    """
    if not isinstance(y, torch.Tensor):
        raise ValueError(f"{where} must return a scalar torch tensor, got {type(y).__name__}.")
    if y.numel() != 1:
        raise ValueError(
            f"{where} must return a scalar (one number) but returned shape {tuple(y.shape)}; "
            "reduce it, e.g. with .sum() or .mean()."
        )
    return y.reshape(())


def non_finite_error(what: str, it: int, advice: str) -> FloatingPointError:
    """The error to raise when ``what`` became inf/NaN at iteration ``it``; ``advice`` says what to do."""
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
        y = check_scalar(f(x))
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


def stalled_message(reason: str, gnorm: float, tol: float) -> str:
    """The ``message`` of a run with ``status == "stalled"``: why, and the gradient norm it reached."""
    return f"stalled at machine precision: {reason}; |grad| = {gnorm:.3e} (tol {tol:g})"


def finish_result(
    xs: list[torch.Tensor],
    values: list[float],
    gnorms: list[float],
    n_iter: int,
    tol: float,
    message: str = "",
    extra: dict | None = None,
    status: str = "",
) -> OptResult:
    r"""Assemble the :class:`OptResult` of a finished run.

    ``converged`` is :math:`\|\nabla f(x_{\text{last}})\| \le` ``tol``, which overrides
    ``status``; an empty ``status`` becomes ``"max_iter"`` and an empty ``message`` a default one.
    """
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

