"""Optimisers that record their whole trajectory, and the rates theory predicts on a quadratic.

The optimisers live in modules by idea and are re-exported here, where the notebooks import them:

* :mod:`transfer_utils.calculus.optim_base`: the run record :class:`OptResult`, :class:`DivergenceError`,
  :func:`value_and_grad` and :func:`rounding_level` (the yardstick for "beyond rounding");
* :mod:`transfer_utils.calculus.first_order`: :func:`gradient_descent` (with heavy-ball or Nesterov
  momentum), :func:`adam`, :func:`sgd`;
* :mod:`transfer_utils.calculus.quasi_newton`: :func:`lbfgs`, ``torch.optim.LBFGS`` recording its iterates.

This module itself holds what theory predicts for gradient descent on a quadratic.

Introduced in ``notebooks/02_gradient_descent``; reused by 03 (Newton) and 04 (warm starts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from transfer_utils.calculus.first_order import adam, gradient_descent, sgd
from transfer_utils.calculus.optim_base import DivergenceError, OptResult, rounding_level, value_and_grad
from transfer_utils.calculus.quasi_newton import lbfgs
from transfer_utils.core.validation import check_finite, check_number

__all__ = [
    "OptResult",
    "DivergenceError",
    "rounding_level",
    "value_and_grad",
    "gradient_descent",
    "adam",
    "sgd",
    "lbfgs",
    "quadratic_gd_rate",
    "optimal_gd_lr",
    "heavy_ball_params",
    "predicted_iterations",
]


# --- what theory predicts on a quadratic -----------------------------------------------------


def quadratic_gd_rate(eigenvalues: torch.Tensor | Sequence[float], lr: float) -> float:
    r"""Contraction factor of GD on a quadratic: :math:`\rho(\eta) = \max_i |1 - \eta\lambda_i|`.

    The error obeys :math:`\|x_k - x^\star\| \le \rho^k \|x_0 - x^\star\|`; GD converges iff
    :math:`\rho < 1`, i.e. :math:`0 < \eta < 2/\lambda_{\max}` (all :math:`\lambda_i > 0`).
    """
    lam = torch.as_tensor(eigenvalues, dtype=torch.float64)
    if lam.numel() == 0:
        raise ValueError("eigenvalues is empty.")
    check_finite(lam, "eigenvalues", advice="pass the Hessian's (finite) eigenvalues")
    check_number(lr, "lr")
    return float((1 - lr * lam).abs().max())


def optimal_gd_lr(L: float, mu: float) -> tuple[float, float]:
    r"""The best constant GD step on a quadratic and its rate.

    :math:`\eta^\star = 2/(L+\mu)`, :math:`\rho^\star = (\kappa-1)/(\kappa+1)`, :math:`\kappa = L/\mu`.
    """
    L, mu = check_number(L, "L"), check_number(mu, "mu")
    if not (L >= mu > 0):
        raise ValueError(f"Need L >= mu > 0, got L={L}, mu={mu}.")
    kappa = L / mu
    return 2.0 / (L + mu), (kappa - 1) / (kappa + 1)


def heavy_ball_params(L: float, mu: float) -> tuple[float, float, float]:
    r"""Polyak's tuned heavy-ball step, momentum and rate on a quadratic.

    :math:`\eta = 4/(\sqrt L + \sqrt\mu)^2`, :math:`\beta = \big((\sqrt\kappa-1)/(\sqrt\kappa+1)\big)^2`,
    rate :math:`(\sqrt\kappa-1)/(\sqrt\kappa+1)` (Polyak, 1964).

    Returns:
        ``(lr, momentum, rate)``.
    """
    L, mu = check_number(L, "L"), check_number(mu, "mu")
    if not (L >= mu > 0):
        raise ValueError(f"Need L >= mu > 0, got L={L}, mu={mu}.")
    sk = math.sqrt(L / mu)
    rate = (sk - 1) / (sk + 1)
    return 4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2, rate**2, rate


def predicted_iterations(rate: float, reduction: float) -> int:
    r"""Steps :math:`k` with :math:`\rho^k \le` ``reduction``: :math:`\lceil \log r / \log\rho \rceil`."""
    if not 0 < reduction < 1:
        raise ValueError(f"reduction must be in (0, 1), got {reduction}.")
    if not 0 <= rate < 1:
        raise ValueError(f"rate must be in [0, 1) for convergence, got {rate}.")
    if rate == 0:
        return 1
    return math.ceil(math.log(reduction) / math.log(rate))
