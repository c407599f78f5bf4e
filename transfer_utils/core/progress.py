"""Progress bars: live where someone watches them, quiet in a log.

tqdm redraws a bar by writing a carriage return and the whole line again, up to ten times a second.
In a terminal that overwrites the line in place, and in a Jupyter kernel ``tqdm.auto`` draws a
widget instead; but in a log (CI, ``make prepare > log``, any file or pipe) every redraw is one more
line. :func:`progress_bar` makes a bar chosen by where it is drawn, when it is made:

* a Jupyter kernel: ``tqdm.auto.tqdm``, a widget (tqdm's own choice looks only at which modules
  are imported, so a script that imports ``ipykernel`` would get a widget with nowhere to show);
* a stream that is a terminal (``isatty()``): ``tqdm.tqdm`` with its own defaults, a live bar;
* anything else: a bar that appears only after :data:`LOG_REFRESH_S` seconds and is redrawn at most
  once per :data:`LOG_REFRESH_S` seconds, in ASCII, so a step of a few seconds writes nothing and a
  long one writes a line a minute.

The caller's keyword arguments always win over these options.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

from tqdm import tqdm

__all__ = ["LOG_REFRESH_S", "in_jupyter_kernel", "is_interactive", "bar_options", "progress_bar"]

LOG_REFRESH_S = 60.0
"""Seconds between two redraws of a bar written to a log (and before its first one)."""


def in_jupyter_kernel() -> bool:
    """True inside an IPython kernel (a notebook in JupyterLab, nbval), where tqdm draws a widget.

    IPython is imported only if something already imported it: a plain script never pays for it.
    """
    if "IPython" not in sys.modules:
        return False
    get_ipython = getattr(sys.modules["IPython"], "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def is_interactive(stream: IO[str] | None = None) -> bool:
    """Whether a bar on ``stream`` (default: ``sys.stderr``, where tqdm writes) is watched live:
    inside a Jupyter kernel, or when the stream is a terminal. A closed or missing stream is not."""
    if in_jupyter_kernel():
        return True
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except (ValueError, OSError):  # a closed or detached stream
        return False


def bar_options(stream: IO[str] | None = None) -> dict[str, Any]:
    """The tqdm keyword arguments for a bar drawn on ``stream``: none when :func:`is_interactive`,
    else ``delay``, ``mininterval`` and ``maxinterval`` of :data:`LOG_REFRESH_S` and ``ascii=True``."""
    if is_interactive(stream):
        return {}
    return {"delay": LOG_REFRESH_S, "mininterval": LOG_REFRESH_S, "maxinterval": LOG_REFRESH_S,
            "ascii": True}


def progress_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> tqdm:
    """A bar over ``iterable``: in a Jupyter kernel ``tqdm.auto.tqdm(iterable, **kwargs)``, else
    ``tqdm.tqdm`` with :func:`bar_options` for the stream it writes to (``kwargs["file"]``, else
    ``sys.stderr``); any option given in ``kwargs`` wins."""
    if in_jupyter_kernel():
        from tqdm.auto import tqdm as in_kernel  # tqdm.notebook's widget when ipywidgets is present

        return in_kernel(iterable, **kwargs)
    return tqdm(iterable, **{**bar_options(kwargs.get("file")), **kwargs})
