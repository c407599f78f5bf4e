"""The from-scratch GP against GPyTorch's exact GP, and its gradient against autograd."""

import math

import gpytorch
import pytest
import torch

from transfer_utils.bayes.gp_models import make_exact_gp, predict, set_hyperparameters
from transfer_utils.bayes.gp_fit import fit_hyperparameters
from transfer_utils.bayes.gp_scratch import (
    GPHyperparameters,
    gp_posterior,
    lml_gradient_analytic,
    log_marginal_likelihood,
    rbf_kernel,
    safe_cholesky,
)

HP = GPHyperparameters(lengthscale=0.4, outputscale=1.3, noise=0.05, mean=0.2)


def _data(seed=0, n=25, d=2):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=torch.float64)
    y = torch.sin(3 * X[:, 0]) + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    X_star = torch.rand(9, d, generator=g, dtype=torch.float64)
    return X, y, X_star


def _gpytorch_model(X, y):
    model, lik = make_exact_gp(X, y)
    set_hyperparameters(model, lik, lengthscale=HP.lengthscale, outputscale=HP.outputscale,
                        noise=HP.noise, mean=HP.mean)
    return model, lik


def test_rbf_kernel_closed_form():
    X, _, Xs = _data()
    K = rbf_kernel(X, Xs, 0.7, 2.0)
    i, j = 3, 5
    expected = 2.0 * math.exp(-float(((X[i] - Xs[j]) ** 2).sum()) / (2 * 0.7**2))
    assert abs(float(K[i, j]) - expected) < 1e-14


@pytest.mark.parametrize("seed", [0, 1])
def test_posterior_equals_gpytorch(seed):
    X, y, Xs = _data(seed)
    mean, cov = gp_posterior(X, y, Xs, HP)
    model, lik = _gpytorch_model(X, y)
    with gpytorch.settings.fast_computations(False, False, False):
        mu_f, var_f = predict(model, lik, Xs, include_noise=False)
        mu_y, var_y = predict(model, lik, Xs, include_noise=True)
    torch.testing.assert_close(mu_f, mean, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(var_f, cov.diagonal(), rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(var_y, cov.diagonal() + HP.noise, rtol=1e-9, atol=1e-10)


def test_log_marginal_likelihood_equals_gpytorch_and_scipy():
    X, y, _ = _data()
    model, lik = _gpytorch_model(X, y)
    model.train()
    lik.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(lik, model)
    with gpytorch.settings.fast_computations(False, False, False):
        ours = log_marginal_likelihood(X, y, HP.lengthscale, HP.outputscale, HP.noise, HP.mean)
        theirs = mll(model(X), y) * len(y)  # GPyTorch divides by n
    torch.testing.assert_close(ours, theirs.detach(), rtol=1e-10, atol=1e-10)
    scipy_stats = pytest.importorskip("scipy.stats")
    K = rbf_kernel(X, X, HP.lengthscale, HP.outputscale) + HP.noise * torch.eye(len(X), dtype=X.dtype)
    ref = scipy_stats.multivariate_normal(mean=[HP.mean] * len(y), cov=K.numpy()).logpdf(y.numpy())
    assert abs(float(ours) - ref) < 1e-9


def test_analytic_gradient_equals_autograd():
    X, y, _ = _data(2)
    params = {k: torch.tensor(getattr(HP, k), dtype=torch.float64, requires_grad=True)
              for k in ("lengthscale", "outputscale", "noise", "mean")}
    lml = log_marginal_likelihood(X, y, **params)
    lml.backward()
    analytic = lml_gradient_analytic(X, y, HP)
    for k, p in params.items():
        torch.testing.assert_close(analytic[k], p.grad, rtol=1e-9, atol=1e-10, msg=f"d lml / d {k}")


def test_fit_hyperparameters_increases_lml():
    X, y, _ = _data(3, n=30, d=1)
    init = GPHyperparameters(1.0, 1.0, 0.5, 0.0)
    hp, trace = fit_hyperparameters(X, y, init, num_steps=150, lr=0.05)
    assert trace[-1] > trace[0] + 5
    assert hp.noise < 0.5


def test_bad_inputs():
    X, y, Xs = _data()
    with pytest.raises(ValueError, match="Input dimensions differ"):
        rbf_kernel(X, torch.rand(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="not positive definite"):
        safe_cholesky(torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="Input dimensions differ"):
        gp_posterior(X, y, torch.rand(3, 5, dtype=torch.float64), HP)
    with pytest.raises(ValueError, match="rows"):
        gp_posterior(X, y[:-1], Xs, HP)
    with pytest.raises(ValueError, match="positive"):
        GPHyperparameters(lengthscale=-1.0)
