"""Pick the compute device: CUDA, then Apple MPS, then the CPU.

The choice can be overridden with the environment variable ``TL_DEVICE`` (for example
``TL_DEVICE=cpu`` or ``TL_DEVICE=cuda:1``) or by passing ``name``. Every notebook calls
:func:`get_device` once in its setup cell and passes the result around; nothing in the course
hard-codes ``.cuda()``.

Every public helper of the course that takes a ``device`` argument passes it through
:func:`resolve_device` first: the same check as :func:`get_device` (one implementation), so that
``device="cuda"`` on a machine without a GPU, or a misspelt name such as ``"gpu0"``, fails at once
with a message that names the argument and the devices this machine has, never with a raw driver
error from inside torch. A :class:`torch.device` is accepted wherever a name is.
"""

from __future__ import annotations

import os
import platform

import torch

__all__ = ["DEVICE_ENV", "DeviceUnavailableError", "available_devices", "get_device", "resolve_device",
           "device_report"]

DEVICE_ENV = "TL_DEVICE"
_KINDS = ("auto", "cpu", "cuda", "mps")


class DeviceUnavailableError(RuntimeError):
    """A device was asked for that this machine does not have; the message says what it has."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """The devices this machine can compute on: ``"cpu"``, then ``"cuda:N"`` for each GPU, ``"mps"``."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        found.append("mps")
    return found


def _spec(value: object, source: str) -> str:
    """``value`` (a name or a :class:`torch.device`) as a lower-case name such as ``"cuda:1"``."""
    if isinstance(value, torch.device):
        if value.type == "cpu" or value.index is None:
            return value.type
        if value.type == "mps" and value.index == 0:
            return "mps"
        return f"{value.type}:{value.index}"
    if not isinstance(value, str):
        raise TypeError(
            f"The device (from {source}) must be a name such as 'cpu' or 'cuda', or a torch.device; "
            f"got a {type(value).__name__}. Use get_device() to pick the best device available."
        )
    return value.strip().lower()


def _resolve(value: object, source: str, fix: str) -> torch.device:
    """The one implementation behind :func:`get_device` and :func:`resolve_device`.

    ``source`` says where ``value`` came from (for messages); ``fix`` is the advice appended to
    the error when the device does not exist here.
    """
    spec = _spec(value, source)
    kind, _, index = spec.partition(":")
    here = ", ".join(repr(d) for d in available_devices()) if kind != "cpu" else "'cpu'"
    if kind not in _KINDS or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(
            f"Unknown device {value!r} (from {source}). Use one of 'auto', 'cpu', 'cuda', "
            f"'cuda:N' or 'mps' (available on this machine: {here}). {fix}"
        )
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"Device {spec!r} was requested (from {source}) but CUDA is not available on this "
                f"machine (available: {here}). {fix}"
            )
        if index and int(index) >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"Device {spec!r} was requested (from {source}) but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist (available: {here}). {fix}"
            )
        return torch.device(spec)
    if kind == "mps" and not _mps_available():
        raise DeviceUnavailableError(
            f"Device 'mps' was requested (from {source}) but Apple MPS is not available here "
            f"(available: {here}). {fix}"
        )
    return torch.device(kind)


def get_device(name: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on.

    Order of precedence: ``name`` if given, else ``$TL_DEVICE``, else automatic
    (CUDA, then MPS, then CPU).

    Args:
        name: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` (case-insensitive), or a
            :class:`torch.device`.

    Returns:
        A :class:`torch.device` that exists on this machine.

    Raises:
        TypeError: ``name`` is neither a string nor a :class:`torch.device`.
        ValueError: the name is not one of the kinds above.
        DeviceUnavailableError: (a ``RuntimeError``) the requested device is not available here.
    """
    if name is None:
        return _resolve(os.environ.get(DEVICE_ENV, "auto"), f"${DEVICE_ENV}",
                        f"Use `{DEVICE_ENV}=auto` or `{DEVICE_ENV}=cpu`.")
    return _resolve(name, "argument", f"Use `{DEVICE_ENV}=auto` or `{DEVICE_ENV}=cpu`, or pass "
                    "'auto' or 'cpu'.")


def resolve_device(device: str | torch.device | None = None, *, argument: str = "device") -> torch.device:
    """The check every public helper that takes a ``device`` runs first.

    ``None`` means :func:`get_device` (``$TL_DEVICE``, else the best available); a name or a
    :class:`torch.device` is checked exactly as :func:`get_device` checks it, so an unknown name
    or a device this machine lacks fails at once, with a message that names ``argument`` and the
    devices available, instead of a raw driver error deep inside torch.

    Args:
        device: ``None``, a name (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``) or a
            :class:`torch.device`.
        argument: the caller's parameter name, for the messages (e.g. ``"map_location"``).

    Returns:
        A :class:`torch.device` that exists on this machine.

    Raises:
        TypeError, ValueError, DeviceUnavailableError: as :func:`get_device`.
    """
    if device is None:
        return get_device()
    return _resolve(device, f"{argument}={device!r}" if isinstance(device, str) else
                    f"{argument}={device}",
                    f"Pass {argument}='cpu', or {argument}=get_device() "
                    f"(transfer_utils.core.device) to use the best device available.")


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
    device = resolve_device(device)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"Device: {device} ({props.name}, {props.total_memory / 2**30:.1f} GiB)"
    if device.type == "mps":
        return f"Device: mps (Apple {platform.machine()}, unified memory)"
    mem = _cpu_memory_gib()
    mem_s = f", {mem:.1f} GiB RAM" if mem is not None else ""
    return f"Device: cpu ({platform.machine()}, {torch.get_num_threads()} threads{mem_s})"
