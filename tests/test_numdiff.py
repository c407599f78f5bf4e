"""Tests for transfer_utils.calculus.numdiff against closed-form derivatives."""

from __future__ import annotations

import math

import pytest
import torch

from transfer_utils.calculus.numdiff import (
    check_gradient,
    central_difference,
    forward_difference,
    numerical_gradient,
    numerical_jacobian,
    optimal_step,
)


def test_scalar_differences_error_orders():
    """Forward error ~ h/2 f'' and central error ~ h^2/6 f''' for exp at 0."""
    x = torch.tensor(0.0, dtype=torch.float64)
    for h in (1e-2, 1e-3):
        fwd = forward_difference(torch.exp, x, h) - 1.0
        cen = central_difference(torch.exp, x, h) - 1.0
        assert fwd.item() == pytest.approx(h / 2, rel=0.01)
        assert cen.item() == pytest.approx(h**2 / 6, rel=0.01)


def test_optimal_step_values():
    eps = torch.finfo(torch.float64).eps
    assert optimal_step("forward") == pytest.approx(math.sqrt(eps))
    assert optimal_step("central") == pytest.approx(eps ** (1 / 3))
    # the measured best central step on sin at 1 is within a factor 30 of eps^(1/3)
    hs = torch.logspace(-12, -1, 111, dtype=torch.float64)
    x = torch.tensor(1.0, dtype=torch.float64)
    err = torch.stack([(central_difference(torch.sin, x, float(h)) - math.cos(1.0)).abs() for h in hs])
    h_best = hs[err.argmin()].item()
    assert optimal_step("central") / 30 < h_best < optimal_step("central") * 30


def test_numerical_gradient_matches_closed_form():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(4, 4, generator=g, dtype=torch.float64)
    x = torch.randn(4, generator=g, dtype=torch.float64)
    f = lambda z: torch.sin(z).sum() + z @ A @ z  # noqa: E731
    exact = torch.cos(x) + (A + A.T) @ x
    torch.testing.assert_close(numerical_gradient(f, x), exact, rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(numerical_gradient(f, x, method="forward"), exact, rtol=1e-5, atol=1e-6)
    # works on matrix-shaped inputs
    M = torch.randn(2, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(numerical_gradient(lambda W: (W**3).sum(), M), 3 * M**2, rtol=1e-8, atol=1e-9)


def test_numerical_jacobian_matches_closed_form():
    x = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    F = lambda z: torch.stack([z[0] * z[1], torch.exp(z[2]), z.sum()])  # noqa: E731
    J = torch.tensor([[x[1], x[0], 0], [0, 0, math.exp(2.0)], [1, 1, 1]], dtype=torch.float64)
    torch.testing.assert_close(numerical_jacobian(F, x), J, rtol=1e-8, atol=1e-9)


def test_check_gradient_passes_and_catches_a_bug():
    x = torch.tensor([0.5, -0.25, 2.0], dtype=torch.float64)
    f = lambda z: torch.logsumexp(z, 0)  # noqa: E731
    res = check_gradient(f, x)
    assert res.ok and res.max_rel < 1e-8
    torch.testing.assert_close(res.analytic, torch.softmax(x, 0))
    wrong = torch.softmax(x, 0) * 1.01
    bad = check_gradient(f, x, wrong)
    assert not bad.ok and bad.max_rel == pytest.approx(0.01 / 1.01, rel=1e-4)
    assert bad.norm_rel == pytest.approx(0.01 / 1.01, rel=1e-4) and res.norm_rel < 1e-9
    assert "MISMATCH" in str(bad)


def test_bad_input():
    x = torch.ones(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda z: z * 2, x)
    with pytest.raises(ValueError, match="scalar"):
        check_gradient(lambda z: z * 2, x)
    with pytest.raises(ValueError, match="step"):
        central_difference(torch.sin, 1.0, 0.0)
    with pytest.raises(ValueError, match="Unknown method"):
        numerical_gradient(lambda z: z.sum(), x, method="backward")
    with pytest.raises(ValueError, match="empty"):
        numerical_gradient(lambda z: z.sum(), torch.empty(0))
    with pytest.raises(ValueError, match="shape"):
        check_gradient(lambda z: z.sum(), x, torch.ones(2))
