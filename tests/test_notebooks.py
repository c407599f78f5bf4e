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
        if cell.cell_type == "code" and not continues_an_exercise(nb.cells, i):
            assert i > 0 and nb.cells[i - 1].cell_type == "markdown", (
                f"{path.name} cell {i}: put a sentence of prose before every code cell")


def continues_an_exercise(cells, i: int) -> bool:
    """Whether code cell ``i`` is the ``solution`` or ``check`` of a runnable exercise, right after
    the cell it answers or checks (the prose before the ``exercise`` stub states the exercise)."""
    tags = cells[i].get("metadata", {}).get("tags", [])
    prev = cells[i - 1].get("metadata", {}).get("tags", []) if i > 0 else []
    return (("solution" in tags and "exercise" in prev)
            or ("check" in tags and ("solution" in prev or "exercise" in prev)))


def _helper_names() -> set[str]:
    names: set[str] = set()
    for mod in pkgutil.walk_packages(transfer_utils.__path__, "transfer_utils."):
        if mod.name.endswith("__main__"):
            continue
        module = importlib.import_module(mod.name)
        names.update(getattr(module, "__all__", []))
    return names


def _module_names() -> set[str]:
    return {"transfer_utils"} | {mod.name for mod in
                                 pkgutil.walk_packages(transfer_utils.__path__, "transfer_utils.")}


def _code_trees(nb) -> list[ast.AST]:
    """The parsed code cells of a notebook, IPython magics and shell lines left out."""
    trees = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            source = "\n".join(l for l in cell.source.splitlines()
                               if not l.lstrip().startswith(("%", "!")))
            trees.append(ast.parse(source))
    return trees


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _is_assertion(node: ast.AST) -> bool:
    """An ``assert`` statement, or a call such as ``torch.testing.assert_close``/``np.testing.assert_*``."""
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        return name.startswith("assert_")
    return False


def unchecked_redefinitions(nb, helpers: set[str], modules: set[str]) -> list[str]:
    """Helpers a notebook redefines (a ``def``/``class`` with a public ``transfer_utils`` name)
    without asserting them equal to the package's version.

    The rule of the course: a notebook may build an algorithm in view under the helper's own name,
    but then some assertion (an ``assert`` statement, or a call to ``assert_close`` or another
    ``assert_*`` such as ``torch.testing.assert_close``/``np.testing.assert_allclose``) must
    mention both the notebook's version (the bare name, called or passed) and the package's: either
    ``<alias>.<name>`` with ``<alias>`` an imported ``transfer_utils`` module (``from transfer_utils.adaptation
    import coral as tu_coral``, ``import transfer_utils.adaptation.coral as tu_coral``, or the dotted path), or
    a name imported from ``transfer_utils`` under another alias (``... import coral_transform as
    tu_coral_transform``). Raises AssertionError on a star import from ``transfer_utils``.
    """
    trees = _code_trees(nb)
    module_aliases: set[str] = set()
    helper_aliases: dict[str, str] = {}  # alias -> helper name
    defined: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in helpers:
                defined.add(node.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules:
                        module_aliases.add(alias.asname or alias.name)
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("transfer_utils"):
                assert all(alias.name != "*" for alias in node.names), "no star imports"
                for alias in node.names:
                    if f"{node.module}.{alias.name}" in modules:
                        module_aliases.add(alias.asname or alias.name)
                    elif alias.asname and alias.asname != alias.name:
                        helper_aliases[alias.asname] = alias.name

    def mentions_both(node: ast.AST, name: str) -> bool:
        ours = package = False
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id == name:
                ours = True
            elif isinstance(sub, ast.Name) and helper_aliases.get(sub.id) == name:
                package = True
            elif isinstance(sub, ast.Attribute) and sub.attr == name:
                base = _dotted(sub.value)
                package = package or base in module_aliases or (base or "").startswith("transfer_utils")
        return ours and package

    assertions = [node for tree in trees for node in ast.walk(tree) if _is_assertion(node)]
    return sorted(name for name in defined if not any(mentions_both(a, name) for a in assertions))


@pytest.mark.parametrize("path", IPYNB, ids=lambda p: p.name)
def test_a_redefined_helper_is_checked_against_the_package(path: Path):
    nb = nbformat.read(path, as_version=4)
    missing = unchecked_redefinitions(nb, _helper_names(), _module_names())
    assert not missing, (
        f"{path.name} defines {missing}, which transfer_utils provides, without asserting them equal "
        f"to the package's version: add e.g. `torch.testing.assert_close(name(x), tu_mod.name(x))` "
        f"with `from transfer_utils.part import mod as tu_mod`, or import the helper instead")


def _synthetic(*cells: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def test_the_redefinition_checker_flags_an_unchecked_helper():
    helpers, modules = _helper_names(), _module_names()
    assert "coral_transform" in helpers and "transfer_utils.adaptation.coral" in modules
    define = "def coral_transform(Xs, Xt):\n    return Xs\n"
    unchecked = _synthetic("import torch\nfrom transfer_utils.adaptation import coral as tu_coral", define,
                           "X = coral_transform(torch.ones(3, 2), torch.ones(3, 2))\nassert X.shape == (3, 2)")
    assert unchecked_redefinitions(unchecked, helpers, modules) == ["coral_transform"]
    checked = _synthetic("import torch\nfrom transfer_utils.adaptation import coral as tu_coral", define,
                         "X = torch.ones(3, 2)\n"
                         "torch.testing.assert_close(coral_transform(X, X), tu_coral.coral_transform(X, X))")
    assert unchecked_redefinitions(checked, helpers, modules) == []
    by_alias = _synthetic("import numpy as np\n"
                          "from transfer_utils.adaptation.coral import coral_transform as tu_coral_transform", define,
                          "np.testing.assert_allclose(coral_transform(1, 2), tu_coral_transform(1, 2))")
    assert unchecked_redefinitions(by_alias, helpers, modules) == []
    only_package = _synthetic("from transfer_utils.adaptation import coral as tu_coral", define,
                              "assert tu_coral.coral_transform(1, 2) is not None")
    assert unchecked_redefinitions(only_package, helpers, modules) == ["coral_transform"]
    with pytest.raises(AssertionError, match="no star imports"):
        unchecked_redefinitions(_synthetic("from transfer_utils.adaptation.coral import *"), helpers, modules)
