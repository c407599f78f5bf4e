"""``python -m transfer_utils.prepare``: build what several notebooks share, once.

Each step is idempotent: a cached file that is present and current is reused, so the second run
takes a moment. ``make lab``, ``make test`` and ``make benchmark`` run this first, so that no
notebook's run time includes building a shared model; its own time is reported here.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable

__all__ = ["STEPS", "main"]

# (what it builds, "module:function"); each function takes no argument and returns a short note.
STEPS: list[tuple[str, str]] = [
    ("CIFAR-10 (extract the JPEG archives once)", "transfer_utils.data.cifar:prepare_cifar10"),
    ("digit source model (MNIST CNN)", "transfer_utils.source_models:build_digit_source_model"),
]


def _resolve(target: str) -> Callable[[], object]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def main() -> None:
    total = time.perf_counter()
    for what, target in STEPS:
        start = time.perf_counter()
        note = _resolve(target)()
        print(f"prepare: {what}: {note or 'ready'} ({time.perf_counter() - start:.1f} s)")
    print(f"prepare: done in {time.perf_counter() - total:.1f} s")


if __name__ == "__main__":
    main()
