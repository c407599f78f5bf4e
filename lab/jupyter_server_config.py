"""The course's Jupyter server settings: ``make setup`` copies this file into the venv
(``.venv/etc/jupyter/jupyter_server_config.py``), so the JupyterLab of ``make lab`` uses it.

One setting: after JupyterLab saves a file that git tracks, :func:`refresh_git_index` asks git
whether the file, cleaned by the notebook filter (``scripts/nbstrip.py``, ``.gitattributes``), still
equals what git has; if so, it records the file's new size and time in git's index (``git add``,
which then stages nothing). Without it, a notebook that was only run would be listed as modified
by ``git status``: git compares a file's size with the size in its index before it reads the file
through the filter, and outputs change the size. A file whose cleaned content differs (an edited
cell), or that git does not track, is left alone. The hook never fails a save: without git, or
with git busy, the file is saved all the same.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any


def refresh_git_index(os_path: str, model: Any = None, contents_manager: Any = None, **kwargs: Any) -> bool:
    """Refresh git's record of ``os_path`` when git sees no change in it; return whether it did."""
    folder, name = os.path.split(os_path)

    def git(*args: str) -> int:
        return subprocess.run(["git", *args, "--", name], cwd=folder or ".", stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=60).returncode

    try:
        if git("ls-files", "--error-unmatch") == 0 and git("diff", "--quiet") == 0:
            return git("add") == 0
    except (OSError, subprocess.SubprocessError):  # no git, or it timed out
        pass
    return False


if "get_config" in globals():  # loaded by Jupyter, which provides get_config
    c = get_config()  # noqa: F821
    c.FileContentsManager.post_save_hook = refresh_git_index
