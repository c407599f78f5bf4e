"""Open in the cloud: each notebook's Colab and Binder badges and its Colab install line come from the one
address in ``pyproject.toml`` (``[tool.course]``), and ``scripts/badges.py`` writes them idempotently."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
IPYNB = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
spec = importlib.util.spec_from_file_location("badges", ROOT / "scripts" / "badges.py")
badges = importlib.util.module_from_spec(spec)
sys.modules["badges"] = badges  # dataclasses look their module up there
spec.loader.exec_module(badges)

CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["course"]


def test_the_config_holds_one_github_address_and_a_branch():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", CONFIG["repository"])
    assert CONFIG["branch"]
    repo = badges.read_config()
    assert repo.url == CONFIG["repository"] and repo.branch == CONFIG["branch"]


@pytest.mark.parametrize("path", IPYNB, ids=lambda p: p.name)
def test_every_notebook_has_its_badges_from_the_config(path: Path):
    # Written out by hand from the config (not with the script's functions): the reference.
    org_repo = CONFIG["repository"].removeprefix("https://github.com/")
    branch = CONFIG["branch"]
    colab = f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/notebooks/{path.name}"
    binder = f"https://mybinder.org/v2/gh/{org_repo}/{branch}?labpath=notebooks%2F{path.name}"
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "markdown").source.splitlines()
    assert first[2] == (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
                        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})"), (
        f"{path.name}: badges missing or stale; run `make badges`")


@pytest.mark.parametrize("path", IPYNB, ids=lambda p: p.name)
def test_every_setup_cell_installs_the_course_on_colab_only(path: Path):
    nb = nbformat.read(path, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code").source.splitlines()
    assert setup[2] == 'if "google.colab" in sys.modules and importlib.util.find_spec("transfer_utils") is None:'
    assert f'"git+{CONFIG["repository"]}@{CONFIG["branch"]}"' in setup[3], (
        f"{path.name}: the Colab install line is stale; run `make badges`")
    assert setup[3].startswith('    subprocess.run([sys.executable, "-m", "pip", "install"')
    # The guarded install is the only install, and it comes before the first import of the course.
    first_course_import = next(i for i, line in enumerate(setup) if "transfer_utils import" in line
                               or line.startswith(("import transfer_utils", "from transfer_utils")))
    assert first_course_import > 3
    assert sum("pip" in line for line in setup) == 1


def test_the_script_reports_every_notebook_in_step():
    assert badges.main(["--check"]) == 0


TEXT = """# ---
# jupyter:
#   kernelspec:
#     name: python3
# ---

# %% [markdown]
# # 07 A title
#
# A paragraph.

# %% [markdown]
# ## Setup

# %%

import torch
from transfer_utils.core.device import get_device
"""


def test_update_inserts_once_and_is_idempotent():
    repo = badges.CourseRepo("org", "repo", "dev")
    once = badges.update_text(TEXT, repo, "07_a.ipynb")
    assert badges.update_text(once, repo, "07_a.ipynb") == once
    lines = once.split("\n")
    title = lines.index("# # 07 A title")
    assert lines[title + 1:title + 4] == [
        "#",
        "# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        "(https://colab.research.google.com/github/org/repo/blob/dev/notebooks/07_a.ipynb) "
        "[![Binder](https://mybinder.org/badge_logo.svg)]"
        "(https://mybinder.org/v2/gh/org/repo/dev?labpath=notebooks%2F07_a.ipynb)",
        "#"]
    setup = lines.index("# %%")
    assert lines[setup + 4] == ('    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", '
                                '"git+https://github.com/org/repo@dev"], check=True)')
    assert lines[setup + 5:setup + 7] == ["", "import torch"]
    assert once.count("Open In Colab") == 1 and once.count("google.colab") == 1


def test_update_replaces_a_stale_address():
    old = badges.update_text(TEXT, badges.CourseRepo("old", "place", "main"), "07_a.ipynb")
    new = badges.update_text(old, badges.CourseRepo("new", "home", "main"), "07_a.ipynb")
    assert "old/place" not in new and "new/home" not in old
    assert new == badges.update_text(TEXT, badges.CourseRepo("new", "home", "main"), "07_a.ipynb")


def test_a_bad_config_is_refused(tmp_path: Path):
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[tool.course]\nrepository = "https://gitlab.com/a/b"\nbranch = "main"\n')
    with pytest.raises(ValueError, match="github"):
        badges.read_config(bad)
    bad.write_text('[tool.course]\nrepository = "https://github.com/a/b"\n')
    with pytest.raises(ValueError, match="branch"):
        badges.read_config(bad)
