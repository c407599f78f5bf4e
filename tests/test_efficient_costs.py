"""Cost measurements (transfer_utils.efficient.costs) against counts worked out by hand."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from transfer_utils.efficient.costs import (adam_state_bytes, gradient_bytes, optimizer_state_bytes,
                                            peak_cuda_bytes, saved_activation_bytes, tensor_bytes,
                                            time_per_step)


def test_tensor_and_gradient_bytes():
    assert tensor_bytes([torch.zeros(3, 4), torch.zeros(5, dtype=torch.float64), torch.zeros(2, dtype=torch.bfloat16)]) == 48 + 40 + 4
    net = nn.Linear(3, 2)
    net.bias.requires_grad_(False)
    assert gradient_bytes(net) == 0
    net(torch.ones(1, 3)).sum().backward()
    assert gradient_bytes(net) == 6 * 4


@pytest.mark.parametrize("opt_name", ["Adam", "AdamW"])
def test_adam_state_is_two_moments_per_trained_parameter(opt_name):
    net = nn.Sequential(nn.Linear(10, 4), nn.Linear(4, 2))
    net[0].weight.requires_grad_(False)
    trained = [p for p in net.parameters() if p.requires_grad]  # 4 + 8 + 2 = 14 numbers in 3 tensors
    opt = getattr(torch.optim, opt_name)(trained, lr=1e-3)
    assert optimizer_state_bytes(opt) == 0  # created lazily
    net(torch.randn(5, 10)).sum().backward()
    opt.step()
    assert optimizer_state_bytes(opt) == 2 * 4 * 14 + 3 * 4 == adam_state_bytes(net.parameters())


def test_plain_sgd_keeps_no_state():
    net = nn.Linear(3, 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net(torch.randn(2, 3)).sum().backward()
    opt.step()
    assert optimizer_state_bytes(opt) == 0


def test_saved_bytes_count_each_storage_once():
    x = torch.randn(100, 10, requires_grad=True)
    y, saved = saved_activation_bytes(lambda: torch.exp(x))  # exp saves its result
    assert saved == 100 * 10 * 4 and y.shape == (100, 10)
    _, saved = saved_activation_bytes(lambda: x * x)  # x saved twice, one storage
    assert saved == 4000
    _, saved = saved_activation_bytes(lambda: x * x, exclude=[x])
    assert saved == 0
    with torch.no_grad():
        _, saved = saved_activation_bytes(lambda: torch.exp(x))
    assert saved == 0


def test_checkpointing_keeps_only_the_block_input():
    x = torch.randn(64, 32, requires_grad=True)
    block = nn.Sequential(nn.Tanh(), nn.Tanh(), nn.Tanh())  # each Tanh saves its output
    _, plain = saved_activation_bytes(lambda: block(x))
    _, ckpt = saved_activation_bytes(lambda: checkpoint(block, x, use_reentrant=True))
    assert plain == 3 * 64 * 32 * 4
    assert ckpt == 64 * 32 * 4  # the input only
    checkpoint(block, x, use_reentrant=True).sum().backward()
    g_ckpt, x.grad = x.grad, None
    block(x).sum().backward()
    torch.testing.assert_close(g_ckpt, x.grad)


def test_peak_cuda_bytes_refuses_a_cpu():
    with pytest.raises(ValueError, match="CUDA"):
        peak_cuda_bytes(lambda: None, "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_peak_cuda_bytes_sees_an_allocation():
    peak = peak_cuda_bytes(lambda: torch.empty(1 << 20, device="cuda"), "cuda")
    assert peak >= 4 << 20


def test_time_per_step_calls_warmup_plus_repeats_and_takes_the_median():
    calls = []
    durations = iter([0.0, 0.03, 0.001, 0.01])

    def step():
        calls.append(1)
        time.sleep(next(durations))

    t = time_per_step(step, repeats=3, warmup=1)
    assert len(calls) == 4
    assert 0.01 <= t < 0.03
    with pytest.raises(ValueError):
        time_per_step(step, repeats=0)
