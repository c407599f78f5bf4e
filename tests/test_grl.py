"""Tests for transfer_utils.adaptation.grl: the reversed gradient, the schedule, and bad lambdas."""

from __future__ import annotations

import math

import pytest
import torch

from transfer_utils.adaptation.grl import GradientReversalLayer, dann_lambda, grad_reverse


@pytest.mark.parametrize("lambd", [0.0, 0.3, 1.0, 2.5])
def test_forward_is_identity_and_backward_is_minus_lambda(lambd):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, generator=g, requires_grad=True)
    upstream = torch.randn(4, 3, generator=g)
    y = grad_reverse(x, lambd)
    torch.testing.assert_close(y, x)
    y.backward(upstream)
    torch.testing.assert_close(x.grad, -lambd * upstream)


def test_chain_rule_through_layer_against_finite_differences():
    # d/dx f(R(x)) = -lambda f'(x): compare with central differences of -lambda * f
    x = torch.tensor([0.7, -1.2], dtype=torch.float64, requires_grad=True)
    f = lambda z: (z.sin() * z.pow(2)).sum()  # noqa: E731
    f(grad_reverse(x, 0.5)).backward()
    h = 1e-6
    fd = torch.stack([(f(x.detach() + h * e) - f(x.detach() - h * e)) / (2 * h)
                      for e in torch.eye(2, dtype=torch.float64)])
    torch.testing.assert_close(x.grad, -0.5 * fd)


def test_schedule_values_and_layer():
    assert dann_lambda(0.0) == 0.0
    assert math.isclose(dann_lambda(1.0), 2 / (1 + math.exp(-10)) - 1)
    assert math.isclose(dann_lambda(0.5, max_value=2.0, gamma=4.0), 2.0 * (2 / (1 + math.exp(-2)) - 1))
    layer = GradientReversalLayer(max_lambda=1.0)
    x = torch.ones(3, requires_grad=True)
    layer.set_progress(0.2)
    layer(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.full((3,), -dann_lambda(0.2)))
    fixed = GradientReversalLayer(0.7, schedule=False)
    assert fixed.lambd == 0.7


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_lambda_out_of_range(bad):
    with pytest.raises(ValueError, match="lambd"):
        grad_reverse(torch.ones(2), bad)
    with pytest.raises(ValueError, match="max_lambda"):
        GradientReversalLayer(bad)


@pytest.mark.parametrize("p", [-0.01, 1.5])
def test_progress_out_of_range(p):
    with pytest.raises(ValueError, match="progress"):
        dann_lambda(p)
    with pytest.raises(ValueError, match="progress"):
        GradientReversalLayer().set_progress(p)
