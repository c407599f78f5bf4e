"""Uncertainty metrics against closed forms and scipy."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from transfer_utils.bayes.metrics import (
    bernoulli_nll,
    expected_calibration_error,
    gaussian_nlpd,
    interval_coverage,
    reliability_curve,
    rmse,
)


def test_rmse_and_nlpd_against_scipy():
    g = torch.Generator().manual_seed(0)
    y, mu = torch.randn(50, generator=g, dtype=torch.float64), torch.randn(50, generator=g, dtype=torch.float64)
    var = torch.rand(50, generator=g, dtype=torch.float64) + 0.1
    assert abs(rmse(y, mu) - math.sqrt(np.mean((y - mu).numpy() ** 2))) < 1e-12
    ref = -np.mean(stats.norm(mu.numpy(), np.sqrt(var.numpy())).logpdf(y.numpy()))
    assert abs(gaussian_nlpd(y, mu, var) - ref) < 1e-12


def test_coverage_of_calibrated_gaussian():
    g = torch.Generator().manual_seed(1)
    n = 200_000
    mu = torch.zeros(n, dtype=torch.float64)
    y = 2.0 * torch.randn(n, generator=g, dtype=torch.float64)
    var = torch.full((n,), 4.0, dtype=torch.float64)
    for level in (0.5, 0.9, 0.95):
        assert abs(interval_coverage(y, mu, var, level) - level) < 0.005
    assert interval_coverage(y, mu, var / 4, 0.95) < 0.75  # overconfident -> undercovers


def test_ece_hand_example_and_perfect_calibration():
    probs = torch.tensor([0.9, 0.9, 0.25, 0.6], dtype=torch.float64)  # confidences 0.9, 0.9, 0.75, 0.6
    y = torch.tensor([1, 0, 0, 1])  # correct: 1, 0, 1, 1
    # bins (0.8, 0.9]: two points, accuracy 0.5; (0.7, 0.8]: one, accuracy 1; (0.5, 0.6]: one, accuracy 1
    expected = (2 / 4) * abs(0.5 - 0.9) + (1 / 4) * abs(1 - 0.75) + (1 / 4) * abs(1 - 0.6)
    assert abs(expected_calibration_error(probs, y, n_bins=10) - expected) < 1e-12
    g = torch.Generator().manual_seed(2)
    p = torch.rand(200_000, generator=g, dtype=torch.float64)
    y = (torch.rand(200_000, generator=g, dtype=torch.float64) < p).long()
    assert expected_calibration_error(p, y) < 0.01
    curve = reliability_curve(p, y)
    assert int(curve.count.sum()) == len(p)


def test_multiclass_ece_and_nll():
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype=torch.float64)
    y = torch.tensor([0, 1])
    assert abs(expected_calibration_error(probs, y) - 0.5 * 0.3 - 0.5 * 0.8) < 1e-12
    p = torch.tensor([0.8, 0.3], dtype=torch.float64)
    assert abs(bernoulli_nll(p, torch.tensor([1, 0])) - (-(math.log(0.8) + math.log(0.7)) / 2)) < 1e-12


def test_bad_inputs():
    with pytest.raises(ValueError, match="positive"):
        gaussian_nlpd(torch.zeros(3), torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="one length"):
        rmse(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="logits"):
        expected_calibration_error(torch.tensor([1.5, -0.2]), torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="level"):
        interval_coverage(torch.zeros(2), torch.zeros(2), torch.ones(2), level=1.5)


def test_plots_return_axes():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from transfer_utils.bayes.plots import plot_gp_band, plot_reliability

    x = torch.linspace(0, 1, 20)
    ax = plot_gp_band(x, torch.sin(x), torch.full((20,), 0.01), X_train=x[:5], y_train=torch.sin(x[:5]))
    assert len(ax.lines) >= 2
    p = torch.rand(100, dtype=torch.float64)
    ax2 = plot_reliability(p, (p > 0.5).long())
    assert ax2.get_xlabel().startswith("confidence")
    plt.close("all")
