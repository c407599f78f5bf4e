"""Tests for transfer_utils.adaptation.coral against NumPy/SciPy references and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from transfer_utils.adaptation.coral import CORALLoss, coral_loss, coral_transform, covariance, matrix_power_sym


@pytest.fixture
def domains():
    g = torch.Generator().manual_seed(0)
    Xs = torch.randn(200, 4, generator=g, dtype=torch.float64) @ torch.randn(4, 4, generator=g, dtype=torch.float64)
    Xt = torch.randn(150, 4, generator=g, dtype=torch.float64) @ torch.randn(4, 4, generator=g, dtype=torch.float64) + 1.0
    return Xs, Xt


def test_covariance_matches_numpy(domains):
    Xs, _ = domains
    torch.testing.assert_close(covariance(Xs), torch.from_numpy(np.cov(Xs.numpy(), rowvar=False)))


def test_matrix_power_matches_scipy(domains):
    C = covariance(domains[0])
    torch.testing.assert_close(matrix_power_sym(C, 0.5), torch.from_numpy(scipy.linalg.sqrtm(C.numpy()).real))
    torch.testing.assert_close(matrix_power_sym(C, -0.5) @ matrix_power_sym(C, 0.5),
                               torch.eye(4, dtype=torch.float64))


@pytest.mark.parametrize("center", [False, True])
def test_transform_output_covariance_equals_targets(domains, center):
    Xs, Xt = domains
    out = coral_transform(Xs, Xt, eps=0.0, center=center)
    torch.testing.assert_close(covariance(out), covariance(Xt))
    if center:
        torch.testing.assert_close(out.mean(0), Xt.mean(0))


def test_transform_with_ridge_matches_direct_formula(domains):
    Xs, Xt = domains
    Cs = np.cov(Xs.numpy(), rowvar=False) + np.eye(4)
    Ct = np.cov(Xt.numpy(), rowvar=False) + np.eye(4)
    ref = Xs.numpy() @ np.linalg.inv(scipy.linalg.sqrtm(Cs).real) @ scipy.linalg.sqrtm(Ct).real
    torch.testing.assert_close(coral_transform(Xs, Xt, eps=1.0), torch.from_numpy(ref))
    assert coral_transform(Xs.float(), Xt.float()).dtype == torch.float32


def test_loss_matches_direct_implementation_and_is_zero_for_identical(domains):
    Xs, Xt = domains
    d = 4
    ref = np.sum((np.cov(Xs.numpy(), rowvar=False) - np.cov(Xt.numpy(), rowvar=False)) ** 2) / (4 * d * d)
    torch.testing.assert_close(coral_loss(Xs, Xt), torch.tensor(ref, dtype=torch.float64))
    assert CORALLoss()(Xs, Xs.clone()).item() == 0.0


def test_loss_gradient_finite_differences_and_closed_form(domains):
    Xs, Xt = domains
    a = Xs[:6].clone().requires_grad_(True)
    b = Xt[:5].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(coral_loss, (a, b))
    coral_loss(a, b).backward()
    closed = (a - a.mean(0)).detach() @ (covariance(a) - covariance(b)).detach() / (16 * (6 - 1))
    torch.testing.assert_close(a.grad, closed)


@pytest.mark.parametrize(
    "a, b, match",
    [
        (torch.zeros(5, 3), torch.zeros(5, 4), "same feature size"),
        (torch.zeros(5, 3), torch.zeros(0, 3), "empty"),
        (torch.zeros(5, 3, 1), torch.zeros(5, 3), "n_samples, n_features"),
    ],
)
def test_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        coral_loss(a, b)
    with pytest.raises(ValueError, match=match):
        coral_transform(a, b)


def test_singular_covariance_needs_ridge():
    Xs = torch.randn(3, 5, dtype=torch.float64)  # fewer samples than features
    with pytest.raises(ValueError, match="eps > 0"):
        coral_transform(Xs, torch.randn(10, 5, dtype=torch.float64), eps=0.0)
    with pytest.raises(ValueError, match="eps must be >= 0"):
        coral_transform(Xs, Xs, eps=-1.0)
