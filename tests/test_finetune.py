"""Tests for transfer_utils.transfer.finetune against closed forms and autograd."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from transfer_utils.transfer.finetune import (
    L2SPLoss,
    TransferModel,
    count_parameters,
    decoupled_l2sp,
    discriminative_param_groups,
    freeze_batchnorm,
    set_trainable,
    warmup_cosine,
)


def _model() -> TransferModel:
    backbone = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 5))
    return TransferModel(backbone, 5, 3)


def test_l2sp_penalty_and_gradient_closed_form() -> None:
    model = _model()
    pre = list(model.backbone.parameters())
    loss = L2SPLoss(lambda out, y: out.sum() * 0, pre, model.head.parameters(), alpha=0.3, beta=0.7)
    assert float(loss.penalty().detach()) == pytest.approx(0.5 * 0.7 * sum(float((p.detach() ** 2).sum()) for p in model.head.parameters()))
    with torch.no_grad():
        for p in pre:
            p.add_(torch.randn_like(p))
    deltas = [p.detach() - a for p, a in zip(pre, loss.anchors)]
    value = loss(model(torch.randn(8, 4)), torch.zeros(8, dtype=torch.long))
    expected = 0.5 * 0.3 * sum(float((d ** 2).sum()) for d in deltas) + 0.5 * 0.7 * sum(
        float((p.detach() ** 2).sum()) for p in model.head.parameters())
    assert float(value.detach()) == pytest.approx(expected, rel=1e-6)
    value.backward()
    for p, d in zip(pre, deltas):  # gradient alpha (w - w0)
        torch.testing.assert_close(p.grad, 0.3 * d)
    torch.testing.assert_close(model.head.weight.grad, 0.7 * model.head.weight.detach())


def test_discriminative_rates_and_frozen_parameters() -> None:
    model = _model()
    set_trainable(model.backbone[0], False)
    blocks = [model.backbone[0], model.backbone[1], model.backbone[3], model.head]
    groups = discriminative_param_groups(blocks, lr=0.1, decay=0.5)
    assert [g["lr"] for g in groups] == pytest.approx([0.1 * 0.25, 0.1 * 0.5, 0.1])  # frozen block dropped
    assert count_parameters(model) == count_parameters(model, trainable_only=False) - (4 * 6 + 6)
    with pytest.raises(ValueError, match="decay"):
        discriminative_param_groups(blocks, lr=0.1, decay=1.5)
    with pytest.raises(ValueError, match="No trainable"):
        discriminative_param_groups([model.backbone[0]], lr=0.1)


def test_warmup_cosine_closed_form() -> None:
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p], "lr": 1.0}, {"params": [nn.Parameter(torch.zeros(1))], "lr": 0.1}])
    sched = warmup_cosine(opt, warmup_steps=4, total_steps=12)
    seen = []
    for _ in range(12):
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    for t, (lr0, lr1) in enumerate(seen):
        m = (t + 1) / 4 if t < 4 else 0.5 * (1 + math.cos(math.pi * (t - 4) / 8))
        assert lr0 == pytest.approx(m) and lr1 == pytest.approx(0.1 * m)
    with pytest.raises(ValueError):
        warmup_cosine(opt, 5, 5)


def test_freeze_batchnorm_survives_train_and_keeps_statistics() -> None:
    model = _model()
    bn = model.backbone[1]
    with torch.no_grad():
        bn.running_mean.fill_(0.5)
        bn.running_var.fill_(2.0)
    assert freeze_batchnorm(model) == 1
    model.train()
    assert model.training and not bn.training
    x = torch.randn(16, 4) * 3 + 1
    out = model.backbone[1](model.backbone[0](x))
    h = model.backbone[0](x)
    expected = (h - 0.5) / torch.sqrt(torch.tensor(2.0) + bn.eps) * bn.weight + bn.bias
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(bn.running_mean, torch.full((6,), 0.5))  # not updated
    assert bn.weight.requires_grad


def test_transfer_model_head_shape_check() -> None:
    with pytest.raises(ValueError, match="head maps"):
        TransferModel(nn.Identity(), 4, 3, head=nn.Linear(5, 3))


def test_decoupled_l2sp_equals_sgd_on_the_penalty_and_contracts_under_adam() -> None:
    torch.manual_seed(0)
    X, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    # plain SGD: decoupled pull == SGD on task loss + Omega (second implementation: L2SPLoss)
    ref, dec = _model(), _model()
    dec.load_state_dict(ref.state_dict())
    ref_loss = L2SPLoss(nn.CrossEntropyLoss(), ref.backbone.parameters(), ref.head.parameters(), alpha=0.3, beta=0.2)
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.1)
    opt_dec = torch.optim.SGD(dec.parameters(), lr=0.1)
    handle = decoupled_l2sp(opt_dec, dec.backbone.parameters(), 0.3, dec.head.parameters(), 0.2)
    for _ in range(5):
        for model, opt, loss_fn in ((ref, opt_ref, ref_loss), (dec, opt_dec, nn.CrossEntropyLoss())):
            opt.zero_grad()
            loss_fn(model(X), y).backward()
            opt.step()
    for a, b in zip(ref.parameters(), dec.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    # Adam with zero task gradient: exact contraction by 1 - lr * alpha per step (closed form)
    w = nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
    opt = torch.optim.Adam([w], lr=0.05)
    h = decoupled_l2sp(opt, [w], alpha=2.0)
    with torch.no_grad():
        w.add_(torch.tensor([0.5, 0.01, -4.0]))
    for _ in range(3):
        opt.zero_grad()
        (0 * w).sum().backward()
        opt.step()
    torch.testing.assert_close(w.detach() - h.anchors[0], (1 - 0.05 * 2.0) ** 3 * torch.tensor([0.5, 0.01, -4.0]))
    handle.remove()
    with pytest.raises(ValueError, match="not trained"):
        decoupled_l2sp(torch.optim.SGD([w], lr=0.1), [nn.Parameter(torch.zeros(2))], 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        decoupled_l2sp(opt, [w], -1.0)
    with pytest.raises(ValueError, match="finite"):
        decoupled_l2sp(opt, [w], float("nan"))
