"""Tests for transfer_utils.transfer.contrastive: NT-Xent against a loop over pairs, augmentations."""

from __future__ import annotations

import math

import pytest
import torch

from transfer_utils.transfer.contrastive import augment_digits, nt_xent_loss


def _reference_nt_xent(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """The SimCLR loss written pair by pair, straight from the formula."""
    u = torch.cat([z1, z2])
    u = u / u.norm(dim=1, keepdim=True)
    n2 = u.shape[0]
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2
        denom = sum(math.exp(float(u[i] @ u[k]) / tau) for k in range(n2) if k != i)
        total += -math.log(math.exp(float(u[i] @ u[j]) / tau) / denom)
    return torch.tensor(total / n2, dtype=torch.float64)


def test_nt_xent_matches_loop() -> None:
    z1, z2 = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    for tau in (0.1, 0.5, 1.0):
        torch.testing.assert_close(nt_xent_loss(z1, z2, tau), _reference_nt_xent(z1, z2, tau))


def test_nt_xent_limits() -> None:
    z = torch.randn(6, 8, dtype=torch.float64)
    # identical views of mutually orthogonal embeddings: the loss tends to 0 as tau -> 0
    eye = torch.eye(6, dtype=torch.float64)
    assert float(nt_xent_loss(eye, eye, 0.05)) < 1e-6
    # all embeddings equal: chance level, log(2N - 1)
    same = torch.ones(6, 8, dtype=torch.float64)
    assert float(nt_xent_loss(same, same, 0.5)) == pytest.approx(math.log(11))
    assert nt_xent_loss(z, z.clone().requires_grad_(), 0.5).requires_grad


def test_nt_xent_bad_inputs() -> None:
    with pytest.raises(ValueError, match="N >= 2"):
        nt_xent_loss(torch.randn(1, 3), torch.randn(1, 3))
    with pytest.raises(ValueError, match="temperature"):
        nt_xent_loss(torch.randn(2, 3), torch.randn(2, 3), 0.0)


def test_augment_digits() -> None:
    X = torch.zeros(4, 1, 28, 28)
    X[:, :, 10:18, 12:16] = 1.0
    g = torch.Generator().manual_seed(0)
    A = augment_digits(X, generator=g)
    B = augment_digits(X, generator=torch.Generator().manual_seed(0))
    assert A.shape == X.shape and float(A.min()) >= 0 and float(A.max()) <= 1
    torch.testing.assert_close(A, B)  # reproducible with a generator
    assert not torch.allclose(A[0], A[1])  # each image its own view
    # no augmentation at all reproduces the input
    same = augment_digits(X, max_rotation_deg=0, scale=(1, 1), max_shift=0, noise_std=0, erase_prob=0)
    torch.testing.assert_close(same, X, atol=1e-5, rtol=0)
    with pytest.raises(ValueError):
        augment_digits(torch.zeros(0, 1, 28, 28))
