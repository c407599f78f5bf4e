"""Tests for transfer_utils.adaptation.adversarial: DANN and CDAN against direct computations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from transfer_utils.adaptation.adversarial import CDANLoss, DANNLoss, DomainDiscriminator, entropy, multilinear_map
from transfer_utils.adaptation.grl import GradientReversalLayer


def _bce_reference(logits_s, logits_t, w_s=None, w_t=None):
    """-mean log sigma(z_s) - mean log(1 - sigma(z_t)), written with math.log on floats."""
    w_s = [1.0] * len(logits_s) if w_s is None else w_s
    w_t = [1.0] * len(logits_t) if w_t is None else w_t
    ls = sum(w * -math.log(1 / (1 + math.exp(-z))) for w, z in zip(w_s, logits_s)) / sum(w_s)
    lt = sum(w * -math.log(1 - 1 / (1 + math.exp(-z))) for w, z in zip(w_t, logits_t)) / sum(w_t)
    return ls + lt


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return (torch.randn(6, 4, generator=g, dtype=torch.float64),
            torch.randn(5, 4, generator=g, dtype=torch.float64) + 1.0,
            torch.randn(6, 3, generator=g, dtype=torch.float64),
            torch.randn(5, 3, generator=g, dtype=torch.float64))


def test_multilinear_map_shape_and_entries(batch):
    f, _, logits, _ = batch
    g = logits.softmax(1)
    h = multilinear_map(g, f)
    assert h.shape == (6, 3 * 4)
    for n in range(6):
        torch.testing.assert_close(h[n], torch.outer(g[n], f[n]).reshape(-1))


def test_dann_loss_value_accuracy_and_reversed_gradient(batch):
    f_s, f_t, _, _ = batch
    torch.manual_seed(0)
    disc = DomainDiscriminator(4, hidden_size=8).double()
    loss_fn = DANNLoss(disc, grl=GradientReversalLayer(0.5, schedule=False))
    a, b = f_s.clone().requires_grad_(True), f_t.clone().requires_grad_(True)
    loss = loss_fn(a, b)
    zs, zt = disc(f_s).tolist(), disc(f_t).tolist()
    assert math.isclose(loss.item(), _bce_reference(zs, zt), rel_tol=1e-10)
    acc = (sum(z > 0 for z in zs) + sum(z <= 0 for z in zt)) / 11
    assert math.isclose(loss_fn.last_domain_accuracy.item(), acc, rel_tol=1e-6)
    loss.backward()
    # reference: the same loss without reversal, gradient times -lambda
    a2, b2 = f_s.clone().requires_grad_(True), f_t.clone().requires_grad_(True)
    plain = nn.functional.softplus(-disc(a2)).mean() + nn.functional.softplus(disc(b2)).mean()
    plain.backward()
    torch.testing.assert_close(a.grad, -0.5 * a2.grad)
    torch.testing.assert_close(b.grad, -0.5 * b2.grad)


@pytest.mark.parametrize("entropy_conditioning", [False, True])
def test_cdan_loss_matches_direct_computation(batch, entropy_conditioning):
    f_s, f_t, l_s, l_t = batch
    torch.manual_seed(0)
    disc = DomainDiscriminator(12, hidden_size=8).double()
    loss = CDANLoss(disc, entropy_conditioning=entropy_conditioning)(f_s, f_t, l_s, l_t)
    zs = [disc(torch.outer(p, f).reshape(1, -1)).item() for p, f in zip(l_s.softmax(1), f_s)]
    zt = [disc(torch.outer(p, f).reshape(1, -1)).item() for p, f in zip(l_t.softmax(1), f_t)]
    if entropy_conditioning:
        def w(logits):
            p = logits.softmax(1)
            return [1 + math.exp(sum(pi * math.log(pi) for pi in row.tolist())) for row in p]
        ref = _bce_reference(zs, zt, w(l_s), w(l_t))
    else:
        ref = _bce_reference(zs, zt)
    assert math.isclose(loss.item(), ref, rel_tol=1e-8)


def test_entropy_of_uniform_and_one_hot():
    p = torch.tensor([[0.25] * 4, [1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(entropy(p), torch.tensor([math.log(4), 0.0], dtype=torch.float64),
                               atol=1e-6, rtol=0)


def test_bad_input_errors(batch):
    f_s, f_t, l_s, l_t = batch
    dann = DANNLoss(DomainDiscriminator(4).double())
    with pytest.raises(ValueError, match="same feature size"):
        dann(f_s, f_t[:, :3])
    with pytest.raises(ValueError, match="empty batch"):
        dann(f_s, f_t[:0])
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        DANNLoss(DomainDiscriminator(4).double())(f_s[:, :2], f_t[:, :2])
    cdan = CDANLoss(DomainDiscriminator(12).double())
    with pytest.raises(ValueError, match="num_classes"):
        cdan(f_s, f_t, l_s[:3], l_t)
    with pytest.raises(ValueError, match="num_classes"):
        CDANLoss(DomainDiscriminator(4).double())(f_s, f_t, l_s, l_t)  # forgot C * d
    with pytest.raises(ValueError, match="positive int"):
        DomainDiscriminator(0)
