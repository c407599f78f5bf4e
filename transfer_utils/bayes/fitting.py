"""Full-batch Adam on a scalar loss: the one fitting loop of the GP helpers.

Type-II maximum likelihood in :mod:`~transfer_utils.bayes.gp_scratch` and
:mod:`~transfer_utils.bayes.gp_models`, and the ELBO in :mod:`~transfer_utils.bayes.gp_classification`,
all run :func:`adam_minimize`, which also says when such a fit diverged. Introduced in notebook 09.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from transfer_utils.core.validation import check_int, check_positive

__all__ = ["adam_minimize"]


def adam_minimize(
    loss_fn: Callable[[], torch.Tensor],
    params: Iterable[torch.Tensor],
    *,
    num_steps: int,
    lr: float,
) -> list[float]:
    r"""Full-batch Adam on a scalar loss, :math:`\theta_{k+1} = \operatorname{Adam}(\theta_k,
    \nabla_\theta L(\theta_k); \eta)`, for ``num_steps`` steps.

    It stops with :class:`FloatingPointError` when the loss becomes NaN or inf, and when the run
    diverged: the last loss exceeds the first by more than the first's size,
    :math:`L_{\text{last}} > L_0 + \max(1, |L_0|)`. A minimisation that ends that far above where
    it began has overshot: Adam moves every coordinate by about :math:`\eta` per step, too far for
    this loss (on log-hyperparameters, a step of 50 multiplies a lengthscale by :math:`e^{50}`).

    Args:
        loss_fn: computes :math:`L(\theta)` (a scalar tensor) from the parameters ``params``.

    Returns:
        :math:`L(\theta_k)` for :math:`k = 0, \dots,` ``num_steps`` - 1.

    Raises:
        ValueError: no parameters, a negative ``num_steps`` or a non-positive ``lr``.
        FloatingPointError: the loss became non-finite, or the run diverged as above.
    """
    params = list(params)
    if not params:
        raise ValueError("adam_minimize needs at least one parameter to optimise.")
    check_int(num_steps, "num_steps", minimum=0)
    check_positive(lr, "lr")
    optimizer = torch.optim.Adam(params, lr=lr)
    losses: list[float] = []
    for step in range(num_steps):
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(
                f"The loss became {losses[-1]} at step {step} of Adam: the run diverged or the data "
                f"hold NaN/inf. Lower lr (now {lr:g}) or check the inputs.")
    if losses and losses[-1] > losses[0] + max(1.0, abs(losses[0])):
        raise FloatingPointError(
            f"Adam diverged: the loss rose from {losses[0]:.4g} at the start to {losses[-1]:.4g} after "
            f"{num_steps} steps. Lower lr (now {lr:g}).")
    return losses
