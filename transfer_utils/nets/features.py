"""Frozen feature extraction: run a network once over a dataset and keep its outputs.

With the network frozen, the features :math:`z_i = \\phi(x_i)` of the training images never change,
so they are computed once (under ``torch.no_grad``, batched) and every probe, label budget and seed
reuses them. Optionally the result is cached on disk in :func:`~transfer_utils.core.paths.cache_dir`,
written atomically, under a key the caller chooses. Introduced in notebook 05; the
domain-adaptation notebooks (07, 08) pass a loader of ``(x, y)`` batches and get the labels too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from transfer_utils.core.atomic import atomic_path
from transfer_utils.core.device import resolve_device
from transfer_utils.core.paths import cache_dir
from transfer_utils.core.progress import progress_bar

__all__ = ["extract_features", "feature_cache_path"]

Features = torch.Tensor | dict[str, torch.Tensor]


def feature_cache_path(key: str):
    """The cache file for ``key`` (letters, digits, ``._-`` only) in ``cache_dir()/features``."""
    if not isinstance(key, str):
        raise TypeError(f"cache_key must be a string of letters, digits and ._- ; got "
                        f"{type(key).__name__} {key!r:.40}.")
    if not key or not re.fullmatch(r"[A-Za-z0-9._-]+", key):
        raise ValueError(f"cache_key must be a non-empty string of letters, digits and ._- ; got {key!r}.")
    return cache_dir() / "features" / f"{key}.pt"


def _forward(model: nn.Module | Callable[[torch.Tensor], Features], x: torch.Tensor,
             device: torch.device) -> Features:
    out = model(x.to(device))
    if isinstance(out, dict):
        return {k: v.detach().float().flatten(1).cpu() for k, v in out.items()}
    if out.ndim != 2:
        raise ValueError(f"The model returned shape {tuple(out.shape)}; expected (B, D). "
                         f"Pool or flatten its output first.")
    return out.detach().float().cpu()


def _concat(chunks: list[Features]) -> Features:
    if not chunks:
        raise ValueError("The loader yielded no batches.")
    if isinstance(chunks[0], dict):
        return {k: torch.cat([c[k] for c in chunks]) for k in chunks[0]}
    return torch.cat(chunks)


@torch.no_grad()
def extract_features(
    model: nn.Module | Callable[[torch.Tensor], Features],
    X: torch.Tensor | Iterable[Any],
    *,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "features",
    cache_key: str | None = None,
) -> Features | tuple[Features, torch.Tensor | None]:
    """Apply a frozen ``model`` to a tensor of inputs or to a loader, in batches; outputs on the CPU.

    .. math:: Z = [\\phi(x_1), \\dots, \\phi(x_N)]^\\top

    Args:
        model: maps a batch to a tensor ``(B, D)`` or to a dict of them (e.g.
            ``backbone.forward_stages``); an ``nn.Module`` is put in evaluation mode.
        X: the inputs, a tensor ``(N, ...)`` on any device (cut into batches of ``batch_size``),
            or a loader (any iterable) of batches ``x`` or ``(x, y, ...)``. Batches are moved to
            ``device``.
        batch_size: images per forward pass (for a tensor ``X``).
        device: where the model runs (the model must already be there); a name or a
            torch.device, checked by :func:`~transfer_utils.core.device.resolve_device`.
        progress: show a tqdm bar.
        cache_key: (tensor ``X`` only) when given, load the result from
            ``cache_dir()/features/<key>.pt`` if present (and of the right length), else compute
            and save it atomically. The key must name everything the features depend on
            (network, weights, image size, data subset).

    Returns:
        For a tensor ``X``: a float32 tensor ``(N, D)`` (or a dict of them) on the CPU. For a
        loader: ``(Z, y)``, the features and the concatenated labels (the second entry of every
        batch), or None for ``y`` when the batches carry none.

    Raises:
        ValueError: empty input, a bad batch size or cache key, a cache key with a loader, or a
            model output that is not ``(B, D)``.
    """
    device = resolve_device(device)
    if not callable(model):
        raise TypeError(f"model must be a network or a function of a batch, got {type(model).__name__}.")
    if isinstance(X, np.ndarray):
        raise TypeError("X is a NumPy array; pass a torch tensor (torch.as_tensor(X)) or a loader of "
                        "batches.")
    if isinstance(model, nn.Module):
        model.eval()
    if not isinstance(X, torch.Tensor):
        if cache_key is not None:
            raise ValueError("cache_key needs a tensor X; pass the inputs as a tensor to cache them.")
        chunks, labels = [], []
        for batch in progress_bar(X, desc=desc, unit="batch", leave=False, disable=not progress):
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            chunks.append(_forward(model, x, device))
            if isinstance(batch, (list, tuple)) and len(batch) > 1:
                labels.append(batch[1].cpu())
        return _concat(chunks), (torch.cat(labels) if labels else None)
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty batch (N, ...), got shape {tuple(X.shape)}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    path = feature_cache_path(cache_key) if cache_key is not None else None
    if path is not None and path.is_file():
        try:
            cached = torch.load(path, map_location="cpu", weights_only=True)
            first = next(iter(cached.values())) if isinstance(cached, dict) else cached
            if first.shape[0] == X.shape[0]:
                return cached
        except Exception:  # a truncated or foreign file: recompute and overwrite it
            pass
    starts = range(0, X.shape[0], batch_size)
    result = _concat([_forward(model, X[start:start + batch_size], device)
                      for start in progress_bar(starts, desc=desc, unit="batch", leave=False, disable=not progress)])
    if path is not None:
        with atomic_path(path) as tmp:
            torch.save(result, tmp)
    return result
