"""What a clear error is, for the bad-input tests: raised by the course, naming the argument.

``expect_clear_error(call, "lengthscale")`` runs ``call()`` and passes only when

* it raises (silently returning garbage fails the test),
* the exception is raised by a ``raise`` statement inside ``transfer_utils`` (a raw error from
  inside torch, numpy or gpytorch, even one the course lets through, fails the test; an error the
  course raises *from* a library error is fine),
* its message names every given word (the argument, and usually the fix), case-insensitively.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Callable

import pytest

import transfer_utils

PACKAGE = Path(transfer_utils.__file__).resolve().parent


def raised_by_course(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc``'s traceback is a file of ``transfer_utils``."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE)


def expect_clear_error(call: Callable[[], object], *words: str,
                       exc: type[BaseException] | tuple[type[BaseException], ...] = Exception) -> BaseException:
    """Run ``call`` and check that it fails clearly (see the module docstring); return the error."""
    with pytest.raises(exc) as info:
        result = call()
        pytest.fail(f"bad input was accepted silently and returned {result!r:.200}")
    err = info.value
    frames = traceback.extract_tb(err.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    assert raised_by_course(err), f"raw {type(err).__name__} from {where}, not from the course: {err}"
    message = str(err).lower()
    missing = [w for w in words if w.lower() not in message]
    assert not missing, f"the message does not name {missing}: {err}"
    return err
