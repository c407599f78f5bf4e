"""Save and load model checkpoints atomically and safely.

A checkpoint is a plain dictionary of tensors and primitive values, written to a temporary file
and renamed into place (:func:`transfer_utils.core.atomic.atomic_path`), and read back with
``torch.load(..., weights_only=True)`` so that loading never runs pickled code.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from transfer_utils.core.atomic import atomic_path

__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "save_checkpoint", "load_checkpoint"]

CHECKPOINT_FORMAT = "transfer_utils.core.checkpoint/1"


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used: corrupted, truncated, or written for another model."""


def _model_class(model: nn.Module) -> str:
    return f"{type(model).__module__}.{type(model).__qualname__}"


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    **extra: Any,
) -> Path:
    """Write ``model`` (and optionally ``optimizer``) to ``path`` atomically.

    Args:
        path: the file to write; parent directories are created.
        model: the module whose ``state_dict`` is saved (moved to the CPU).
        optimizer: optional optimizer whose state is saved too.
        **extra: small metadata (epoch, history, a version string); tensors, numbers, strings,
            lists and dicts only, so that ``weights_only=True`` can read it back.

    Returns:
        The path written.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"save_checkpoint needs an nn.Module, got {type(model).__name__}.")
    state = {
        "format": CHECKPOINT_FORMAT,
        "model_class": _model_class(model),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "extra": extra,
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    Returns:
        The ``extra`` metadata that was saved with it.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is truncated or corrupted, is not a course checkpoint, or was
            written for a different model (class, parameter names or shapes differ).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}. Train the model first, or check the path.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(
            f"Checkpoint {path} is corrupted or truncated ({type(err).__name__}: {err}). "
            f"Delete it and run again to recreate it."
        ) from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a checkpoint written by transfer_utils.save_checkpoint "
            f"(expected format {CHECKPOINT_FORMAT!r}). Delete it and run again."
        )
    expected = _model_class(model)
    if state["model_class"] != expected:
        raise CheckpointError(
            f"Checkpoint {path} holds a {state['model_class']}, not a {expected}. "
            f"Load it into the model it was saved from, or delete it to retrain."
        )
    own = model.state_dict()
    saved = state["state_dict"]
    missing = sorted(set(own) - set(saved))
    unexpected = sorted(set(saved) - set(own))
    shapes = [k for k in set(own) & set(saved) if tuple(own[k].shape) != tuple(saved[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}")
        if shapes:
            k = sorted(shapes)[0]
            parts.append(f"shape of {k!r} is {tuple(saved[k].shape)}, model has {tuple(own[k].shape)}")
        raise CheckpointError(
            f"Checkpoint {path} was written for a differently shaped {expected} ("
            + "; ".join(parts)
            + "). Delete it to retrain, or build the model with the same arguments."
        )
    model.load_state_dict(saved)
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    return dict(state.get("extra") or {})
