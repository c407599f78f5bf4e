"""Laplace-approximated Bayesian logistic regression against scipy and autograd."""

import numpy as np
import pytest
import torch
from scipy import optimize

from transfer_utils.bayes.laplace import (
    GaussianPrior,
    fit_laplace_logistic,
    neg_log_posterior,
    predictive_proba,
)

DT = torch.float64


def _data(seed=0, n=80, D=4):
    g = torch.Generator().manual_seed(seed)
    X = torch.cat([torch.randn(n, D - 1, generator=g, dtype=DT), torch.ones(n, 1, dtype=DT)], 1)
    w_true = torch.tensor([1.5, -2.0, 0.5, 0.3], dtype=DT)[:D]
    y = (torch.rand(n, generator=g, dtype=DT) < torch.sigmoid(X @ w_true)).to(DT)
    return X, y


@pytest.mark.parametrize("seed", [0, 1])
def test_mode_equals_scipy_and_hessian_equals_autograd(seed):
    X, y = _data(seed)
    g = torch.Generator().manual_seed(10 + seed)
    A = torch.randn(4, 4, generator=g, dtype=DT)
    prior = GaussianPrior(torch.randn(4, generator=g, dtype=DT), A @ A.T / 4 + 0.5 * torch.eye(4, dtype=DT))
    post = fit_laplace_logistic(X, y, prior)

    def f(w):
        w = torch.tensor(w, dtype=DT, requires_grad=True)
        e = neg_log_posterior(w, X, y, prior)
        e.backward()
        return float(e), w.grad.numpy()

    ref = optimize.minimize(f, np.zeros(4), jac=True, method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(post.mean.numpy(), ref.x, rtol=1e-6, atol=1e-7)
    H = torch.autograd.functional.hessian(lambda w: neg_log_posterior(w, X, y, prior), post.mean)
    torch.testing.assert_close(post.precision, H, rtol=1e-10, atol=1e-10)


def test_probit_predictive_matches_monte_carlo():
    X, y = _data(2, n=30)
    post = fit_laplace_logistic(X, y, GaussianPrior.isotropic(4, 1.0))
    g = torch.Generator().manual_seed(0)
    L = torch.linalg.cholesky(post.covariance)
    w = post.mean + torch.randn(200_000, 4, generator=g, dtype=DT) @ L.T
    mc = torch.sigmoid(X[:5] @ w.T).mean(1)
    torch.testing.assert_close(predictive_proba(post, X[:5]), mc, atol=0.02, rtol=0)


def test_source_prior_pulls_target_toward_source():
    X, y = _data(3, n=300)
    source = fit_laplace_logistic(X, y, GaussianPrior.isotropic(4, 1.0))
    X_t, y_t = _data(4, n=5)
    with_src = fit_laplace_logistic(X_t, y_t, source.as_prior(inflate=2.0))
    vague = fit_laplace_logistic(X_t, y_t, GaussianPrior.isotropic(4, 1.0))
    assert (with_src.mean - source.mean).norm() < (vague.mean - source.mean).norm()
    torch.testing.assert_close(source.as_prior(2.0).precision, source.precision / 2)


def test_log_evidence_equals_quadrature_in_1d():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(40, 1, generator=g, dtype=DT)
    y = (torch.rand(40, generator=g, dtype=DT) < torch.sigmoid(2 * X[:, 0])).to(DT)
    prior = GaussianPrior.isotropic(1, 0.5)
    post = fit_laplace_logistic(X, y, prior)
    grid = torch.linspace(-10, 15, 20001, dtype=DT)
    E = torch.stack([neg_log_posterior(w.reshape(1), X, y, prior) for w in grid[::50]])
    # the exact evidence by quadrature: log int exp(-E(w)) dw + 1/2 log(alpha / 2 pi)
    log_Z = torch.logsumexp(-E, 0) + np.log(float(grid[50] - grid[0])) + 0.5 * np.log(0.5 / (2 * np.pi))
    assert abs(post.log_evidence - float(log_Z)) < 0.05  # Laplace is close, not exact


def test_bad_inputs():
    X, y = _data()
    with pytest.raises(ValueError, match=r"\{0, 1\}"):
        fit_laplace_logistic(X, 2 * y - 1, GaussianPrior.isotropic(4))
    with pytest.raises(ValueError, match="feature space"):
        fit_laplace_logistic(X, y, GaussianPrior.isotropic(3))
    sep = torch.tensor([[-2.0, 1.0], [-1.0, 1.0], [1.0, 1.0], [2.0, 1.0]], dtype=DT)
    with pytest.raises(RuntimeError, match="flat|singular"):
        fit_laplace_logistic(sep, torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=DT),
                             GaussianPrior.isotropic(2, 0.0))
