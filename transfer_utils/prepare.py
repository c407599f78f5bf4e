"""``python -m transfer_utils.prepare``: build what several notebooks share, once.

Each step is idempotent: a cached file that is present and current is reused, so the second run
takes a moment. ``make lab``, ``make test`` and ``make benchmark`` run this first, so that no
notebook's run time includes building a shared model; its own time is reported here.

Every step runs even when an earlier one fails (a broken CIFAR-10 archive must not leave the digit
model unbuilt); the failures are listed together at the end, each with its message and no
traceback, and the exit status is 1 when any step failed. Before the first step, temporary files
left in the cache by a killed run are removed (:func:`transfer_utils.core.atomic.clean_cache_once`).
When the output is a log rather than a terminal, the steps' progress bars are quiet (redrawn at most every
:data:`~transfer_utils.core.progress.LOG_REFRESH_S` seconds), and the first line says so.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence

from transfer_utils.core.atomic import clean_cache_once
from transfer_utils.core.progress import LOG_REFRESH_S, is_interactive

__all__ = ["STEPS", "run_steps", "main"]

# (what it builds, "module:function"); each function takes no argument and returns a short note.
STEPS: list[tuple[str, str]] = [
    ("CIFAR-10 (extract the JPEG archives once)", "transfer_utils.data.cifar:prepare_cifar10"),
    ("digit source model (MNIST CNN)", "transfer_utils.nets.source_models:build_digit_source_model"),
]

Step = tuple[str, "str | Callable[[], object]"]


def _resolve(target: str | Callable[[], object]) -> Callable[[], object]:
    """The step's function: a callable itself, or ``"module:function"`` imported now."""
    if callable(target):
        return target
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def run_steps(steps: Sequence[Step]) -> list[tuple[str, str]]:
    """Run every step, printing one line each; return ``(what, message)`` of every failure.

    A step fails when importing or calling it raises an :class:`Exception` (an interrupt still
    stops the run); its message is ``"<error type>: <error text>"``, the text being the clear
    message the course's errors carry.
    """
    failures: list[tuple[str, str]] = []
    for what, target in steps:
        start = time.perf_counter()
        try:
            note = _resolve(target)()
        except Exception as err:  # noqa: BLE001 - every failure is reported, none stops the rest
            message = f"{type(err).__name__}: {err}"
            failures.append((what, message))
            print(f"prepare: {what}: FAILED ({time.perf_counter() - start:.1f} s)", flush=True)
        else:
            print(f"prepare: {what}: {note or 'ready'} ({time.perf_counter() - start:.1f} s)",
                  flush=True)
    return failures


def main(steps: Sequence[Step] | None = None) -> int:
    """Run every step of :data:`STEPS` (or ``steps``); return 0 when all succeeded, else 1."""
    total = time.perf_counter()
    if not is_interactive():
        print(f"prepare: stderr is not a terminal: progress bars appear after {LOG_REFRESH_S:.0f} s "
              f"and are redrawn at most every {LOG_REFRESH_S:.0f} s", flush=True)
    removed = clean_cache_once()
    if removed:
        print(f"prepare: removed {len(removed)} temporary file(s) left by an interrupted run: "
              + ", ".join(p.name for p in removed[:5]) + (" ..." if len(removed) > 5 else ""))
    steps = STEPS if steps is None else steps
    failures = run_steps(steps)
    elapsed = time.perf_counter() - total
    if not failures:
        print(f"prepare: done in {elapsed:.1f} s")
        return 0
    print(f"prepare: {len(failures)} of {len(steps)} step(s) failed ({elapsed:.1f} s):")
    for what, message in failures:
        print(f"  - {what}: {message}")
    print("Fix each as described, then run `python -m transfer_utils.prepare` again "
          "(`python -m transfer_utils` checks the datasets).")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
