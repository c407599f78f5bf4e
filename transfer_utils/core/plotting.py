"""Plotting helpers with one consistent style.

Every helper takes ``ax=None`` (a new figure is made when it is None), returns the axes, and
accepts tensors on any device (they are moved to the CPU here). No backend is chosen on import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

__all__ = ["COURSE_STYLE", "use_course_style", "to_numpy", "get_ax", "plot_curves", "plot_history"]

COURSE_STYLE: dict[str, Any] = {
    "figure.figsize": (6.0, 4.0),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.frameon": False,
    "lines.linewidth": 2.0,
    "image.cmap": "viridis",
}


def use_course_style() -> None:
    """Apply the course's matplotlib style (call once in a setup cell)."""
    plt.rcParams.update(COURSE_STYLE)


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy array from a tensor on any device (detached), an array, a list or a number."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", dtype=torch.float64 if x.is_floating_point() else None).numpy()
    return np.asarray(x)


def get_ax(ax: Axes | None = None, **subplots_kw: Any) -> Axes:
    """Return ``ax`` or, when it is None, the axes of a new figure."""
    if ax is None:
        _, ax = plt.subplots(**subplots_kw)
    return ax


def plot_curves(
    curves: Mapping[str, Any],
    x: Any = None,
    *,
    ax: Axes | None = None,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    logx: bool = False,
    logy: bool = False,
    **line_kw: Any,
) -> Axes:
    """Plot several named curves on one axes.

    Args:
        curves: label -> y values (sequence, array or tensor).
        x: shared x values; defaults to 1..n for each curve.
    """
    if not curves:
        raise ValueError("plot_curves needs at least one curve.")
    ax = get_ax(ax)
    for label, y in curves.items():
        y = to_numpy(y).ravel()
        xs = np.arange(1, len(y) + 1) if x is None else to_numpy(x).ravel()
        if len(xs) != len(y):
            raise ValueError(f"Curve {label!r} has {len(y)} points but x has {len(xs)}.")
        ax.plot(xs, y, label=label, **line_kw)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.legend()
    return ax


def plot_history(
    history: Mapping[str, Sequence[float]],
    keys: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    title: str = "",
) -> Axes:
    """Plot a :func:`transfer_utils.nets.training.fit` history against the epoch.

    ``keys`` defaults to every ``*_loss`` entry (or every ``*_acc`` entry if ``keys="acc"``).
    """
    if keys is None or keys == "loss":
        keys = [k for k in history if k.endswith("_loss")]
    elif keys == "acc":
        keys = [k for k in history if k.endswith("_acc")]
    if not keys:
        raise ValueError(f"history has no entries to plot for keys={keys!r} (no '*_loss' or '*_acc' "
                         f"entries); it has {sorted(history)}. Pass keys=[...] explicitly.")
    missing = [k for k in keys if k not in history]
    if missing:
        raise KeyError(f"History has no {missing}; it has {sorted(history)}.")
    epochs = history.get("epoch") or list(range(1, len(history[keys[0]]) + 1))
    ylabel = "accuracy" if all(k.endswith("_acc") for k in keys) else "loss"
    return plot_curves({k: history[k] for k in keys}, epochs, ax=ax, xlabel="epoch",
                       ylabel=ylabel, title=title, marker="o")
