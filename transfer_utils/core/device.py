"""Pick the compute device: CUDA, then Apple MPS, then the CPU.

The choice can be overridden with the environment variable ``TL_DEVICE`` (for example
``TL_DEVICE=cpu`` or ``TL_DEVICE=cuda:1``) or by passing ``name``. Every notebook calls
:func:`get_device` once in its setup cell and passes the result around; nothing in the course
hard-codes ``.cuda()``.
"""

from __future__ import annotations

import os
import platform

import torch

__all__ = ["DEVICE_ENV", "get_device", "device_report"]

DEVICE_ENV = "TL_DEVICE"
_KINDS = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def get_device(name: str | None = None) -> torch.device:
    """Return the device to compute on.

    Order of precedence: ``name`` if given, else ``$TL_DEVICE``, else automatic
    (CUDA, then MPS, then CPU).

    Args:
        name: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` (case-insensitive).

    Returns:
        A :class:`torch.device` that exists on this machine.

    Raises:
        ValueError: the name is not one of the kinds above.
        RuntimeError: the requested device is not available here.
    """
    source = "argument"
    if name is None:
        name, source = os.environ.get(DEVICE_ENV, "auto"), f"${DEVICE_ENV}"
    spec = str(name).strip().lower()
    kind, _, index = spec.partition(":")
    if kind not in _KINDS or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(
            f"Unknown device {name!r} (from {source}). Use one of 'auto', 'cpu', 'cuda', "
            f"'cuda:N' or 'mps', e.g. `export {DEVICE_ENV}=cpu`."
        )
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"Device {name!r} was requested (from {source}) but CUDA is not available on this "
                f"machine. Use `{DEVICE_ENV}=auto` or `{DEVICE_ENV}=cpu`."
            )
        if index and int(index) >= torch.cuda.device_count():
            raise RuntimeError(
                f"Device {name!r} was requested but only {torch.cuda.device_count()} CUDA "
                f"device(s) exist (indices 0..{torch.cuda.device_count() - 1})."
            )
        return torch.device(spec)
    if kind == "mps" and not _mps_available():
        raise RuntimeError(
            f"Device 'mps' was requested (from {source}) but Apple MPS is not available here. "
            f"Use `{DEVICE_ENV}=auto` or `{DEVICE_ENV}=cpu`."
        )
    return torch.device(kind)


def _cpu_memory_gib() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return pages * size / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def device_report(device: torch.device | str | None = None) -> str:
    """One line that says which device was picked, its name and memory.

    Example: ``"Device: cpu (x86_64, 2 threads, 23.5 GiB RAM)"``.
    """
    device = get_device() if device is None else torch.device(device)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"Device: {device} ({props.name}, {props.total_memory / 2**30:.1f} GiB)"
    if device.type == "mps":
        return f"Device: mps (Apple {platform.machine()}, unified memory)"
    mem = _cpu_memory_gib()
    mem_s = f", {mem:.1f} GiB RAM" if mem is not None else ""
    return f"Device: cpu ({platform.machine()}, {torch.get_num_threads()} threads{mem_s})"
