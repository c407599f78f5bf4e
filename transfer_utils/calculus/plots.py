"""Plots for optimisation: a 2-D objective as contours with optimiser paths, and convergence curves.

Every helper takes ``ax=None`` (a new figure when None), returns the axes, and accepts tensors on
any device. No backend is chosen on import. Introduced in ``notebooks/02_gradient_descent``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes

from transfer_utils.core.plotting import get_ax, to_numpy

__all__ = ["grid_values", "plot_contour", "plot_path", "plot_contour_paths", "plot_convergence"]


def grid_values(
    f: Callable[[torch.Tensor], torch.Tensor],
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    n: int = 120,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate a function of a 2-vector on an ``n`` by ``n`` grid.

    Returns:
        ``(X, Y, Z)`` NumPy arrays of shape ``(n, n)`` for ``ax.contour``.

    Raises:
        ValueError: ``f`` does not return one number per point.
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}.")
    xs = torch.linspace(xlim[0], xlim[1], n, dtype=torch.float64)
    ys = torch.linspace(ylim[0], ylim[1], n, dtype=torch.float64)
    Xg, Yg = torch.meshgrid(xs, ys, indexing="xy")
    pts = torch.stack([Xg.reshape(-1), Yg.reshape(-1)], dim=1)
    with torch.no_grad():
        try:
            Z = torch.vmap(f)(pts)
        except Exception:  # functions that vmap cannot trace: evaluate point by point
            Z = torch.stack([torch.as_tensor(f(p)) for p in pts])
    if Z.numel() != pts.shape[0]:
        raise ValueError("f must return a scalar for each 2-D point to be drawn as contours.")
    return Xg.numpy(), Yg.numpy(), to_numpy(Z).reshape(n, n)


def plot_contour(
    f: Callable[[torch.Tensor], torch.Tensor],
    xlim: tuple[float, float] = (-2.0, 2.0),
    ylim: tuple[float, float] = (-2.0, 2.0),
    *,
    ax: Axes | None = None,
    levels: int | Sequence[float] = 30,
    log: bool = False,
    n: int = 120,
    title: str = "",
    xlabel: str = "$x_1$",
    ylabel: str = "$x_2$",
) -> Axes:
    """Contour lines of a function of two variables.

    Args:
        log: space the levels logarithmically above the grid minimum (for valleys like Rosenbrock).
    """
    ax = get_ax(ax)
    X, Y, Z = grid_values(f, xlim, ylim, n)
    if log and isinstance(levels, int):
        zmin = Z.min()
        shifted = Z - zmin + 1e-3
        levels = np.geomspace(shifted.min(), shifted.max(), levels) + zmin - 1e-3
    ax.contour(X, Y, Z, levels=levels, cmap="viridis", linewidths=0.8)
    ax.set(xlim=xlim, ylim=ylim, xlabel=xlabel, ylabel=ylabel, title=title)
    ax.set_aspect("equal", adjustable="box")
    return ax


def plot_path(xs: Any, *, ax: Axes | None = None, label: str | None = None, color: Any = None,
              marker: str = "o", markersize: float = 3.0, **kw: Any) -> Axes:
    """Draw an optimiser's path: the first two coordinates of ``xs`` (shape ``(k, d)``), start marked."""
    ax = get_ax(ax)
    P = to_numpy(xs)
    if P.ndim != 2 or P.shape[1] < 2:
        raise ValueError(f"xs must have shape (k, d) with d >= 2, got {P.shape}.")
    (line,) = ax.plot(P[:, 0], P[:, 1], marker=marker, markersize=markersize, lw=1.2,
                      label=label, color=color, **kw)
    ax.plot(P[0, 0], P[0, 1], marker="s", color=line.get_color(), markersize=6)
    ax.plot(P[-1, 0], P[-1, 1], marker="*", color=line.get_color(), markersize=10)
    return ax


def plot_contour_paths(
    f: Callable[[torch.Tensor], torch.Tensor],
    paths: Mapping[str, Any],
    xlim: tuple[float, float] = (-2.0, 2.0),
    ylim: tuple[float, float] = (-2.0, 2.0),
    *,
    ax: Axes | None = None,
    levels: int | Sequence[float] = 30,
    log: bool = False,
    title: str = "",
) -> Axes:
    """Contours of ``f`` with several labelled paths (name -> iterates or an ``OptResult``)."""
    ax = plot_contour(f, xlim, ylim, ax=ax, levels=levels, log=log, title=title)
    for name, p in paths.items():
        plot_path(getattr(p, "xs", p), ax=ax, label=name)
    if paths:
        ax.legend(loc="best", fontsize=8)
    return ax


def plot_convergence(
    curves: Mapping[str, Any],
    *,
    ax: Axes | None = None,
    ylabel: str = r"$f(x_k) - f^\star$",
    xlabel: str = "iteration $k$",
    title: str = "",
    logy: bool = True,
    x: Mapping[str, Any] | None = None,
) -> Axes:
    """Error (or gradient norm) against iteration, one curve per method, log scale by default.

    Args:
        curves: name -> sequence of non-negative values (zeros are dropped on a log axis).
        x: optional name -> x values (for example wall time in seconds) instead of the iteration.
    """
    if not curves:
        raise ValueError("plot_convergence needs at least one curve.")
    ax = get_ax(ax)
    for name, c in curves.items():
        y = to_numpy(c).astype(float).ravel()
        xs = np.arange(len(y)) if x is None else to_numpy(x[name]).astype(float).ravel()
        if len(xs) != len(y):
            raise ValueError(f"Curve {name!r} has {len(y)} values but {len(xs)} x values.")
        keep = y > 0 if logy else np.isfinite(y)
        ax.plot(xs[keep], y[keep], label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    return ax
