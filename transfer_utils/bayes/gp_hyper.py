"""Set a GPyTorch GP's hyperparameters, or copy them from a source GP to a target GP.

:func:`set_hyperparameters` puts given values into an exact GP (e.g. to compare it with the
from-scratch GP of :mod:`transfer_utils.bayes.gp_scratch`), refusing values its GPyTorch constraints
cannot represent; :func:`transfer_hyperparameters` is the first transfer method of notebook 09
(fit on the source, reuse frozen on the target). Both are re-exported by
:mod:`transfer_utils.bayes.gp_models`, where the models live. Introduced in notebook 09.
"""

from __future__ import annotations

import gpytorch
import torch

from transfer_utils.core.validation import check_number, check_positive

__all__ = ["set_hyperparameters", "transfer_hyperparameters"]


def set_hyperparameters(
    model: gpytorch.models.ExactGP,
    likelihood: gpytorch.likelihoods.GaussianLikelihood,
    *,
    lengthscale: float | torch.Tensor,
    outputscale: float,
    noise: float,
    mean: float | None = None,
) -> None:
    """Set an :class:`~transfer_utils.bayes.gp_models.ExactGPModel`'s hyperparameters to given
    values (e.g. to compare with a from-scratch GP).

    Each value must be positive, finite and above the lower bound of its GPyTorch constraint
    (the noise of a default ``GaussianLikelihood`` must exceed :math:`10^{-4}`).

    Raises:
        ValueError: a value that is not positive and finite, or at or below its constraint's bound.
    """
    bounds = {
        "lengthscale": (lengthscale, model.covar_module.base_kernel.raw_lengthscale_constraint),
        "outputscale": (outputscale, model.covar_module.raw_outputscale_constraint),
        "noise": (noise, likelihood.noise_covar.raw_noise_constraint),
    }
    for name, (value, constraint) in bounds.items():
        check_positive(value, name)
        low = float(torch.as_tensor(getattr(constraint, "lower_bound", 0.0)).max())
        smallest = float(torch.as_tensor(value).min())
        if smallest <= low:
            fix = ("build the likelihood with a lower bound, e.g. GaussianLikelihood(noise_constraint="
                   "gpytorch.constraints.GreaterThan(1e-12)), and the model with ExactGPModel(X, y, likelihood)"
                   if name == "noise" else "pass a larger value")
            raise ValueError(f"{name} must exceed {low:g}, the lower bound of its GPyTorch constraint "
                             f"{constraint}; got {smallest:g}. To go lower, {fix}.")
    if mean is not None:
        check_number(mean, "mean")
    opts = dict(dtype=model.train_targets.dtype, device=model.train_targets.device)
    model.covar_module.base_kernel.lengthscale = torch.as_tensor(lengthscale, **opts)
    model.covar_module.outputscale = torch.as_tensor(outputscale, **opts)
    likelihood.noise = torch.as_tensor(noise, **opts)
    model.prediction_strategy = None  # drop any cached posterior
    if mean is not None:
        if not isinstance(model.mean_module, gpytorch.means.ConstantMean):
            raise ValueError("Only a ConstantMean can be set to a number.")
        model.mean_module.constant.data.fill_(float(mean))


def transfer_hyperparameters(
    source: gpytorch.models.ExactGP,
    target: gpytorch.models.ExactGP,
    *,
    freeze: bool = True,
    include_mean: bool = True,
) -> gpytorch.models.ExactGP:
    """Copy the kernel, noise (and constant mean) hyperparameters of a fitted source GP into a
    target GP, optionally freezing them so that :func:`fit_gp` leaves them alone.

    Raises:
        ValueError: the two models have different input dimensions or kernel shapes (e.g. ARD
            on one only).
    """
    if source.input_dim != target.input_dim:
        raise ValueError(f"Source GP has d={source.input_dim}, target GP has d={target.input_dim}.")
    pairs = [(source.covar_module, target.covar_module), (source.likelihood, target.likelihood)]
    if include_mean:
        pairs.append((source.mean_module, target.mean_module))
    for src, tgt in pairs:
        src_state = src.state_dict()
        tgt_state = tgt.state_dict()
        for key, value in src_state.items():
            if key not in tgt_state or tgt_state[key].shape != value.shape:
                raise ValueError(
                    f"Cannot transfer {key!r}: shapes {tuple(value.shape)} and "
                    f"{tuple(tgt_state[key].shape) if key in tgt_state else 'missing'} differ "
                    "(use the same kernel, ARD setting and mean in both models)."
                )
        tgt.load_state_dict(src_state, strict=False)
        if freeze:
            for p in tgt.parameters():
                p.requires_grad_(False)
    return target
