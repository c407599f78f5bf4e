"""GPyTorch regression models for transfer: exact GP, multitask (ICM) GP, source-mean GP.

Three ways to carry knowledge from a plentiful source task to a target task with few points
(notebook 09):

1. **Hyperparameter transfer**: fit :math:`\\theta = (\\ell, \\sigma_f^2, \\sigma_n^2, m)` on the
   source by type-II maximum likelihood and reuse it, frozen, for the target GP
   (:func:`transfer_hyperparameters`).
2. **Source posterior as prior mean**: the target GP models the residual,
   :math:`f_t \\sim \\mathcal{GP}(a\\,\\mu_s(x) + b, k)`, with :math:`\\mu_s` the source posterior mean
   (:class:`SourcePosteriorMean`).
3. **Multitask GP** with the intrinsic coregionalisation model (ICM; Bonilla, Chai and Williams,
   NeurIPS 2007): :math:`k((x, i), (x', j)) = k_x(x, x')\\,B_{ij}` with
   :math:`B = ww^\\top + \\operatorname{diag}(v)` learned, so the task correlation
   :math:`\\rho = B_{01}/\\sqrt{B_{00}B_{11}}` is learned from data (:class:`MultitaskGP`).

Every model is an ``ExactGP`` with a Gaussian likelihood; fit with :func:`fit_gp`, predict with
:func:`predict`. The multitask model lives in :mod:`transfer_utils.bayes.gp_multitask` and is re-exported here.
"""

from __future__ import annotations

import gpytorch
import torch

from transfer_utils.bayes.gp_hyper import set_hyperparameters, transfer_hyperparameters
from transfer_utils.bayes.gp_multitask import MultitaskGP, check_task, make_multitask_gp, task_correlation
from transfer_utils.bayes.fitting import adam_minimize
from transfer_utils.core.validation import (check_finite, check_int, check_positive, check_same_dtype,
                                            check_tensor, check_xy)

__all__ = [
    "ExactGPModel",
    "SourcePosteriorMean",
    "MultitaskGP",
    "make_exact_gp",
    "make_source_mean_gp",
    "make_multitask_gp",
    "fit_gp",
    "predict",
    "transfer_hyperparameters",
    "task_correlation",
    "set_hyperparameters",
]


def _check_train(X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    X, y = check_xy(X, y, allow_1d=True)
    if not X.is_floating_point():
        raise TypeError(f"X must be a floating-point tensor (float64 recommended), got {X.dtype}.")
    check_same_dtype((X, y), ("X", "y"))
    return X, y


class ExactGPModel(gpytorch.models.ExactGP):
    """An exact GP: constant (or given) mean and a scaled RBF kernel, optionally with ARD.

    .. math:: f \\sim \\mathcal{GP}\\big(m(x),\\; \\sigma_f^2
              \\exp(-\\tfrac12 \\textstyle\\sum_d (x_d - x'_d)^2/\\ell_d^2)\\big)
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        likelihood: gpytorch.likelihoods.GaussianLikelihood,
        *,
        ard: bool = False,
        mean_module: gpytorch.means.Mean | None = None,
    ) -> None:
        X, y = _check_train(X, y)
        super().__init__(X, y, likelihood)
        self.input_dim = X.shape[1]
        self.mean_module = mean_module if mean_module is not None else gpytorch.means.ConstantMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(
            gpytorch.kernels.RBFKernel(ard_num_dims=X.shape[1] if ard else None)
        )

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


class SourcePosteriorMean(gpytorch.means.Mean):
    """A prior mean equal to a fitted source GP's posterior mean, with a learnable affine map.

    .. math:: m_t(x) = a\\,\\mu_s(x) + b,\\qquad \\mu_s(x) = \\mathbb E[f_s(x) \\mid \\mathcal D_s],

    with :math:`a` (initialised to 1) and :math:`b` (to 0) learned on the target; the source model is
    frozen and evaluated without gradients.
    """

    def __init__(self, source_model: ExactGPModel, *, learn_affine: bool = True) -> None:
        super().__init__()
        self.source_model = source_model
        for p in source_model.parameters():
            p.requires_grad_(False)
        self.scale = torch.nn.Parameter(torch.tensor(1.0), requires_grad=learn_affine)
        self.offset = torch.nn.Parameter(torch.tensor(0.0), requires_grad=learn_affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.source_model.eval()
        with torch.no_grad(), gpytorch.settings.fast_pred_var(False):
            mu = self.source_model(x).mean
        return self.scale * mu + self.offset


def make_exact_gp(
    X: torch.Tensor, y: torch.Tensor, *, ard: bool = False
) -> tuple[ExactGPModel, gpytorch.likelihoods.GaussianLikelihood]:
    """An :class:`ExactGPModel` and its Gaussian likelihood, in ``X``'s dtype and device,
    with the constant mean initialised to ``y.mean()``."""
    X, y = _check_train(X, y)
    likelihood = gpytorch.likelihoods.GaussianLikelihood()
    model = ExactGPModel(X, y, likelihood, ard=ard)
    model.mean_module.constant.data.fill_(float(y.mean()))
    return model.to(X), likelihood.to(X)


def make_source_mean_gp(
    source_model: ExactGPModel, X: torch.Tensor, y: torch.Tensor, *, ard: bool = False,
    learn_affine: bool = True,
    learn_kernel: bool = False,
) -> tuple[ExactGPModel, gpytorch.likelihoods.GaussianLikelihood]:
    """A target GP whose prior mean is ``source_model``'s posterior mean (see :class:`SourcePosteriorMean`).

    The kernel and noise are the source's fitted hyperparameters, frozen unless ``learn_kernel``
    (learning them from a handful of target points tends to shrink the noise and give overconfident
    bands); only the affine map :math:`a, b` of the mean is then learned on the target.

    Raises:
        ValueError: the target inputs have a different dimension than the source model's.
    """
    X, y = _check_train(X, y)
    if X.shape[1] != source_model.input_dim:
        raise ValueError(
            f"Target inputs have d={X.shape[1]} but the source GP was fit on d={source_model.input_dim}."
        )
    likelihood = gpytorch.likelihoods.GaussianLikelihood()
    model = ExactGPModel(X, y, likelihood, ard=ard, mean_module=SourcePosteriorMean(
        source_model, learn_affine=learn_affine))
    model = model.to(X)
    likelihood = likelihood.to(X)
    transfer_hyperparameters(source_model, model, freeze=not learn_kernel, include_mean=False)
    return model, likelihood


def fit_gp(
    model: gpytorch.models.ExactGP,
    likelihood: gpytorch.likelihoods.GaussianLikelihood,
    *,
    num_iters: int = 100,
    lr: float = 0.1,
) -> list[float]:
    """Type-II maximum likelihood: Adam on the negative exact marginal log likelihood.

    .. math:: \\hat\\theta = \\arg\\max_\\theta \\tfrac1n \\log p(y \\mid X, \\theta)

    Only parameters with ``requires_grad=True`` move (frozen ones, e.g. after
    :func:`transfer_hyperparameters`, stay). Leaves model and likelihood in eval mode.

    Returns:
        The loss (negative marginal log likelihood per point) at every iteration.

    Raises:
        ValueError: NaN or inf in the model's training data, or a bad ``num_iters`` or ``lr``.
        FloatingPointError: the fit diverged (see :func:`~transfer_utils.nets.training.adam_minimize`),
            or the kernel matrix stopped being positive definite on the way; lower ``lr``.
    """
    check_int(num_iters, "num_iters", minimum=0)
    check_positive(lr, "lr")
    for T in model.train_inputs:
        if T.is_floating_point():
            check_finite(T, "the model's training inputs (X)")
    check_finite(model.train_targets, "the model's training targets (y)")
    model.train()
    likelihood.train()
    params = [p for p in model.parameters() if p.requires_grad]
    params += [p for p in likelihood.parameters() if p.requires_grad and not any(p is q for q in params)]
    losses: list[float] = []
    if params and num_iters > 0:
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)
        try:
            losses = adam_minimize(lambda: -mll(model(*model.train_inputs), model.train_targets), params,
                                   num_steps=num_iters, lr=lr)
        except (gpytorch.utils.errors.NanError, gpytorch.utils.errors.NotPSDError) as err:
            raise FloatingPointError(
                f"fit_gp diverged: the kernel matrix became invalid ({type(err).__name__}: {str(err)[:120]}). "
                f"Lower lr (now {lr:g}) or check the training data.") from err
    model.eval()
    likelihood.eval()
    return losses


def predict(
    model: gpytorch.models.ExactGP,
    likelihood: gpytorch.likelihoods.GaussianLikelihood,
    X: torch.Tensor,
    task: torch.Tensor | int | None = None,
    *,
    include_noise: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictive mean and variance at ``X`` (of a new ``y`` if ``include_noise``, else of ``f``).

    Args:
        task: for a :class:`MultitaskGP`, the task index (an int for every row, or a tensor (m,)).

    Returns:
        ``(mean, var)``, each of shape (m,).

    Raises:
        ValueError: ``X`` has a different number of input dimensions than the training inputs, or
            holds NaN or inf. TypeError: ``X`` has another dtype than the training inputs.
    """
    check_tensor(X, "X")
    if X.ndim == 1:
        X = X.unsqueeze(-1)
    d = model.train_inputs[0].shape[-1]
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"Test inputs have shape {tuple(X.shape)} but the model was trained with d={d}.")
    check_same_dtype((model.train_inputs[0], X), ("the training inputs", "X"))
    check_finite(X, "X")
    model.eval()
    likelihood.eval()
    with torch.no_grad(), gpytorch.settings.fast_pred_var(False):
        if isinstance(model, MultitaskGP):
            if task is None:
                raise ValueError("A MultitaskGP needs `task` (which task to predict).")
            if isinstance(task, int):
                task = torch.full((len(X),), task, dtype=torch.long, device=X.device)
            task = check_task(task, len(X), model.num_tasks)
            f = model(X, task)
        else:
            f = model(X)
        dist = likelihood(f) if include_noise else f
        return dist.mean, dist.variance
