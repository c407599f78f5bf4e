"""Tests for transfer_utils.crossmodal.infonce: the symmetric InfoNCE loss against a loop over pairs,
its hand-derived gradient against autograd and finite differences, and hand cases."""

from __future__ import annotations

import math

import pytest
import torch

from tests.badinput import expect_clear_error
from transfer_utils.crossmodal.infonce import (infonce_grad, similarity, symmetric_infonce,
                                               symmetric_infonce_from_similarity)


def _loop_loss(u: torch.Tensor, v: torch.Tensor, tau: float) -> float:
    """The loss written pair by pair from its definition, in plain Python floats."""
    n = u.shape[0]
    uu = [u[i] / u[i].norm() for i in range(n)]
    vv = [v[j] / v[j].norm() for j in range(n)]
    s = [[float(uu[i] @ vv[j]) for j in range(n)] for i in range(n)]
    image_to_text = sum(-math.log(math.exp(s[i][i] / tau) / sum(math.exp(s[i][k] / tau) for k in range(n)))
                        for i in range(n))
    text_to_image = sum(-math.log(math.exp(s[i][i] / tau) / sum(math.exp(s[k][i] / tau) for k in range(n)))
                        for i in range(n))
    return (image_to_text + text_to_image) / (2 * n)


@pytest.mark.parametrize("tau", [0.05, 0.3, 2.0])
def test_loss_matches_a_loop_over_pairs(tau: float) -> None:
    g = torch.Generator().manual_seed(3)
    u, v = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.randn(6, 5, generator=g, dtype=torch.float64)
    assert float(symmetric_infonce(u, v, math.log(tau))) == pytest.approx(_loop_loss(u, v, tau), rel=1e-12)


def test_uniform_similarities_give_log_n() -> None:
    for n in (2, 7, 30):
        S = torch.full((n, n), 0.3, dtype=torch.float64)
        assert float(symmetric_infonce_from_similarity(S, math.log(0.1))) == pytest.approx(math.log(n), rel=1e-12)
    same = torch.ones(5, 3, dtype=torch.float64)  # every embedding equal: chance
    assert float(symmetric_infonce(same, same, 0.0)) == pytest.approx(math.log(5), rel=1e-12)


def test_perfectly_aligned_pairs() -> None:
    n, tau = 6, 0.2
    E = torch.eye(n, dtype=torch.float64)  # orthonormal, u_i = v_i: S = I
    expected = math.log(1 + (n - 1) * math.exp(-1 / tau))
    assert float(symmetric_infonce(E, 3 * E, math.log(tau))) == pytest.approx(expected, rel=1e-12)
    assert float(symmetric_infonce(E, E, math.log(0.01))) < 1e-30
    # swapping two texts makes two pairs wrong: the loss rises far above chance
    swapped = E[[1, 0, 2, 3, 4, 5]]
    assert float(symmetric_infonce(E, swapped, math.log(0.05))) > math.log(n)


def _random_S(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return similarity(torch.randn(n, 4, generator=g, dtype=torch.float64),
                      torch.randn(n, 4, generator=g, dtype=torch.float64))


@pytest.mark.parametrize("n, tau", [(2, 1.0), (5, 0.1), (9, 0.5)])
def test_gradient_matches_autograd(n: int, tau: float) -> None:
    S = _random_S(n, n).requires_grad_(True)
    log_tau = torch.tensor(math.log(tau), dtype=torch.float64, requires_grad=True)
    dS, dlog = torch.autograd.grad(symmetric_infonce_from_similarity(S, log_tau), (S, log_tau))
    G, g = infonce_grad(S, log_tau)
    torch.testing.assert_close(G, dS, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(g, dlog, rtol=1e-12, atol=1e-14)


def test_gradient_matches_finite_differences() -> None:
    S, log_tau, h = _random_S(4, 11), math.log(0.3), 1e-6
    G, g = infonce_grad(S, log_tau)

    def loss(S_: torch.Tensor, lt: float) -> float:
        return float(symmetric_infonce_from_similarity(S_, lt))

    for i, j in [(0, 0), (1, 3), (3, 2)]:
        E = torch.zeros_like(S)
        E[i, j] = h
        fd = (loss(S + E, log_tau) - loss(S - E, log_tau)) / (2 * h)
        assert float(G[i, j]) == pytest.approx(fd, rel=1e-6, abs=1e-9)
    fd_tau = (loss(S, log_tau + h) - loss(S, log_tau - h)) / (2 * h)
    assert float(g) == pytest.approx(fd_tau, rel=1e-6)


def test_gradient_closed_forms() -> None:
    # the rows of dL/dS sum to zero for the row softmax part and the columns for the column part,
    # so the whole matrix sums to zero; and at uniform similarities dL/dlog(tau) = 0
    S = _random_S(6, 2)
    G, _ = infonce_grad(S, math.log(0.2))
    assert abs(float(G.sum())) < 1e-14
    _, g = infonce_grad(torch.full((4, 4), 0.5, dtype=torch.float64), math.log(0.2))
    assert abs(float(g)) < 1e-14
    # positives above the rest: a lower temperature lowers the loss, so dL/dlog(tau) > 0
    _, g = infonce_grad(torch.eye(4, dtype=torch.float64), 0.0)
    assert float(g) > 0


def test_bad_inputs_are_refused_clearly() -> None:
    u = torch.randn(4, 3)
    expect_clear_error(lambda: symmetric_infonce(u, torch.randn(5, 3), 0.0), "pairs")
    expect_clear_error(lambda: symmetric_infonce(u[:1], u[:1], 0.0), "at least 2")
    expect_clear_error(lambda: symmetric_infonce(u, u.double(), 0.0), "dtype")
    expect_clear_error(lambda: symmetric_infonce(u, u, float("nan")), "log_tau")
    expect_clear_error(lambda: symmetric_infonce_from_similarity(torch.randn(3, 4), 0.0), "square")
    bad = u.clone()
    bad[0, 0] = float("inf")
    expect_clear_error(lambda: symmetric_infonce(bad, u, 0.0), "u")
    expect_clear_error(lambda: infonce_grad(torch.randn(3, 2), 0.0), "square")
