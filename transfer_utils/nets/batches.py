"""Batches for the training loops: moved to a device, split into inputs and targets, scored.

:func:`to_device` moves a batch (a tensor, or a tuple, list or dict of them) in one place;
:func:`split_batch` and :func:`count_correct` are what :func:`transfer_utils.nets.training.fit` and
the domain-adaptation loop do with each batch, and :func:`check_loader` / :func:`check_training_parts`
refuse a loader, model, loss or optimizer of the wrong kind before the first batch, naming it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from transfer_utils.core.device import resolve_device

__all__ = ["to_device", "move_resolved", "autocast_dtype", "split_batch", "count_correct", "check_loader",
           "check_training_parts"]


def to_device(batch: Any, device: torch.device | str, non_blocking: bool | None = None) -> Any:
    """Move a batch (a tensor, or a tuple, list or dict of them) to ``device``.

    ``device`` is checked by :func:`~transfer_utils.core.device.resolve_device` (an unknown or
    absent device is a clear error). ``non_blocking`` defaults to True on CUDA, where a pinned host
    tensor then copies asynchronously while the GPU keeps working.
    """
    return move_resolved(batch, resolve_device(device), non_blocking)


def move_resolved(batch: Any, device: torch.device, non_blocking: bool | None = None) -> Any:
    """:func:`to_device` for a device already resolved (the training loop calls it once per batch)."""
    if non_blocking is None:
        non_blocking = device.type == "cuda"
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_resolved(b, device, non_blocking) for b in batch)
    if isinstance(batch, dict):
        return {k: move_resolved(v, device, non_blocking) for k, v in batch.items()}
    return batch


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The mixed-precision dtype used on ``device``: bfloat16 or float16 on CUDA, None elsewhere."""
    if resolve_device(device).type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def split_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(batch, (list, tuple)) or len(batch) < 2:
        raise ValueError(
            "fit/evaluate expect batches of (inputs, targets); got "
            f"{type(batch).__name__}. Wrap your data in a TensorDataset(X, y) or similar."
        )
    return batch[0], batch[1]


def count_correct(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    """Number of correct predictions for class logits, or None when accuracy does not apply."""
    if output.ndim == 2 and y.ndim == 1 and not torch.is_floating_point(y):
        return (output.argmax(dim=1) == y).sum()
    return None


def check_loader(loader: Iterable[Any], name: str) -> None:
    if isinstance(loader, Dataset):
        raise TypeError(f"{name} is a {type(loader).__name__} (a dataset, which yields single "
                        f"examples); pass a loader of batches instead, e.g. DataLoader(dataset, "
                        f"batch_size=64).")
    try:
        n = len(loader)  # type: ignore[arg-type]
    except TypeError:
        return
    if n == 0:
        raise ValueError(f"{name} is empty (0 batches). Check the dataset size and batch_size/drop_last.")


def check_training_parts(model: object, loss_fn: object, optimizer: object, *, training: bool) -> None:
    """Refuse a model, loss or optimizer of the wrong kind before the first batch, naming it.

    Training needs all three; an evaluation needs the model, and the loss only when one is given.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if (training or loss_fn is not None) and not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(output, y), got {type(loss_fn).__name__}; "
                        f"e.g. nn.CrossEntropyLoss().")
    if (training or optimizer is not None) and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}; "
                        f"e.g. torch.optim.Adam(model.parameters(), lr=1e-3).")
