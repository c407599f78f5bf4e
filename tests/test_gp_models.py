"""GPyTorch transfer models against explicit linear algebra."""

import gpytorch
import pytest
import torch

from transfer_utils.bayes.gp_models import (
    fit_gp,
    make_exact_gp,
    make_multitask_gp,
    make_source_mean_gp,
    predict,
    set_hyperparameters,
    task_correlation,
    transfer_hyperparameters,
)
from transfer_utils.bayes.gp_scratch import rbf_kernel

DT = torch.float64


def _pair(seed=0, n_src=40, n_tgt=8):
    g = torch.Generator().manual_seed(seed)
    X_src = torch.rand(n_src, 1, generator=g, dtype=DT) * 4
    X_tgt = torch.rand(n_tgt, 1, generator=g, dtype=DT) * 4
    f = lambda x: torch.sin(2 * x[:, 0])  # noqa: E731
    y_src = f(X_src) + 0.05 * torch.randn(n_src, generator=g, dtype=DT)
    y_tgt = f(X_tgt) + 0.3 + 0.05 * torch.randn(n_tgt, generator=g, dtype=DT)
    return X_src, y_src, X_tgt, y_tgt


def _posterior(K_nn, K_sn, K_ss_diag, y, m_n, m_s, noise):
    L = torch.linalg.cholesky(K_nn + noise * torch.eye(len(y), dtype=DT))
    alpha = torch.cholesky_solve((y - m_n).unsqueeze(-1), L).squeeze(-1)
    V = torch.linalg.solve_triangular(L, K_sn.T, upper=False)
    return m_s + K_sn @ alpha, K_ss_diag - (V * V).sum(0)


def test_multitask_posterior_equals_icm_formula():
    X_src, y_src, X_tgt, y_tgt = _pair()
    model, lik = make_multitask_gp(X_src, y_src, X_tgt, y_tgt)
    fit_gp(model, lik, num_iters=10)
    X_star = torch.linspace(0, 4, 7, dtype=DT).unsqueeze(-1)
    with gpytorch.settings.fast_computations(False, False, False):
        mu, var = predict(model, lik, X_star, task=1, include_noise=False)
    X = torch.cat([X_src, X_tgt])
    t = torch.cat([torch.zeros(len(X_src)), torch.ones(len(X_tgt))]).long()
    w = model.task_covar_module.covar_factor.detach()
    B = w @ w.T + torch.diag(model.task_covar_module.var.detach())
    ell = float(model.covar_module.lengthscale.detach())
    K_nn = rbf_kernel(X, X, ell) * B[t][:, t]
    K_sn = rbf_kernel(X_star, X, ell) * B[1, t]
    means = model.task_means.detach()
    ref_mu, ref_var = _posterior(K_nn, K_sn, B[1, 1].expand(7), torch.cat([y_src, y_tgt]),
                                 means[t], means[1], float(lik.noise))
    torch.testing.assert_close(mu, ref_mu, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(var, ref_var, rtol=1e-8, atol=1e-8)
    C = task_correlation(model)
    torch.testing.assert_close(C[0, 1], B[0, 1] / (B[0, 0] * B[1, 1]).sqrt())


def test_source_mean_gp_equals_formula_with_mean_vector():
    X_src, y_src, X_tgt, y_tgt = _pair(1)
    src, src_lik = make_exact_gp(X_src, y_src)
    fit_gp(src, src_lik, num_iters=30)
    mu_s_tgt, _ = predict(src, src_lik, X_tgt, include_noise=False)
    X_star = torch.linspace(0, 4, 5, dtype=DT).unsqueeze(-1)
    mu_s_star, _ = predict(src, src_lik, X_star, include_noise=False)
    model, lik = make_source_mean_gp(src, X_tgt, y_tgt)
    # kernel hyperparameters start from the source's
    torch.testing.assert_close(model.covar_module.base_kernel.lengthscale,
                               src.covar_module.base_kernel.lengthscale)
    fit_gp(model, lik, num_iters=15)
    a, b = float(model.mean_module.scale), float(model.mean_module.offset)
    ell = float(model.covar_module.base_kernel.lengthscale)
    s2 = float(model.covar_module.outputscale)
    with gpytorch.settings.fast_computations(False, False, False):
        mu, var = predict(model, lik, X_star, include_noise=False)
    ref_mu, ref_var = _posterior(rbf_kernel(X_tgt, X_tgt, ell, s2), rbf_kernel(X_star, X_tgt, ell, s2),
                                 torch.full((5,), s2, dtype=DT), y_tgt, a * mu_s_tgt + b,
                                 a * mu_s_star + b, float(lik.noise))
    torch.testing.assert_close(mu, ref_mu, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(var, ref_var, rtol=1e-8, atol=1e-8)
    # the source model was not changed by fitting the target
    mu_s_again, _ = predict(src, src_lik, X_star, include_noise=False)
    torch.testing.assert_close(mu_s_again, mu_s_star)


def test_transfer_hyperparameters_copies_and_freezes():
    X_src, y_src, X_tgt, y_tgt = _pair(2)
    src, src_lik = make_exact_gp(X_src, y_src)
    set_hyperparameters(src, src_lik, lengthscale=0.7, outputscale=1.7, noise=0.02, mean=0.1)
    tgt, tgt_lik = make_exact_gp(X_tgt, y_tgt)
    transfer_hyperparameters(src, tgt)
    assert fit_gp(tgt, tgt_lik, num_iters=5) == []  # nothing left to learn
    torch.testing.assert_close(tgt.covar_module.base_kernel.lengthscale.squeeze(), torch.tensor(0.7, dtype=DT))
    torch.testing.assert_close(tgt_lik.noise.squeeze(), torch.tensor(0.02, dtype=DT))
    torch.testing.assert_close(tgt.mean_module.constant.squeeze(), torch.tensor(0.1, dtype=DT))


def test_fit_increases_marginal_likelihood():
    X_src, y_src, _, _ = _pair(3)
    model, lik = make_exact_gp(X_src, y_src)
    losses = fit_gp(model, lik, num_iters=40)
    assert losses[-1] < losses[0] - 0.3


def test_bad_inputs():
    X_src, y_src, X_tgt, y_tgt = _pair()
    with pytest.raises(ValueError, match="d=2"):
        make_multitask_gp(X_src, y_src, torch.rand(5, 2, dtype=DT), y_tgt[:5])
    src, src_lik = make_exact_gp(X_src, y_src)
    with pytest.raises(ValueError, match="d=1"):
        predict(src, src_lik, torch.rand(3, 2, dtype=DT))
    with pytest.raises(ValueError, match="source GP"):
        make_source_mean_gp(src, torch.rand(5, 3, dtype=DT), y_tgt[:5])
    with pytest.raises(ValueError, match="match"):
        make_exact_gp(X_src, y_src[:-1])
    ard, _ = make_exact_gp(X_tgt, y_tgt, ard=True)
    X2 = torch.rand(6, 2, dtype=DT)
    ard2, _ = make_exact_gp(X2, y_tgt[:6], ard=True)
    with pytest.raises(ValueError, match="d="):
        transfer_hyperparameters(src, ard2)
    mt, mt_lik = make_multitask_gp(X_src, y_src, X_tgt, y_tgt)
    with pytest.raises(ValueError, match="task"):
        predict(mt, mt_lik, X_tgt)
    with pytest.raises(ValueError, match="task indices"):
        predict(mt, mt_lik, X_tgt, task=torch.full((len(X_tgt),), 2))
