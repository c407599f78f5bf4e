"""LoRA (transfer_utils.efficient.lora) against independent references: autograd for the gradients,
the adapter's own outputs for the merged weight, and the ``peft`` library on the same weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from transfer_utils.efficient.lora import (LoRAConv2d, LoRALinear, check_rank, inject_lora, lora_gradients,
                                          merge_lora)


def _layer(d_in=7, d_out=5, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Linear(d_in, d_out).to(dtype)


def _randomise_B(lora: LoRALinear, seed=1):
    with torch.no_grad():
        lora.lora_B.copy_(torch.randn(lora.lora_B.shape, generator=torch.Generator().manual_seed(seed),
                                      dtype=lora.lora_B.dtype))


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (6, ValueError), (100, ValueError),
                                        (2.0, TypeError), (2.5, TypeError), (True, TypeError), ("4", TypeError),
                                        (None, TypeError)])
def test_a_bad_rank_is_refused_clearly(bad, error):
    with pytest.raises(error, match="rank"):
        LoRALinear(_layer(7, 5), bad)
    with pytest.raises(error, match="rank"):
        check_rank(bad, 7, 5)


def test_rank_limits_are_the_smaller_dimension():
    assert check_rank(5, 7, 5) == 5 and check_rank(1, 7, 5) == 1
    with pytest.raises(ValueError, match=r"min\(d_in, d_out\) = 5"):
        check_rank(6, 7, 5)


def test_only_linear_layers_are_wrapped_and_alpha_is_checked():
    with pytest.raises(TypeError, match="nn.Linear"):
        LoRALinear(nn.Conv1d(3, 3, 1), 1)
    with pytest.raises(ValueError, match="alpha"):
        LoRALinear(_layer(), 2, alpha=0.0)


def test_starts_as_the_pretrained_layer_and_freezes_it():
    base = _layer()
    x = torch.randn(4, 7, dtype=torch.float64)
    expected = base(x).detach()
    lora = LoRALinear(base, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(lora(x), expected)  # B = 0: exactly the same function
    assert not base.weight.requires_grad and not base.bias.requires_grad
    assert [n for n, p in lora.named_parameters() if p.requires_grad] == ["lora_A", "lora_B"]
    assert lora.lora_A.abs().max() <= 7 ** -0.5 and lora.lora_A.abs().max() > 0


@pytest.mark.parametrize("rank, alpha", [(1, None), (3, 6.0), (5, 2.0)])
def test_gradients_match_autograd(rank, alpha):
    lora = LoRALinear(_layer(), rank, alpha, generator=torch.Generator().manual_seed(2))
    _randomise_B(lora)
    x = torch.randn(6, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    target = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    y = lora(x)
    loss = ((y - target) ** 2).sum() / 2
    gA, gB = torch.autograd.grad(loss, [lora.lora_A, lora.lora_B])
    G = (y - target).detach()  # dL/dy of the squared error
    ours = lora_gradients(x, G, lora.lora_A.detach(), lora.lora_B.detach(), lora.scaling)
    torch.testing.assert_close(ours[0], gA)
    torch.testing.assert_close(ours[1], gB)
    # one example: dL/dA = s B^T g x^T, dL/dB = s g x^T A^T, written out with outer products
    g0, x0 = G[0], x[0]
    one = lora_gradients(x0, g0, lora.lora_A.detach(), lora.lora_B.detach(), lora.scaling)
    torch.testing.assert_close(one[0], lora.scaling * lora.lora_B.detach().T @ torch.outer(g0, x0))
    torch.testing.assert_close(one[1], lora.scaling * torch.outer(g0, x0) @ lora.lora_A.detach().T)


def test_at_b_zero_only_b_gets_a_gradient():
    lora = LoRALinear(_layer(), 2, generator=torch.Generator().manual_seed(0))
    lora(torch.randn(3, 7, dtype=torch.float64)).sum().backward()
    assert torch.count_nonzero(lora.lora_A.grad) == 0 and torch.count_nonzero(lora.lora_B.grad) > 0


def test_gradient_shapes_are_checked():
    with pytest.raises(ValueError, match="do not chain"):
        lora_gradients(torch.zeros(3, 7), torch.zeros(3, 5), torch.zeros(2, 6), torch.zeros(5, 2))


def test_the_merged_weight_gives_the_adapter_outputs():
    lora = LoRALinear(_layer(), 3, alpha=5.0, generator=torch.Generator().manual_seed(0))
    _randomise_B(lora)
    x = torch.randn(8, 7, dtype=torch.float64)
    merged = lora.merged()
    assert type(merged) is nn.Linear
    torch.testing.assert_close(merged(x), lora(x))
    torch.testing.assert_close(merged.weight, lora.base.weight + 5.0 / 3 * lora.lora_B @ lora.lora_A)


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Sequential(nn.Linear(8, 8), nn.Tanh()), nn.Linear(8, 3)).double()


def test_inject_then_merge_round_trip():
    net = _net()
    names = inject_lora(net, ["0", "2.0"], 2, generator=torch.Generator().manual_seed(0))
    assert names == ["0", "2.0"]
    assert isinstance(net[0], LoRALinear) and isinstance(net[2][0], LoRALinear) and type(net[3]) is nn.Linear
    for m in (net[0], net[2][0]):
        _randomise_B(m)
    x = torch.randn(5, 6, dtype=torch.float64)
    before = net(x).detach()
    assert merge_lora(net) == 2
    assert not any(isinstance(m, LoRALinear) for m in net.modules())
    torch.testing.assert_close(net(x), before)
    with pytest.raises(ValueError, match="No nn.Linear"):
        inject_lora(net, ["query"], 2)
    with pytest.raises(ValueError, match="exceeds"):
        inject_lora(_net(), ["3"], 4)  # 8 -> 3: rank at most 3


def test_equal_to_peft_on_the_same_weights():
    peft = pytest.importorskip("peft")
    rank, alpha = 3, 6
    ours_net, peft_net = _net(), _net()
    inject_lora(ours_net, ["0", "2.0"], rank, alpha, generator=torch.Generator().manual_seed(1))
    config = peft.LoraConfig(r=rank, lora_alpha=alpha, target_modules=["0", "2.0"], lora_dropout=0.0)
    peft_net = peft.inject_adapter_in_model(config, peft_net)
    for ours, theirs in ((ours_net[0], peft_net[0]), (ours_net[2][0], peft_net[2][0])):
        _randomise_B(ours)
        assert theirs.scaling["default"] == ours.scaling
        with torch.no_grad():
            theirs.lora_A["default"].weight.copy_(ours.lora_A)
            theirs.lora_B["default"].weight.copy_(ours.lora_B)
    x = torch.randn(4, 6, dtype=torch.float64)
    torch.testing.assert_close(ours_net(x), peft_net(x))
    trained = sum(p.numel() for n, p in peft_net.named_parameters() if "lora_" in n)
    assert trained == sum(p.numel() for n, p in ours_net.named_parameters() if "lora_" in n) == 3 * (6 + 8) + 3 * (8 + 8)


def test_bad_inputs_are_refused_by_the_course_with_the_fix():
    from badinput import expect_clear_error

    from transfer_utils.efficient.costs import peak_cuda_bytes, time_per_step

    expect_clear_error(lambda: LoRALinear(nn.Linear(4, 3), 4), "rank", "1..3")
    expect_clear_error(lambda: LoRALinear(nn.Linear(4, 3), 1.5), "rank", "positive integer")
    expect_clear_error(lambda: inject_lora(_net(), ["query", "value"], 2), "query", "convolution layers are")
    expect_clear_error(lambda: peak_cuda_bytes(lambda: None, "cpu"), "cuda", "saved_activation_bytes")
    expect_clear_error(lambda: time_per_step(lambda: None, repeats=0), "repeats")


# LoRA on a convolution: the kernel flattened to (c_out, c_in k_h k_w) is the matrix that B A updates.

def _conv(c_in=3, c_out=4, k=3, seed=0, **kw):
    torch.manual_seed(seed)
    return nn.Conv2d(c_in, c_out, k, **kw).double()


def _randomise_conv_B(lora: LoRAConv2d, seed=1):
    with torch.no_grad():
        lora.lora_B.copy_(torch.randn(lora.lora_B.shape, generator=torch.Generator().manual_seed(seed),
                                      dtype=lora.lora_B.dtype))


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1}, {"padding": 2, "dilation": 2, "bias": False}])
def test_conv_lora_is_the_convolution_with_the_updated_kernel(kw):
    base = _conv(**kw)
    x = torch.randn(2, 3, 9, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    expected = base(x).detach()
    lora = LoRAConv2d(base, 2, alpha=3.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(lora(x), expected)  # B = 0: exactly the pretrained convolution
    assert [n for n, p in lora.named_parameters() if p.requires_grad] == ["lora_A", "lora_B"]
    _randomise_conv_B(lora)
    # independent reference: F.conv2d with W0 + s * B A, the product written out with einsum
    delta = 1.5 * torch.einsum("or,rihw->oihw", lora.lora_B[:, :, 0, 0], lora.lora_A)
    reference = torch.nn.functional.conv2d(x, base.weight + delta, base.bias, base.stride, base.padding, base.dilation)
    torch.testing.assert_close(lora(x), reference)
    merged = lora.merged()
    assert type(merged) is nn.Conv2d and (merged.bias is None) == (base.bias is None)
    torch.testing.assert_close(merged(x), lora(x))


def test_conv_lora_gradients_are_the_flattened_linear_ones():
    """Unfolded into patches, the convolution is y = W x per patch: LoRA's gradients are lora_gradients'."""
    lora = LoRAConv2d(_conv(), 2, generator=torch.Generator().manual_seed(0))
    _randomise_conv_B(lora)
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = lora(x)
    G = torch.randn(y.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    gA, gB = torch.autograd.grad((y * G).sum(), [lora.lora_A, lora.lora_B])
    patches = torch.nn.functional.unfold(x, 3).transpose(1, 2).reshape(-1, 27)  # (N * positions, c_in k k)
    G_rows = G.flatten(2).transpose(1, 2).reshape(-1, 4)
    rA, rB = lora_gradients(patches, G_rows, lora.lora_A.detach().flatten(1), lora.lora_B.detach().flatten(1), lora.scaling)
    torch.testing.assert_close(gA, rA.view_as(gA))
    torch.testing.assert_close(gB, rB.view_as(gB))


def test_conv_rank_and_layer_kind_are_checked():
    assert LoRAConv2d(_conv(1, 16, 5), 16).rank == 16  # min(1 * 5 * 5, 16)
    with pytest.raises(ValueError, match="exceeds"):
        LoRAConv2d(_conv(1, 16, 5), 17)
    with pytest.raises(ValueError, match="groups"):
        LoRAConv2d(nn.Conv2d(4, 4, 3, groups=2), 1)
    with pytest.raises(TypeError, match="nn.Conv2d"):
        LoRAConv2d(nn.Linear(3, 3), 1)


def test_conv_lora_equals_peft_and_merges_in_a_network():
    peft = pytest.importorskip("peft")
    def net():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.Flatten(), nn.Linear(6 * 4 * 4, 3)).double()
    ours, theirs = net(), net()
    names = inject_lora(ours, ["0", "2", "4"], 2, alpha=4.0, generator=torch.Generator().manual_seed(1))
    assert names == ["0", "2", "4"] and isinstance(ours[0], LoRAConv2d) and isinstance(ours[4], LoRALinear)
    theirs = peft.inject_adapter_in_model(peft.LoraConfig(r=2, lora_alpha=4, target_modules=["0", "2", "4"]), theirs)
    for i in ("0", "2", "4"):
        mine, other = ours.get_submodule(i), theirs.get_submodule(i)
        with torch.no_grad():
            mine.lora_B.normal_(generator=torch.Generator().manual_seed(int(i)))
            other.lora_A["default"].weight.copy_(mine.lora_A.view_as(other.lora_A["default"].weight))
            other.lora_B["default"].weight.copy_(mine.lora_B.view_as(other.lora_B["default"].weight))
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(ours(x), theirs(x))
    assert sum(p.numel() for n, p in ours.named_parameters() if "lora_" in n) == \
        sum(p.numel() for n, p in theirs.named_parameters() if "lora_" in n) == 2 * (9 + 4) + 2 * (36 + 6) + 2 * (96 + 3)
    before = ours(x).detach()
    assert merge_lora(ours) == 3 and type(ours[0]) is nn.Conv2d
    torch.testing.assert_close(ours(x), before)


def test_lora_scaling_defaults_to_one_and_refuses_bad_alpha():
    from transfer_utils.efficient.lora import lora_scaling
    assert lora_scaling(4, None) == (4.0, 1.0)
    assert lora_scaling(4, 8) == (8.0, 2.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="alpha must be a positive number"):
            lora_scaling(4, bad)
