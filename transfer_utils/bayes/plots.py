"""Plots for predictive uncertainty: GP bands in 1-D and reliability diagrams (notebooks 09, 10).

Each helper takes ``ax=None`` (a new figure when None), returns the axes and accepts tensors on any
device.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes

from transfer_utils.core.plotting import get_ax, to_numpy
from transfer_utils.bayes.metrics import reliability_curve

__all__ = ["plot_gp_band", "plot_reliability"]


def plot_gp_band(
    X: Any,
    mean: Any,
    var: Any,
    *,
    ax: Axes | None = None,
    X_train: Any = None,
    y_train: Any = None,
    level: float = 0.95,
    label: str = "posterior mean",
    color: str | None = None,
    xlabel: str = "x",
    ylabel: str = "y",
    title: str = "",
) -> Axes:
    """A 1-D predictive mean with its central ``level`` band :math:`\\mu \\pm z\\,s` and the data."""
    ax = get_ax(ax)
    x = to_numpy(X).reshape(-1)
    order = np.argsort(x)
    mu, sd = to_numpy(mean).reshape(-1)[order], np.sqrt(to_numpy(var).reshape(-1)[order])
    z = math.sqrt(2) * float(torch.erfinv(torch.tensor(level, dtype=torch.float64)))
    (line,) = ax.plot(x[order], mu, label=label, color=color)
    ax.fill_between(x[order], mu - z * sd, mu + z * sd, alpha=0.2, color=line.get_color(),
                    label=f"{int(round(100 * level))}% band")
    if X_train is not None and y_train is not None:
        ax.plot(to_numpy(X_train).reshape(-1), to_numpy(y_train).reshape(-1), "o", color="k",
                markersize=4, label="data")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend()
    return ax


def plot_reliability(
    probs: Any,
    y: Any,
    *,
    n_bins: int = 10,
    ax: Axes | None = None,
    label: str = "model",
    title: str = "Reliability diagram",
    **line_kw: Any,
) -> Axes:
    """Accuracy against confidence per bin, with the diagonal of perfect calibration."""
    ax = get_ax(ax)
    probs_t = torch.as_tensor(to_numpy(probs))
    y_t = torch.as_tensor(to_numpy(y))
    curve = reliability_curve(probs_t, y_t, n_bins)
    mask = (curve.count > 0).numpy()
    lo = 0.5 if probs_t.ndim == 1 else 0.0
    ax.plot([lo, 1], [lo, 1], "--", color="grey", linewidth=1, label="perfect calibration")
    ax.plot(curve.confidence.numpy()[mask], curve.accuracy.numpy()[mask], "o-", label=label, **line_kw)
    ax.set(xlabel="confidence (probability of the predicted class)", ylabel="accuracy",
           title=title)
    ax.legend()
    return ax
