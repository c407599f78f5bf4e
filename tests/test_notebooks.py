"""The notebooks as files: pairs in sync, committed without stray outputs, following the template.

Executing the notebooks is a separate step (`make notebooks`, nbval in a fresh kernel each).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

import transfer_utils

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
IPYNB = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
PAIRS = sorted(NB_DIR.glob("[0-9][0-9]_*.py"))
MARK = "# NBVAL_CHECK_OUTPUT"


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_notebooks():
    assert IPYNB, "no notebooks found in notebooks/"


def test_every_notebook_has_its_pair():
    stems_ipynb = {p.stem for p in IPYNB}
    stems_py = {p.stem for p in PAIRS}
    assert stems_ipynb == stems_py, (
        f"unpaired: {sorted(stems_ipynb ^ stems_py)}; run `make sync` (jupytext --sync)")


@pytest.mark.parametrize("path", IPYNB, ids=lambda p: p.name)
def test_pair_in_sync(path: Path):
    nb = jupytext.read(path)
    text = jupytext.read(path.with_suffix(".py"))
    assert _cells(nb) == _cells(text), f"{path.name} and its .py differ; run `make sync`"


@pytest.mark.parametrize("path", IPYNB, ids=lambda p: p.name)
def test_committed_without_outputs_except_checked_cells(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and MARK not in cell.source:
            assert not cell.outputs, f"{path.name} cell {i} has stored outputs; strip them"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", IPYNB, ids=lambda p: p.name)
def test_follows_the_template(path: Path):
    nb = nbformat.read(path, as_version=4)
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    first = nb.cells[0]
    assert first.cell_type == "markdown" and re.match(r"# \d\d ", first.source), "title first"
    for needle in ("**In one line:**", "**Run time:**", "## Summary", "## Exercises", "## References",
                   "<details><summary>Solution</summary>"):
        assert needle in md, f"{path.name} lacks {needle!r}"
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = code[0].source
    for needle in ("get_device", "get_profile", "seed_everything", "device_report"):
        assert needle in setup, f"{path.name}: the first code cell is the setup cell and uses {needle}"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert i > 0 and nb.cells[i - 1].cell_type == "markdown", (
                f"{path.name} cell {i}: put a sentence of prose before every code cell")


def _helper_names() -> set[str]:
    names: set[str] = set()
    for mod in pkgutil.walk_packages(transfer_utils.__path__, "transfer_utils."):
        if mod.name.endswith("__main__"):
            continue
        module = importlib.import_module(mod.name)
        names.update(getattr(module, "__all__", []))
    return names


@pytest.mark.parametrize("path", IPYNB, ids=lambda p: p.name)
def test_never_redefines_a_helper(path: Path):
    helpers = _helper_names()
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                assert node.name not in helpers, (
                    f"{path.name} defines {node.name}, which transfer_utils already provides; import it")
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("transfer_utils"):
                assert all(alias.name != "*" for alias in node.names), "no star imports"
