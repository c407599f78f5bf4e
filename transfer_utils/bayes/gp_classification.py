"""Binary GP classification done right: a variational (approximate) GP with a Bernoulli likelihood.

With :math:`p(y_i = 1 \\mid f_i) = \\Phi(f_i)` the posterior :math:`p(f \\mid y)` is not Gaussian and
the marginal likelihood has no closed form, so an exact GP cannot be used. A sparse variational
GP (Hensman, Matthews and Ghahramani, AISTATS 2015) keeps :math:`m` inducing values
:math:`u = f(Z)` with :math:`q(u) = \\mathcal N(\\mu, S)` and maximises the ELBO

.. math:: \\mathcal L(\\mu, S, Z, \\theta) = \\sum_i \\mathbb E_{q(f_i)}\\big[\\log p(y_i\\mid f_i)\\big]
          - \\operatorname{KL}\\big(q(u)\\,\\Vert\\,p(u)\\big) \\le \\log p(y),

where :math:`q(f_i)` is Gaussian and the expectation is a 1-D Gauss-Hermite quadrature.
Introduced in notebook 10.
"""

from __future__ import annotations

import gpytorch
import torch

from transfer_utils.core.validation import (check_binary_labels, check_features, check_int, check_positive,
                                            check_same_dtype, check_tensor)
from transfer_utils.bayes.fitting import adam_minimize

__all__ = ["VariationalGPClassifier", "fit_gp_classifier", "predict_proba_gp"]


class VariationalGPClassifier(gpytorch.models.ApproximateGP):
    """A sparse variational GP over a latent function :math:`f`, for a Bernoulli likelihood.

    Args:
        inducing_points: initial inducing inputs :math:`Z`, shape (m, d) (learned).
        ard: one lengthscale per input dimension.
    """

    def __init__(self, inducing_points: torch.Tensor, *, ard: bool = False) -> None:
        if inducing_points.ndim != 2 or len(inducing_points) == 0:
            raise ValueError(f"inducing_points must have shape (m, d), m >= 1, got {tuple(inducing_points.shape)}.")
        q_u = gpytorch.variational.CholeskyVariationalDistribution(inducing_points.shape[0])
        strategy = gpytorch.variational.VariationalStrategy(
            self, inducing_points, q_u, learn_inducing_locations=True
        )
        super().__init__(strategy)
        self.input_dim = inducing_points.shape[1]
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(
            gpytorch.kernels.RBFKernel(ard_num_dims=self.input_dim if ard else None)
        )

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def fit_gp_classifier(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    num_inducing: int = 32,
    num_iters: int = 200,
    lr: float = 0.05,
    ard: bool = False,
    lengthscale: float | None = None,
    generator: torch.Generator | None = None,
) -> tuple[VariationalGPClassifier, gpytorch.likelihoods.BernoulliLikelihood, list[float]]:
    """Fit a :class:`VariationalGPClassifier` by Adam on the negative ELBO (full batch).

    Args:
        X: inputs (n, d).
        y: labels in {0, 1}, shape (n,).
        num_inducing: inducing points, initialised at a random subset of ``X``.
        lengthscale: initial RBF lengthscale; None uses the median heuristic (the median distance
            between points of that subset), which suits inputs of any dimension.
        generator: for the choice of that subset.

    Returns:
        ``(model, likelihood, losses)``: model in eval mode, negative ELBO per point per step.

    Raises:
        ValueError: labels that are not 0/1 (a Bernoulli likelihood), wrong shapes, empty data.
    """
    if not isinstance(X, torch.Tensor) or X.ndim != 2:
        raise ValueError(f"X must be a 2-D tensor (n, d), got {getattr(X, 'shape', type(X))}.")
    y = check_binary_labels(y).to(X.dtype)
    if len(X) != len(y) or len(X) == 0:
        raise ValueError(f"X has {len(X)} rows and y has {len(y)} labels; need the same, non-zero count.")
    check_features(X, "X")
    check_int(num_inducing, "num_inducing", minimum=1)
    check_int(num_iters, "num_iters", minimum=0)
    check_positive(lr, "lr")
    if lengthscale is not None:
        check_positive(lengthscale, "lengthscale")
    idx = torch.randperm(len(X), generator=generator)[: min(num_inducing, len(X))]
    model = VariationalGPClassifier(X[idx].clone(), ard=ard).to(X)
    if lengthscale is None:
        dist = torch.cdist(X[idx], X[idx])
        off = dist[~torch.eye(len(idx), dtype=torch.bool, device=X.device)]
        lengthscale = float(off.median()) if off.numel() and float(off.median()) > 0 else 1.0
    model.covar_module.base_kernel.lengthscale = torch.full_like(
        model.covar_module.base_kernel.lengthscale, float(lengthscale))
    likelihood = gpytorch.likelihoods.BernoulliLikelihood().to(X)
    model.train()
    likelihood.train()
    mll = gpytorch.mlls.VariationalELBO(likelihood, model, num_data=len(y))
    losses = adam_minimize(lambda: -mll(model(X), y), list(model.parameters()) + list(likelihood.parameters()),
                           num_steps=num_iters, lr=lr)
    model.eval()
    likelihood.eval()
    return model, likelihood, losses


def predict_proba_gp(
    model: VariationalGPClassifier,
    likelihood: gpytorch.likelihoods.BernoulliLikelihood,
    X: torch.Tensor,
) -> torch.Tensor:
    """:math:`p(y=1\\mid x) = \\int \\Phi(f)\\,q(f\\mid x)\\,df = \\Phi\\big(\\mu/\\sqrt{1+s^2}\\big)`.

    Returns:
        Probabilities, shape (m,).
    """
    check_tensor(X, "X")
    if X.ndim != 2 or X.shape[1] != model.input_dim:
        raise ValueError(f"X must have shape (m, {model.input_dim}), got {tuple(X.shape)}.")
    inducing = model.variational_strategy.inducing_points
    check_same_dtype((inducing, X), ("the model's inducing points", "X"))
    check_features(X, "X")
    model.eval()
    likelihood.eval()
    with torch.no_grad():
        f = model(X)
        return likelihood(f).mean
