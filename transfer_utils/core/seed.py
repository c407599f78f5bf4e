"""Seed every random number generator the course uses, once, in a notebook's setup cell."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int = 0, deterministic: bool = False) -> torch.Generator:
    """Seed Python's ``random``, NumPy, torch (CPU, CUDA and MPS) and return a generator.

    Args:
        seed: a non-negative integer below 2**32.
        deterministic: also ask torch for deterministic kernels (slower on a GPU).

    Returns:
        A CPU :class:`torch.Generator` seeded with ``seed``, for draws that are part of a
        lesson (pass it as ``generator=`` so that a reader can reproduce exactly that draw).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} ({seed!r}).")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}.")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
