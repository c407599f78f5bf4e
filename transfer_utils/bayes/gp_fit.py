"""Type-II maximum likelihood for the from-scratch GP: Adam on the log hyperparameters.

:func:`fit_hyperparameters` maximises the log marginal likelihood
:func:`~transfer_utils.bayes.gp_scratch.log_marginal_likelihood` over
:math:`\\log\\ell, \\log\\sigma_f^2, \\log\\sigma_n^2` (and the mean :math:`m`), so every positive
hyperparameter stays positive, and says so when the fit diverges. Introduced in notebook 09.
"""

from __future__ import annotations

import math

import torch

from transfer_utils.bayes.gp_scratch import GPHyperparameters, log_marginal_likelihood
from transfer_utils.core.validation import check_same_dtype, check_xy
from transfer_utils.bayes.fitting import adam_minimize

__all__ = ["fit_hyperparameters"]


def fit_hyperparameters(
    X: torch.Tensor,
    y: torch.Tensor,
    init: GPHyperparameters | None = None,
    *,
    num_steps: int = 200,
    lr: float = 0.05,
    learn_mean: bool = True,
) -> tuple[GPHyperparameters, list[float]]:
    """Type-II maximum likelihood by Adam on the log hyperparameters.

    Maximises :math:`\\log p(y\\mid X,\\theta)` over :math:`\\log\\ell, \\log\\sigma_f^2, \\log\\sigma_n^2`
    (and :math:`m`), so every positive hyperparameter stays positive.

    Args:
        X: training inputs, shape (n, d) or (n,); ``y`` targets (n,), same dtype.
        init: the start (default: unit lengthscale and outputscale, noise 0.1, mean ``y.mean()``).

    Returns:
        The fitted hyperparameters and the list of log marginal likelihoods per step.

    Raises:
        ValueError: bad shapes, NaN or inf data, or a bad ``num_steps`` or ``lr``.
        FloatingPointError: the fit diverged (see :func:`~transfer_utils.bayes.fitting.adam_minimize`);
            the message gives the hyperparameters reached. Lower ``lr``.
    """
    X, y = check_xy(X, y, allow_1d=True, floating=True)
    check_same_dtype((X, y), ("X", "y"))
    if init is not None and not isinstance(init, GPHyperparameters):
        raise TypeError(f"init must be a GPHyperparameters or None, got {type(init).__name__}.")
    init = init or GPHyperparameters(mean=float(y.mean()))
    opts = dict(dtype=X.dtype, device=X.device)
    raw = {k: torch.tensor(math.log(getattr(init, k)), **opts, requires_grad=True)
           for k in ("lengthscale", "outputscale", "noise")}
    mean = torch.tensor(init.mean, **opts, requires_grad=learn_mean)
    params = list(raw.values()) + ([mean] if learn_mean else [])

    def neg_lml() -> torch.Tensor:
        return -log_marginal_likelihood(X, y, raw["lengthscale"].exp(), raw["outputscale"].exp(),
                                        raw["noise"].exp(), mean)

    try:
        trace = [-loss for loss in adam_minimize(neg_lml, params, num_steps=num_steps, lr=lr)]
    except FloatingPointError as err:
        reached = ", ".join(f"{k}={float(v.detach().exp()):.3g}" for k, v in raw.items())
        raise FloatingPointError(f"fit_hyperparameters diverged (it reached {reached}): {err}") from None
    hp = GPHyperparameters(*(float(raw[k].detach().exp()) for k in ("lengthscale", "outputscale", "noise")),
                           mean=float(mean.detach()))
    return hp, trace
