"""Plots for domain adaptation: a 2-D embedding of both domains' features, decision boundaries.

Every helper takes ``ax=None`` (a new figure when None), returns the axes, and accepts tensors on
any device. Introduced in notebooks 07 and 08.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

from transfer_utils.core.device import resolve_device
from transfer_utils.core.plotting import get_ax, to_numpy

__all__ = ["embed_2d", "plot_domain_embedding", "plot_embedding_before_after",
           "plot_decision_boundary"]

DOMAIN_COLOURS = {"source": "tab:blue", "target": "tab:orange"}
CLASS_MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*", "<", ">")


def _subsample(F: np.ndarray, y: np.ndarray | None, max_points: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray | None]:
    if len(F) <= max_points:
        return F, y
    idx = rng.choice(len(F), max_points, replace=False)
    return F[idx], (None if y is None else y[idx])


def embed_2d(F_src: torch.Tensor | np.ndarray, F_tgt: torch.Tensor | np.ndarray, *,
             method: str = "pca", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Embed both domains jointly in 2-D (one map for both, so distances stay comparable).

    Args:
        method: ``"pca"`` (linear, instant) or ``"tsne"`` (scikit-learn's t-SNE, slower).

    Returns:
        ``(E_src, E_tgt)`` of shapes (n_s, 2) and (n_t, 2).
    """
    A, B = to_numpy(F_src).reshape(len(F_src), -1), to_numpy(F_tgt).reshape(len(F_tgt), -1)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"Source and target features differ in size: {A.shape[1]} vs {B.shape[1]}.")
    if len(A) == 0 or len(B) == 0:
        raise ValueError("Both domains need at least one point to embed.")
    Z = np.concatenate([A, B])
    if method == "pca":
        Zc = Z - Z.mean(0)
        _, _, Vt = np.linalg.svd(Zc, full_matrices=False)
        E = Zc @ Vt[:2].T if Vt.shape[0] >= 2 else np.c_[Zc @ Vt[:1].T, np.zeros(len(Z))]
    elif method == "tsne":
        from sklearn.manifold import TSNE

        E = TSNE(n_components=2, init="pca", random_state=seed,
                 perplexity=min(30.0, max(2.0, (len(Z) - 1) / 3))).fit_transform(Z)
    else:
        raise ValueError(f"Unknown method {method!r}; use 'pca' or 'tsne'.")
    return E[: len(A)], E[len(A):]


def plot_domain_embedding(
    F_src: torch.Tensor | np.ndarray,
    F_tgt: torch.Tensor | np.ndarray,
    y_src: torch.Tensor | np.ndarray | None = None,
    y_tgt: torch.Tensor | np.ndarray | None = None,
    *,
    method: str = "pca",
    max_points: int = 1000,
    ax: Axes | None = None,
    title: str = "",
    seed: int = 0,
) -> Axes:
    """Scatter a joint 2-D embedding: colour = domain, marker = class (first 10 classes).

    Args:
        F_src, F_tgt: features (n, d) of the two domains.
        y_src, y_tgt: optional class labels (for markers only).
        method: ``"pca"`` or ``"tsne"`` (see :func:`embed_2d`).
        max_points: at most this many points per domain are drawn (a fixed random subset).
    """
    rng = np.random.default_rng(seed)
    A, ya = _subsample(to_numpy(F_src).reshape(len(F_src), -1),
                       None if y_src is None else to_numpy(y_src), max_points, rng)
    B, yb = _subsample(to_numpy(F_tgt).reshape(len(F_tgt), -1),
                       None if y_tgt is None else to_numpy(y_tgt), max_points, rng)
    E_s, E_t = embed_2d(A, B, method=method, seed=seed)
    ax = get_ax(ax)
    for E, y, name in ((E_s, ya, "source"), (E_t, yb, "target")):
        if y is None:
            ax.scatter(E[:, 0], E[:, 1], s=6, alpha=0.5, c=DOMAIN_COLOURS[name], label=name)
            continue
        for k, c in enumerate(np.unique(y)[: len(CLASS_MARKERS)]):
            m = y == c
            ax.scatter(E[m, 0], E[m, 1], s=8, alpha=0.5, c=DOMAIN_COLOURS[name],
                       marker=CLASS_MARKERS[k], label=name if k == 0 else None)
    ax.set(xlabel=f"{method.upper()} 1", ylabel=f"{method.upper()} 2", title=title)
    ax.legend(loc="best", markerscale=2)
    return ax


def plot_embedding_before_after(
    before: tuple, after: tuple, *, method: str = "pca", axes: np.ndarray | None = None,
    max_points: int = 1000, titles: tuple[str, str] = ("before adaptation", "after adaptation"),
) -> np.ndarray:
    """Two panels of :func:`plot_domain_embedding`: ``before`` and ``after`` are tuples
    ``(F_src, F_tgt)`` or ``(F_src, F_tgt, y_src, y_tgt)``. Returns the array of two axes."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, feats, title in zip(axes, (before, after), titles):
        if len(feats) not in (2, 4):
            raise ValueError("before/after must be (F_src, F_tgt) or (F_src, F_tgt, y_src, y_tgt).")
        plot_domain_embedding(*feats, method=method, max_points=max_points, ax=ax, title=title)
    return axes


@torch.no_grad()
def plot_decision_boundary(
    predict: Callable[[torch.Tensor], torch.Tensor],
    X_src: torch.Tensor,
    y_src: torch.Tensor,
    X_tgt: torch.Tensor | None = None,
    y_tgt: torch.Tensor | None = None,
    *,
    ax: Axes | None = None,
    grid_size: int = 200,
    device: torch.device | str = "cpu",
    title: str = "",
    margin: float = 0.5,
) -> Axes:
    """Shade the class a 2-D classifier predicts over the plane; overlay both domains' points.

    Args:
        predict: maps points (N, 2) to logits (N, K) (a model, or ``lambda X: C(G(X))``); it is
            called in no-grad mode on ``device``.
        X_src, y_src: source points (n, 2) and labels (drawn as circles).
        X_tgt, y_tgt: optional target points (drawn as crosses, coloured by true label).
        grid_size: grid points per axis.
        device: where the grid points are made (checked by
            :func:`~transfer_utils.core.device.resolve_device`).
    """
    pts = [to_numpy(X_src)] + ([to_numpy(X_tgt)] if X_tgt is not None else [])
    P = np.concatenate(pts)
    if P.ndim != 2 or P.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points of shape (n, 2), got {P.shape}.")
    lo, hi = P.min(0) - margin, P.max(0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], grid_size), np.linspace(lo[1], hi[1], grid_size))
    grid = torch.tensor(np.c_[xx.ravel(), yy.ravel()], dtype=torch.float32,
                        device=resolve_device(device))
    was_training = getattr(predict, "training", None)
    if was_training:
        predict.eval()  # type: ignore[union-attr]
    logits = predict(grid)
    if was_training:
        predict.train()  # type: ignore[union-attr]
    Z = to_numpy(logits.argmax(1)).reshape(xx.shape)
    ax = get_ax(ax)
    n_cls = int(max(Z.max(), to_numpy(y_src).max())) + 1
    ax.contourf(xx, yy, Z, levels=np.arange(n_cls + 1) - 0.5, cmap="coolwarm", alpha=0.25)
    ax.contour(xx, yy, Z, levels=np.arange(n_cls) + 0.5, colors="k", linewidths=1)
    Xs, ys = to_numpy(X_src), to_numpy(y_src)
    ax.scatter(Xs[:, 0], Xs[:, 1], c=ys, cmap="coolwarm", s=10, alpha=0.6, vmin=0,
               vmax=max(n_cls - 1, 1), label="source", edgecolors="none")
    if X_tgt is not None:
        Xt = to_numpy(X_tgt)
        colours = to_numpy(y_tgt) if y_tgt is not None else "k"
        ax.scatter(Xt[:, 0], Xt[:, 1], c=colours, cmap="coolwarm", s=14, marker="x", alpha=0.7,
                   vmin=0, vmax=max(n_cls - 1, 1), label="target")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title)
    ax.legend(loc="lower right")
    return ax
