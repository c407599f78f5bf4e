"""What one training step costs: trainable parameters, optimizer state, memory for backward, time.

Training memory, for :math:`P` parameters of which :math:`P_t` are trained, in float32 with Adam:

.. math:: \\underbrace{4P}_{\\text{weights}} + \\underbrace{4P_t}_{\\text{gradients}}
          + \\underbrace{8P_t}_{\\text{Adam } m, v} + \\underbrace{A}_{\\text{activations saved for backward}}

bytes. Fine-tuning fewer parameters shrinks the second and third terms; gradient checkpointing
shrinks :math:`A` (keep only each block's input, recompute the rest in the backward pass); mixed
precision halves the bytes of what it stores in 16 bits.

* :func:`optimizer_state_bytes` sums the tensors an optimizer holds (measured, after a step);
  :func:`adam_state_bytes` is the prediction :math:`2 \\cdot 4 P_t` plus one step counter per tensor.
* :func:`saved_activation_bytes` runs a forward pass and counts the bytes autograd saves for the
  backward pass (``torch.autograd.graph.saved_tensors_hooks``; each storage counted once). It works
  on any device; on a CPU it is the activation memory a step needs, without allocator noise.
* :func:`peak_cuda_bytes` is ``torch.cuda.max_memory_allocated`` around a step (CUDA only).
* :func:`time_per_step` is the median wall time of a step over repeats, after warm-up.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from transfer_utils.core.validation import check_int

__all__ = ["tensor_bytes", "gradient_bytes", "optimizer_state_bytes", "adam_state_bytes",
           "saved_activation_bytes", "peak_cuda_bytes", "time_per_step"]


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the given tensors, each counted by its element size times its number of elements."""
    return sum(t.numel() * t.element_size() for t in tensors)


def gradient_bytes(module: nn.Module) -> int:
    """Bytes of the gradients the trainable parameters hold (``p.grad``; none before a backward pass)."""
    return tensor_bytes(p.grad for p in module.parameters() if p.grad is not None)


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of every tensor in ``optimizer.state`` (Adam: ``exp_avg``, ``exp_avg_sq``, ``step``).

    The state is created lazily: measure after the first ``optimizer.step()``.
    """
    return tensor_bytes(v for state in optimizer.state.values() for v in state.values()
                        if isinstance(v, torch.Tensor))


def adam_state_bytes(parameters: Iterable[nn.Parameter]) -> int:
    """Predicted Adam/AdamW state: two moments of each trained parameter, plus a float32 step per tensor.

    .. math:: \\sum_{p\\,\\text{trained}} \\big(2\\,|p|\\,\\text{bytes}(p) + 4\\big)
    """
    return sum(2 * p.numel() * p.element_size() + 4 for p in parameters if p.requires_grad)


def saved_activation_bytes(forward: Callable[[], Any],
                           exclude: Iterable[torch.Tensor] = ()) -> tuple[Any, int]:
    """Run ``forward()`` and return ``(its result, bytes autograd saved for the backward pass)``.

    Every tensor packed by autograd inside ``forward`` is counted once per storage (a view, or a
    tensor saved twice, is not counted again). Tensors sharing a storage with one in ``exclude``
    are not counted: pass the model's parameters, which a product saves (for the gradient of its
    input) but which exist anyway. Tensors saved inside a non-reentrant ``torch.utils.checkpoint``
    region are not held and so not counted; a reentrant region (``use_reentrant=True``) saves its
    inputs, which are counted.
    """
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in skip:
            seen[storage.data_ptr()] = max(seen.get(storage.data_ptr(), 0), storage.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = forward()
    return out, int(sum(seen.values()))


def peak_cuda_bytes(step: Callable[[], Any], device: torch.device | str) -> int:
    """``torch.cuda.max_memory_allocated`` during ``step()``, from a reset peak (CUDA only).

    Raises:
        ValueError: ``device`` is not a CUDA device.
    """
    device = torch.device(device)
    if device.type != "cuda":
        raise ValueError(f"peak_cuda_bytes measures CUDA memory; got device {device}. On a CPU use "
                         "saved_activation_bytes (the memory a backward pass keeps) instead.")
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    torch.cuda.synchronize(device)
    return int(torch.cuda.max_memory_allocated(device))


def time_per_step(step: Callable[[], Any], repeats: int = 5, warmup: int = 1,
                  device: torch.device | str = "cpu") -> float:
    """Median wall-clock seconds of ``step()`` over ``repeats`` calls, after ``warmup`` calls.

    On CUDA the device is synchronised before reading the clock, so queued kernels are counted.
    """
    check_int(repeats, "repeats", minimum=1)
    check_int(warmup, "warmup", minimum=0)
    device = torch.device(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
