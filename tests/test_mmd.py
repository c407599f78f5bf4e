"""Tests for transfer_utils.adaptation.mmd against a direct double-loop implementation in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from transfer_utils.adaptation.mmd import MMDLoss, gaussian_kernel, median_bandwidth, mmd2


def _reference_mmd2(X: np.ndarray, Y: np.ndarray, sigmas, unbiased: bool) -> float:
    def k(a, b):
        d2 = float(((a - b) ** 2).sum())
        return float(np.mean([np.exp(-d2 / (2 * s * s)) for s in sigmas]))

    m, n = len(X), len(Y)
    sxx = sum(k(X[i], X[j]) for i in range(m) for j in range(m) if not (unbiased and i == j))
    syy = sum(k(Y[i], Y[j]) for i in range(n) for j in range(n) if not (unbiased and i == j))
    sxy = sum(k(X[i], Y[j]) for i in range(m) for j in range(n))
    if unbiased:
        return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)
    return sxx / m**2 + syy / n**2 - 2 * sxy / (m * n)


@pytest.fixture
def samples():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(12, 3, generator=g, dtype=torch.float64)
    Y = torch.randn(9, 3, generator=g, dtype=torch.float64) * 1.5 + 0.7
    return X, Y


@pytest.mark.parametrize("unbiased", [False, True])
def test_matches_direct_implementation(samples, unbiased):
    X, Y = samples
    sigmas = (0.5, 1.0, 3.0)
    got = mmd2(X, Y, sigmas, unbiased=unbiased)
    ref = _reference_mmd2(X.numpy(), Y.numpy(), sigmas, unbiased)
    torch.testing.assert_close(got, torch.tensor(ref, dtype=torch.float64))


def test_default_bandwidths_use_the_median(samples):
    X, Y = samples
    Z = torch.cat([X, Y]).numpy()
    d = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))
    med = np.median(d[~np.eye(len(Z), dtype=bool)])
    torch.testing.assert_close(median_bandwidth(X, Y), torch.tensor(med, dtype=torch.float64))
    ref = _reference_mmd2(X.numpy(), Y.numpy(), [med * f for f in (0.25, 0.5, 1, 2, 4)], False)
    torch.testing.assert_close(mmd2(X, Y), torch.tensor(ref, dtype=torch.float64))


def test_zero_for_identical_inputs_and_positive_otherwise(samples):
    X, Y = samples
    assert mmd2(X, X.clone()).abs().item() < 1e-12
    assert MMDLoss()(Y, Y.clone()).abs().item() < 1e-12
    assert mmd2(X, Y).item() > 1e-3


def test_kernel_matrix_against_scipy_distances(samples):
    from scipy.spatial.distance import cdist

    X, Y = samples
    K = gaussian_kernel(X, Y, 2.0)
    ref = np.exp(-cdist(X.numpy(), Y.numpy(), "sqeuclidean") / 8.0)
    torch.testing.assert_close(K, torch.from_numpy(ref))


def test_gradient_matches_finite_differences(samples):
    X, Y = samples
    X = X[:5].clone().requires_grad_(True)
    Y = Y[:4].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: mmd2(a, b, (0.7, 2.0), unbiased=True), (X, Y))


def test_loss_module_is_differentiable_and_pulls_together():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(20, 2, generator=g)
    Y = (torch.randn(20, 2, generator=g) + 2.0).requires_grad_(True)
    loss = MMDLoss(sigmas=[1.0, 2.0])
    before = loss(X, Y)
    before.backward()
    with torch.no_grad():
        Y2 = Y - 0.5 * Y.grad
    assert loss(X, Y2) < before


@pytest.mark.parametrize(
    "X, Y, kwargs, match",
    [
        (torch.zeros(4, 3), torch.zeros(4, 2), {}, "same number of features"),
        (torch.zeros(4, 3), torch.zeros(0, 3), {}, "empty"),
        (torch.zeros(4, 3), torch.zeros(1, 3), {"unbiased": True}, "at least 2"),
        (torch.zeros(4, 3, 2), torch.zeros(4, 3), {}, "2-D"),
        (torch.zeros(4, 3), torch.zeros(4, 3), {"sigmas": [1.0, -1.0]}, "positive"),
    ],
)
def test_bad_input_raises_clear_errors(X, Y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mmd2(X, Y, **kwargs)


def test_integer_input_rejected():
    with pytest.raises(TypeError, match="floating-point"):
        mmd2(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2))
