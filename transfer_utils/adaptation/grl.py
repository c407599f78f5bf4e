"""The gradient reversal layer (GRL) and the DANN schedule of its coefficient.

The GRL is the identity in the forward pass and multiplies the incoming gradient by
:math:`-\\lambda` in the backward pass,

.. math:: R_\\lambda(x) = x, \\qquad \\frac{\\partial R_\\lambda}{\\partial x} = -\\lambda I .

Placed between a feature extractor :math:`G_f` and a domain discriminator :math:`G_d`, one
backward pass of the discriminator's loss :math:`\\mathcal L_d` then gives the discriminator
:math:`+\\nabla_{\\theta_d}\\mathcal L_d` (descent: it learns to tell the domains apart) and the
feature extractor :math:`-\\lambda\\nabla_{\\theta_f}\\mathcal L_d` (ascent: it learns to confuse the
discriminator), which is a simultaneous gradient step on the minimax problem
:math:`\\min_{\\theta_f}\\max_{\\theta_d} \\; \\mathcal L_y - \\lambda\\,\\mathcal L_d`.

Ganin and Lempitsky raise :math:`\\lambda` from 0 to :math:`\\lambda_{\\max}` over training,

.. math:: \\lambda_p = \\lambda_{\\max}\\Big(\\frac{2}{1 + e^{-\\gamma p}} - 1\\Big), \\qquad p \\in [0, 1]
          \\text{ the training progress}, \\ \\gamma = 10,

so that the discriminator's noisy early signal does not disturb the features.

Reference:
    Ganin and Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015;
    Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 17, 2016.

Introduced in notebook 08.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from transfer_utils.core.validation import check_positive

__all__ = ["GradientReversalFunction", "grad_reverse", "dann_lambda", "GradientReversalLayer"]


def _check_lambda(lambd: float, name: str = "lambd") -> float:
    check_positive(lambd, name, allow_zero=True, advice=(
        "A negative value would turn the reversal back into ordinary descent (the features would "
        "help the discriminator)."))
    return float(lambd)


class GradientReversalFunction(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``-lambd`` (no gradient for ``lambd``)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, lambd: float) -> torch.Tensor:
        ctx.lambd = lambd
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.lambd * grad_output, None


def grad_reverse(x: torch.Tensor, lambd: float = 1.0) -> torch.Tensor:
    """Apply :math:`R_\\lambda`: returns ``x`` unchanged; its gradient becomes ``-lambd * grad``.

    Raises:
        ValueError: ``lambd`` negative, NaN or infinite.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}.")
    return GradientReversalFunction.apply(x, _check_lambda(lambd))


def dann_lambda(progress: float, *, max_value: float = 1.0, gamma: float = 10.0) -> float:
    """The DANN schedule :math:`\\lambda_{\\max}(2/(1+e^{-\\gamma p}) - 1)` for progress ``p`` in [0, 1].

    Raises:
        ValueError: ``progress`` outside [0, 1], or a negative ``max_value`` or ``gamma``.
    """
    p = float(progress)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"progress must be in [0, 1] (step / total steps), got {progress!r}.")
    _check_lambda(max_value, "max_value")
    check_positive(gamma, "gamma", allow_zero=True)
    return max_value * (2.0 / (1.0 + math.exp(-gamma * p)) - 1.0)


class GradientReversalLayer(nn.Module):
    """A GRL module that carries its own :math:`\\lambda` schedule.

    Args:
        max_lambda: :math:`\\lambda_{\\max}` (>= 0).
        gamma: steepness of the schedule; ``schedule=False`` keeps :math:`\\lambda = \\lambda_{\\max}`.
        schedule: follow :func:`dann_lambda` of the progress set by :meth:`set_progress`.

    The training loop (:func:`transfer_utils.adaptation.training.train_da`) calls ``set_progress(step / total)``
    on every module that has it, so a GRL inside any loss follows the schedule.

    Shape: any; the output equals the input.
    """

    def __init__(self, max_lambda: float = 1.0, *, gamma: float = 10.0, schedule: bool = True) -> None:
        super().__init__()
        self.max_lambda = _check_lambda(max_lambda, "max_lambda")
        check_positive(gamma, "gamma", allow_zero=True)
        self.gamma = float(gamma)
        self.schedule = bool(schedule)
        self.progress = 0.0

    @property
    def lambd(self) -> float:
        """The current coefficient :math:`\\lambda_p`."""
        if not self.schedule:
            return self.max_lambda
        return dann_lambda(self.progress, max_value=self.max_lambda, gamma=self.gamma)

    def set_progress(self, progress: float) -> None:
        """Set the training progress ``p`` in [0, 1] (raises ValueError outside it)."""
        p = float(progress)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"progress must be in [0, 1], got {progress!r}.")
        self.progress = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.lambd)

    def extra_repr(self) -> str:
        return (f"max_lambda={self.max_lambda}, gamma={self.gamma}, schedule={self.schedule}, "
                f"lambda={self.lambd:.4f}")
