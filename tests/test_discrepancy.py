import math

import numpy as np
import pytest
import torch

from transfer_utils.adaptation.discrepancy import domain_classifier_error, proxy_a_distance


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def test_same_distribution_is_near_zero():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(4000, 5, generator=g)
    pads = [proxy_a_distance(X[:2000], X[2000:], seed=s) for s in range(3)]
    assert all(abs(p) < 0.15 for p in pads), pads


def test_separable_domains_give_two():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(500, 3, generator=g)
    assert proxy_a_distance(X, X + 10.0) == 2.0
    assert domain_classifier_error(X, X + 10.0) == 0.0


def test_matches_bayes_error_of_two_gaussians():
    """Unit Gaussians shifted by delta: the best linear rule errs Phi(-delta/2), a closed form."""
    rng = np.random.default_rng(1)
    delta = 1.0
    Xs = rng.standard_normal((6000, 1))
    Xt = rng.standard_normal((6000, 1)) + delta
    eps_bayes = _phi(-delta / 2)
    expected = 2 * (1 - 2 * eps_bayes)
    assert proxy_a_distance(Xs, Xt, seed=0) == pytest.approx(expected, abs=0.06)


def test_unequal_sizes_and_images_are_accepted():
    g = torch.Generator().manual_seed(2)
    Xs = torch.rand(300, 1, 4, 4, generator=g)
    Xt = torch.rand(120, 1, 4, 4, generator=g) * 0.5
    pad = proxy_a_distance(Xs, Xt, seed=0)
    assert 1.0 < pad <= 2.0
    assert pad == proxy_a_distance(Xs, Xt, seed=0)  # deterministic given the seed


def test_bad_input():
    X = torch.randn(10, 3)
    with pytest.raises(ValueError, match="same feature dimension"):
        proxy_a_distance(X, torch.randn(10, 4))
    with pytest.raises(ValueError, match="at least 4"):
        proxy_a_distance(X, torch.randn(2, 3))
    with pytest.raises(ValueError, match="NaN"):
        proxy_a_distance(X, torch.full((10, 3), float("nan")))
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        proxy_a_distance(torch.randn(10), X)
