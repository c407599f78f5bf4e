"""Open in the cloud: every notebook's Colab and Binder badges and its Colab install line, from one address.

The repository's address and branch live in one place, ``pyproject.toml``::

    [tool.course]
    repository = "https://github.com/<org>/<repo>"
    branch = "main"

This script writes, in each ``notebooks/NN_name.py`` (then brings its ``.ipynb`` in step with
``jupytext --sync``):

* a badge line right under the title of the first markdown cell::

      [![Open In Colab](colab-badge.svg)](https://colab.research.google.com/github/ORG/REPO/blob/BRANCH/notebooks/NB.ipynb)
      [![Binder](badge_logo.svg)](https://mybinder.org/v2/gh/ORG/REPO/BRANCH?labpath=notebooks%2FNB.ipynb)

* a short block at the top of the setup cell (the first code cell) that, on Colab only
  (``"google.colab" in sys.modules``) and only when ``transfer_utils`` is not importable, runs
  ``pip install git+https://github.com/ORG/REPO@BRANCH``. A notebook on Colab cannot read
  ``pyproject.toml``, so the address is written into the cell here, from the same config.

Running it twice changes nothing the second time. ``--check`` writes nothing and exits 1 when a
notebook is out of step with the config (``make badges`` writes; ``tests/test_badges.py`` checks).

Usage::

    python scripts/badges.py            # write badges and install lines, then jupytext --sync
    python scripts/badges.py --check    # exit 1 if any notebook is out of step
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER_ORG = "PLACEHOLDER-ORG"
COLAB_SHIELD = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_SHIELD = "https://mybinder.org/badge_logo.svg"
INSTALL_COMMENT = ("# On Colab only, install the course when it is missing "
                   "(scripts/badges.py writes the address, from pyproject.toml).")
BADGE_LINE = re.compile(r"^\[!\[Open In Colab\]")
GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)/?$")


@dataclass(frozen=True)
class CourseRepo:
    """Where the course lives on GitHub: ``https://github.com/{org}/{name}``, branch ``branch``."""

    org: str
    name: str
    branch: str

    @property
    def url(self) -> str:
        return f"https://github.com/{self.org}/{self.name}"

    @property
    def is_placeholder(self) -> bool:
        return self.org == PLACEHOLDER_ORG


def read_config(pyproject: Path = ROOT / "pyproject.toml") -> CourseRepo:
    """The ``[tool.course]`` table of ``pyproject``: ``repository`` (a GitHub address) and ``branch``."""
    table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("course", {})
    repository, branch = table.get("repository"), table.get("branch")
    match = GITHUB.match(repository or "")
    if not match:
        raise ValueError(f"{pyproject}: [tool.course] repository = {repository!r} is not "
                         "'https://github.com/<org>/<repo>'.")
    if not branch or not re.fullmatch(r"[A-Za-z0-9_./-]+", branch):
        raise ValueError(f"{pyproject}: [tool.course] branch = {branch!r} is not a branch name.")
    return CourseRepo(match.group(1), match.group(2), branch)


def badge_line(repo: CourseRepo, notebook: str) -> str:
    """The markdown of the two badges for ``notebooks/{notebook}`` (an ``.ipynb`` file name)."""
    path = f"notebooks/{notebook}"
    colab = f"https://colab.research.google.com/github/{repo.org}/{repo.name}/blob/{repo.branch}/{path}"
    binder = f"https://mybinder.org/v2/gh/{repo.org}/{repo.name}/{repo.branch}?labpath={quote(path, safe='')}"
    return f"[![Open In Colab]({COLAB_SHIELD})]({colab}) [![Binder]({BINDER_SHIELD})]({binder})"


def install_block(repo: CourseRepo) -> list[str]:
    """The lines that open the setup cell: ``pip install`` of the course on Colab when it is missing."""
    return [
        INSTALL_COMMENT,
        "import importlib.util, subprocess, sys  # noqa: E401",
        'if "google.colab" in sys.modules and importlib.util.find_spec("transfer_utils") is None:',
        f'    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "git+{repo.url}@{repo.branch}"], '
        "check=True)",
    ]


def _cell_starts(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if line.startswith("# %%")]


def update_text(text: str, repo: CourseRepo, notebook: str) -> str:
    """A notebook's percent-format text with its badge line and install block set from ``repo``.

    The badge line goes right under the title (``# # NN Title``) of the first markdown cell, with a
    blank comment line on each side; the install block opens the first code cell, followed by one
    blank line. An existing badge line or install block is replaced, so the result does not depend
    on how often this runs.
    """
    lines = text.split("\n")
    starts = _cell_starts(lines)
    first_md = next(i for i in starts if lines[i].startswith("# %% [markdown]"))
    title = first_md + 1
    if not re.match(r"^# # \d\d ", lines[title]):
        raise ValueError(f"{notebook}: the first markdown cell does not open with its title '# NN Title'.")
    end = next((i for i in starts if i > title), len(lines))
    badge = "# " + badge_line(repo, notebook)
    existing = [i for i in range(title + 1, end) if BADGE_LINE.match(lines[i][2:])]
    if existing:
        lines[existing[0]] = badge
    else:
        lines[title + 1:title + 1] = ["#", badge]
        if lines[title + 3] != "#":
            lines.insert(title + 3, "#")

    starts = _cell_starts(lines)
    setup = next(i for i in starts if not lines[i].startswith("# %% [markdown]"))
    block = install_block(repo)
    body = setup + 1
    if lines[body] == INSTALL_COMMENT:
        del lines[body:body + len(block)]
        while lines[body] == "":
            del lines[body]
    else:
        while lines[body] == "":
            del lines[body]
    lines[body:body] = [*block, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook is out of step")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks' .py files (default: notebooks/[0-9][0-9]_*.py)")
    args = parser.parse_args(argv)
    repo = read_config()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    stale = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        new = update_text(text, repo, path.with_suffix(".ipynb").name)
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if repo.is_placeholder:
        print(f"Note: [tool.course] repository in pyproject.toml is still the placeholder {repo.url}; "
              "set it to the course's public GitHub address and run `make badges`.", file=sys.stderr)
    if args.check:
        for path in stale:
            print(f"{path.name}: badges or Colab install line out of step with pyproject.toml; run `make badges`")
        return 1 if stale else 0
    if stale:
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", *map(str, stale)], check=True,
                       stdout=subprocess.DEVNULL)
    print(f"{len(stale)} of {len(paths)} notebooks updated from {repo.url} (branch {repo.branch}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
