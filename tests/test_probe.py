"""Tests for transfer_utils.transfer.probe against scikit-learn's logistic regression (same objective)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from transfer_utils.transfer.probe import fit_linear_probe, probe_objective


def _data(n: int = 120, d: int = 5, c: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    centres = 2 * torch.randn(c, d, generator=g)
    y = torch.arange(c).repeat(n // c)
    Z = centres[y] + torch.randn(n, d, generator=g) * 1.5 + 3.0
    return Z, y


def test_matches_sklearn() -> None:
    Z, y = _data()
    lam = 0.05
    probe = fit_linear_probe(Z, y, 3, weight_decay=lam, tol=1e-10, max_iter=500)
    Zs = ((Z - Z.mean(0)) / Z.std(0, unbiased=False)).double().numpy()
    ref = LogisticRegression(C=1.0 / (len(y) * lam), tol=1e-12, max_iter=10_000).fit(Zs, y.numpy())
    with torch.no_grad():
        p = probe(Z).double().softmax(1).numpy()
    np.testing.assert_allclose(p, ref.predict_proba(Zs), atol=2e-4)
    np.testing.assert_allclose(probe.linear.weight.detach().double().numpy(), ref.coef_, atol=2e-3)


def test_optimum_has_zero_gradient_and_as_linear_is_the_same_map() -> None:
    Z, y = _data()
    probe = fit_linear_probe(Z, y, weight_decay=0.01, tol=1e-9, max_iter=500)
    probe.linear.weight.requires_grad_(True)
    loss = probe_objective(probe.double(), Z.double(), y, 0.01)
    grads = torch.autograd.grad(loss, [probe.linear.weight, probe.linear.bias])
    assert max(float(g.abs().max()) for g in grads) < 1e-5
    lin = probe.float().as_linear()
    with torch.no_grad():
        torch.testing.assert_close(lin(Z), probe(Z), atol=1e-4, rtol=1e-4)


def test_bad_inputs() -> None:
    Z, y = _data()
    with pytest.raises(ValueError, match="Need Z"):
        fit_linear_probe(Z, y[:-1])
    with pytest.raises(ValueError, match="labels must lie"):
        fit_linear_probe(Z, y, num_classes=2)
    with pytest.raises(ValueError, match="weight_decay"):
        fit_linear_probe(Z, y, weight_decay=-1.0)


def test_random_starts_reach_one_minimum_and_bias_moves_by_a_common_shift() -> None:
    Z, y = _data()
    lam = 0.05
    ref = fit_linear_probe(Z, y, 3, weight_decay=lam, tol=1e-10, max_iter=500).double()
    J_ref = float(probe_objective(ref, Z.double(), y, lam))
    assert abs(float(ref.linear.bias.sum())) < 1e-6  # the zero start keeps sum_c b_c = 0
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        probe = fit_linear_probe(Z, y, 3, weight_decay=lam, tol=1e-10, max_iter=500,
                                 generator=g, init_scale=2.0).double()
        with torch.no_grad():
            assert abs(float(probe_objective(probe, Z.double(), y, lam)) - J_ref) < 1e-9
            torch.testing.assert_close(probe.linear.weight, ref.linear.weight, atol=1e-5, rtol=0)
            shift = probe.linear.bias - ref.linear.bias
            assert float(shift.std()) < 1e-5 and abs(float(shift.mean())) > 1e-3  # a common shift
            torch.testing.assert_close(probe(Z).softmax(1), ref(Z).softmax(1), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="init_scale"):
        fit_linear_probe(Z, y, 3, generator=torch.Generator().manual_seed(0), init_scale=-1.0)
