"""Checks for the notebooks' runnable exercises: tell a learner whether an answer is right.

An exercise in a notebook is three code cells, marked by cell tags:

* ``exercise``: a stub the learner completes (a function whose body raises
  ``NotImplementedError``, or a value set to ``...``);
* ``solution``: the instructor's answer, which redefines the stub (removed from the student copy
  by ``make student``);
* ``check``: a call to :func:`check_function` or :func:`check_value`.

:func:`check_function` calls the learner's function and a reference on fresh inputs and compares
the results with :func:`compare` (``|a - b| <= atol + rtol |b|`` elementwise, recursively through
tuples, lists and dicts). An unsolved stub raises :class:`ExerciseNotDone` (a subclass of
``NotImplementedError``) naming the exercise; a wrong answer raises :class:`ExerciseWrong` (a
subclass of ``AssertionError``) saying on which input, what was expected and what came back, with
the exercise's hint. A right answer prints one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["ExerciseNotDone", "ExerciseWrong", "compare", "check_function", "check_value"]


class ExerciseNotDone(NotImplementedError):
    """The learner has not completed the exercise's stub yet."""


class ExerciseWrong(AssertionError):
    """The learner's answer differs from the reference."""


def _as_array(x: Any) -> np.ndarray | None:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (bool, int, float, np.number)):
        return np.asarray(x)
    return None


def compare(got: Any, expected: Any, *, rtol: float = 1e-6, atol: float = 1e-8, path: str = "answer") -> str | None:
    r"""Return ``None`` when ``got`` matches ``expected``, else a sentence saying where they differ.

    Numbers, NumPy arrays and tensors match when their shapes agree and
    :math:`|g - e| \le \mathrm{atol} + \mathrm{rtol}\,|e|` holds elementwise (NaN matches NaN).
    Tuples, lists and dicts match element by element; anything else must be ``==``.
    """
    if got is Ellipsis:
        return f"{path} is still `...`"
    if isinstance(expected, (bool, np.bool_)):  # a yes/no answer reads as True/False, not 1/0
        return None if isinstance(got, (bool, np.bool_)) and bool(got) == bool(expected) else \
            f"{path} is {got!r}, expected {bool(expected)!r}"
    e_arr, g_arr = _as_array(expected), _as_array(got)
    if e_arr is not None:
        if g_arr is None:
            return f"{path} should be a number or an array, got {type(got).__name__}"
        if g_arr.shape != e_arr.shape:
            return f"{path} has shape {tuple(g_arr.shape)}, expected {tuple(e_arr.shape)}"
        g64, e64 = g_arr.astype(np.float64), e_arr.astype(np.float64)
        ok = np.isclose(g64, e64, rtol=rtol, atol=atol, equal_nan=True)
        if not ok.all():
            i = np.unravel_index(np.argmin(ok), ok.shape) if ok.ndim else ()
            where = path + "".join(f"[{int(j)}]" for j in i)
            return f"{where} is {g64[i]:.6g}, expected {e64[i]:.6g} ({int((~ok).sum())} of {ok.size} entries differ)"
        return None
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping) or set(got) != set(expected):
            return f"{path} should be a dict with keys {sorted(expected)}"
        for k in expected:
            msg = compare(got[k], expected[k], rtol=rtol, atol=atol, path=f"{path}[{k!r}]")
            if msg:
                return msg
        return None
    if isinstance(expected, Sequence) and not isinstance(expected, str):
        if not isinstance(got, Sequence) or isinstance(got, str) or len(got) != len(expected):
            return f"{path} should be a sequence of length {len(expected)}"
        for k, (g, e) in enumerate(zip(got, expected)):
            msg = compare(g, e, rtol=rtol, atol=atol, path=f"{path}[{k}]")
            if msg:
                return msg
        return None
    return None if got == expected else f"{path} is {got!r}, expected {expected!r}"


def _not_done(name: str) -> ExerciseNotDone:
    return ExerciseNotDone(f"Exercise {name} is not done yet: complete the cell above (replace the "
                           f"`raise NotImplementedError` or the `...`), run it, then run this check again.")


def check_function(name: str, student: Callable[..., Any], reference: Callable[..., Any],
                   inputs: Iterable[Sequence[Any]], *, rtol: float = 1e-6, atol: float = 1e-8,
                   hint: str = "") -> int:
    """Check ``student(*args)`` against ``reference(*args)`` for each ``args`` in ``inputs``.

    Returns the number of inputs checked (at least one). Raises :class:`ExerciseNotDone` when the
    stub is unsolved, :class:`ExerciseWrong` at the first input where the answers differ, and
    ``ValueError`` when ``inputs`` is empty.
    """
    cases = [tuple(args) for args in inputs]
    if not cases:
        raise ValueError(f"Exercise {name}: no inputs to check on; pass at least one tuple of arguments.")
    for k, args in enumerate(cases):
        try:
            got = student(*args)
        except NotImplementedError:
            raise _not_done(name) from None
        expected = reference(*args)
        if got is Ellipsis:
            raise _not_done(name)
        if got is None and expected is not None:
            raise ExerciseWrong(f"Exercise {name}: your function returned None on input #{k + 1}; "
                                "did you forget `return`?")
        msg = compare(got, expected, rtol=rtol, atol=atol)
        if msg:
            raise ExerciseWrong(f"Exercise {name}: not right yet on input #{k + 1} of {len(cases)}: {msg}."
                                + (f" Hint: {hint}" if hint else ""))
    print(f"Exercise {name}: correct on all {len(cases)} inputs.")
    return len(cases)


def check_value(name: str, value: Any, expected: Any, *, rtol: float = 1e-6, atol: float = 1e-8,
                hint: str = "") -> None:
    """Check a value the learner computed against the expected one (``...`` means not done yet)."""
    if value is Ellipsis:
        raise _not_done(name)
    if isinstance(value, float) and math.isnan(value) and not (isinstance(expected, float) and math.isnan(expected)):
        raise ExerciseWrong(f"Exercise {name}: your answer is NaN." + (f" Hint: {hint}" if hint else ""))
    msg = compare(value, expected, rtol=rtol, atol=atol)
    if msg:
        raise ExerciseWrong(f"Exercise {name}: not right yet: {msg}." + (f" Hint: {hint}" if hint else ""))
    print(f"Exercise {name}: correct.")
