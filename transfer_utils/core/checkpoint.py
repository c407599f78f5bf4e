"""Save and load model checkpoints atomically and safely.

A checkpoint is a plain dictionary of tensors and primitive values, written to a temporary file
and renamed into place (:func:`transfer_utils.core.atomic.atomic_path`), and read back with
``torch.load(..., weights_only=True)`` so that loading never runs pickled code.

Because of that, :func:`save_checkpoint` accepts as metadata only what ``weights_only=True`` reads
back: ``None``, ``bool``, ``int``, ``float``, ``str``, tensors, and lists, tuples and dicts of
them. Anything else (a NumPy number, an arbitrary object) is refused *before* the file is written,
with the conversion to make. When loading fails, :func:`load_checkpoint` names the real cause:

* a device that this machine lacks (``map_location``): refused before reading, with the devices
  available (:func:`transfer_utils.core.device.resolve_device`);
* content that is not weights (a pickled object or function, e.g. a malicious file): refused,
  :class:`UnsafeCheckpointError`, naming what the file holds; it is never loaded;
* a truncated or corrupted file: :class:`CheckpointError`, delete it and run again.
"""

from __future__ import annotations

import os
import pickle
import pickletools
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from transfer_utils.core.atomic import atomic_path
from transfer_utils.core.device import resolve_device
from transfer_utils.core.paths import as_path

__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "UnsafeCheckpointError", "save_checkpoint",
           "load_checkpoint"]

CHECKPOINT_FORMAT = "transfer_utils.core.checkpoint/1"
_PLAIN = (type(None), bool, int, float, str)  # exact types: np.float64 subclasses float
_MAX_DEPTH = 50


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used: corrupted, truncated, or written for another model."""


class UnsafeCheckpointError(CheckpointError):
    """The file holds pickled objects that are not weights; it is refused, never loaded."""


def _model_class(model: nn.Module) -> str:
    return f"{type(model).__module__}.{type(model).__qualname__}"


def _check_metadata(value: Any, where: str, depth: int = 0) -> None:
    """Refuse ``value`` unless ``torch.load(weights_only=True)`` can read it back unchanged."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"save_checkpoint: metadata {where} is nested more than {_MAX_DEPTH} "
                         f"levels deep (a list or dict that contains itself?).")
    kind = type(value)
    if kind in _PLAIN or kind is torch.Tensor or kind is nn.Parameter:
        return
    if kind in (list, tuple):
        for i, item in enumerate(value):
            _check_metadata(item, f"{where}[{i}]", depth + 1)
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) not in _PLAIN:
                raise TypeError(f"save_checkpoint: metadata {where} has a key of type "
                                f"{type(key).__name__} ({key!r:.40}); use str or int keys.")
            _check_metadata(item, f"{where}[{key!r}]", depth + 1)
        return
    name = f"{kind.__module__}.{kind.__qualname__}"
    if kind.__module__ == "numpy":
        fix = ("convert it with int(...), float(...) or bool(...) for a NumPy number, or "
               "torch.as_tensor(...) / .tolist() for an array")
    else:
        fix = ("store plain values instead (int(...), float(...), str(...), a tensor, or a "
               "list/dict of them), e.g. the object's numbers or its name")
    raise TypeError(
        f"save_checkpoint: metadata {where} is a {name} ({value!r:.60}), which load_checkpoint "
        f"could not read back (it loads only tensors and plain Python values, so that loading "
        f"never runs code). Nothing was written; {fix}."
    )


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
        **extra: small metadata (epoch, history, a version string): ``None``, ``bool``, ``int``,
            ``float``, ``str``, tensors, and lists, tuples and dicts of them, so that
            ``weights_only=True`` can read it back.

    Returns:
        The path written.

    Raises:
        TypeError: ``model`` or ``optimizer`` of the wrong type, or metadata of a type that could
            not be loaded back (checked before anything is written; the message says how to
            convert it).
        IsADirectoryError, NotADirectoryError, PermissionError: ``path`` is a folder, a folder on
            the way is a file, or the folder cannot be written.
    """
    path = as_path(path, "path")
    if not isinstance(model, nn.Module):
        raise TypeError(f"save_checkpoint needs an nn.Module as model, got {type(model).__name__}.")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got "
                        f"{type(optimizer).__name__}.")
    for key, value in extra.items():
        _check_metadata(value, repr(key))
    state = {
        "format": CHECKPOINT_FORMAT,
        "model_class": _model_class(model),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "extra": extra,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def _torch_detail(err: BaseException) -> str:
    """torch's message without its advice on ``weights_only`` (which must never be followed here)."""
    lines = [ln.strip() for ln in str(err).splitlines()]
    kept = [ln for ln in lines if ln and "weights_only" not in ln and "torch.load" not in ln]
    text = " ".join(kept)
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _pickled_globals(path: Path, limit: int = 100_000) -> list[str]:
    """The classes and functions a plain (non-zip) pickle file refers to, read without running it.

    Returns an empty list for a zip archive, a file that is not a complete, well-formed pickle
    (garbage or a truncated file: its "opcodes" mean nothing), or a pickle of builtin values only.
    """
    if zipfile.is_zipfile(path):
        return []
    found: list[str] = []
    strings: list[str] = []
    try:
        with open(path, "rb") as fh:
            for n, (op, arg, _pos) in enumerate(pickletools.genops(fh)):
                if n > limit:
                    break
                if isinstance(arg, str) and "UNICODE" in op.name:
                    strings = (strings + [arg])[-2:]
                elif op.name == "GLOBAL" and isinstance(arg, str):
                    found.append(arg.replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) == 2:
                    found.append(".".join(strings))
    except Exception:  # not a pickle, or a truncated one: nothing can be said from its opcodes
        return []
    return found


def _untrusted_content(path: Path, err: BaseException) -> str | None:
    """What a file that ``weights_only=True`` refused holds when it is not weights, else None."""
    message = str(err)
    match = re.search(r"GLOBAL (\S+)", message)
    if match:
        return match.group(1)
    for marker in ("unrecognized function", "Can only create new object", "Can only build"):
        if marker in message:
            return "an object that is not a tensor"
    refs = _pickled_globals(path)
    return ", ".join(dict.fromkeys(refs[:3])) if refs else None


def _unsafe_error(path: Path, what: str) -> UnsafeCheckpointError:
    hint = ""
    if what.startswith("numpy"):
        hint = (" If you wrote this file yourself with metadata holding NumPy values, save it again "
                "with plain Python values (int(...), float(...)); save_checkpoint now refuses them.")
    return UnsafeCheckpointError(
        f"Checkpoint {path} holds objects that are not weights ({what}), so it will not be loaded: "
        f"unpickling them could run arbitrary code. Use only checkpoints written by "
        f"transfer_utils.core.checkpoint.save_checkpoint from a source you trust; delete this file "
        f"if you do not know where it came from.{hint}"
    )


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device | None = "cpu",
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    Args:
        path: the checkpoint file.
        model: receives the saved weights (same class and shapes as the saved one).
        optimizer: receives the saved optimizer state, when there is one.
        map_location: the device the tensors are read onto: a name or a :class:`torch.device`,
            checked like :func:`~transfer_utils.core.device.get_device` (None means
            ``get_device()``).

    Returns:
        The ``extra`` metadata that was saved with it.

    Raises:
        FileNotFoundError: no file at ``path``. IsADirectoryError: ``path`` is a folder.
        TypeError: ``model``/``optimizer`` of the wrong type.
        ValueError, DeviceUnavailableError: ``map_location`` is unknown or absent on this machine
            (the message lists the devices available).
        UnsafeCheckpointError: the file holds pickled objects that are not weights; not loaded.
        CheckpointError: the file is truncated or corrupted, is not a course checkpoint, or was
            written for a different model (class, parameter names or shapes differ).
    """
    path = as_path(path, "path")
    if not isinstance(model, nn.Module):
        raise TypeError(f"load_checkpoint needs an nn.Module as model, got {type(model).__name__}.")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got "
                        f"{type(optimizer).__name__}.")
    location = resolve_device(map_location, argument="map_location")
    if path.is_dir():
        raise IsADirectoryError(f"The checkpoint path {path} is a folder; give the checkpoint file "
                                f"inside it.")
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}. Train the model first, or check the path.")
    try:
        state = torch.load(path, map_location=location, weights_only=True)
    except PermissionError as err:
        raise PermissionError(f"Cannot read the checkpoint {path} ({err.strerror}); check its "
                              f"permissions.") from None
    except pickle.UnpicklingError as err:
        what = _untrusted_content(path, err)
        if what is not None:
            raise _unsafe_error(path, what) from None
        raise _corrupted(path, err) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        if "TorchScript" in str(err):
            raise CheckpointError(
                f"{path} is a TorchScript archive (a saved program), not a checkpoint of weights; "
                f"it is not loaded here. Load a file written by save_checkpoint instead."
            ) from None
        raise _corrupted(path, err) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a checkpoint written by transfer_utils.save_checkpoint "
            f"(expected format {CHECKPOINT_FORMAT!r}). Delete it and run again."
        )
    _check_fits(path, state, model)
    model.load_state_dict(state["state_dict"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    return dict(state.get("extra") or {})


def _corrupted(path: Path, err: BaseException) -> CheckpointError:
    return CheckpointError(
        f"Checkpoint {path} is corrupted or truncated ({_torch_detail(err)}). "
        f"Delete it and run again to recreate it."
    )


def _check_fits(path: Path, state: dict[str, Any], model: nn.Module) -> None:
    """Refuse a checkpoint written for another class of model, or for other shapes."""
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
