"""Tests for transfer_utils.adaptation.subspace against scikit-learn's PCA and the closed form of M."""

from __future__ import annotations

import pytest
import torch
from sklearn.decomposition import PCA

from transfer_utils.adaptation.subspace import pca_basis, subspace_alignment


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    Xs = torch.randn(100, 5, generator=g, dtype=torch.float64) * torch.tensor([5.0, 3.0, 1.0, 0.5, 0.1], dtype=torch.float64)
    Q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
    Xt = torch.randn(80, 5, generator=g, dtype=torch.float64) * torch.tensor([5.0, 3.0, 1.0, 0.5, 0.1], dtype=torch.float64) @ Q + 2.0
    return Xs, Xt


def test_basis_spans_sklearn_pca(data):
    Xs, _ = data
    P = pca_basis(Xs, 3)
    ref = PCA(3).fit(Xs.numpy()).components_.T
    torch.testing.assert_close(P.T @ P, torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(P @ P.T, torch.from_numpy(ref @ ref.T))  # same subspace, signs aside


def test_alignment_closed_form_and_sign_invariance(data):
    Xs, Xt = data
    res = subspace_alignment(Xs, Xt, 2)
    torch.testing.assert_close(res.M, res.P_src.T @ res.P_tgt)
    # M minimises ||P_s M - P_t||_F: check against least squares
    M_ls = torch.linalg.lstsq(res.P_src, res.P_tgt).solution
    torch.testing.assert_close(res.M, M_ls)
    # flipping the sign of a source direction changes nothing in Z_src
    P_flip = res.P_src * torch.tensor([-1.0, 1.0], dtype=torch.float64)
    Z_flip = (Xs - Xs.mean(0)) @ P_flip @ (P_flip.T @ res.P_tgt)
    torch.testing.assert_close(res.Z_src, Z_flip)
    torch.testing.assert_close(res.Z_tgt, (Xt - Xt.mean(0)) @ res.P_tgt)


def test_full_dimension_maps_source_into_target_basis(data):
    Xs, Xt = data
    res = subspace_alignment(Xs, Xt, 5)
    torch.testing.assert_close(res.P_src @ res.M, res.P_tgt)


@pytest.mark.parametrize("d", [0, 6, 2.5])
def test_bad_dimension(data, d):
    with pytest.raises(ValueError, match="d must be"):
        subspace_alignment(*data, d)


def test_bad_shapes():
    with pytest.raises(ValueError, match="same feature size"):
        subspace_alignment(torch.randn(10, 3), torch.randn(10, 4), 2)
    with pytest.raises(ValueError, match="empty"):
        subspace_alignment(torch.randn(10, 3), torch.randn(0, 3), 2)
