"""transfer_utils.core.distances.sq_dists against the direct broadcast of differences."""

from __future__ import annotations

import pytest
import torch

from transfer_utils.core.distances import sq_dists


def test_sq_dists_equals_broadcast_differences_and_is_differentiable():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(7, 3, generator=g, dtype=torch.float64, requires_grad=True)
    B = torch.randn(5, 3, generator=g, dtype=torch.float64)
    ref = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    torch.testing.assert_close(sq_dists(A, B), ref)
    assert torch.autograd.gradcheck(lambda a: sq_dists(a, B), (A,))
    D = sq_dists(A.detach(), A.detach())
    assert (D >= 0).all() and D.diagonal().abs().max() < 1e-12  # clamped, zero on the diagonal


def test_sq_dists_rejects_mismatched_columns():
    with pytest.raises(ValueError, match="same d"):
        sq_dists(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="unsqueeze"):
        sq_dists(torch.zeros(3), torch.zeros(3))
