"""The package is laid out by the course's parts, and the layout is kept.

Rules (README, "Layout"):

* the parts are ranked ``core < data < calculus < nets < transfer < adaptation < bayes < rl <
  language``; a module imports only from its own part or from parts ranked below it (nothing
  imports upward), and no part imports the command-line modules at the top of the package
  (``report``, ``prepare``);
* no module imports a private name (``_name``) from another module, nor reaches one through an
  imported module (``module._name``);
* no module is longer than 300 lines;
* each part's ``__init__`` lists its modules, in ``__all__`` and in its docstring.

Each rule is checked on the real package and shown to catch a violation on a synthetic module.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import transfer_utils

PACKAGE = Path(transfer_utils.__file__).resolve().parent
PARTS = ["core", "data", "calculus", "nets", "transfer", "adaptation", "bayes", "rl", "language",
         "efficient", "crossmodal"]
TOP_LEVEL = {"report", "prepare", "__main__"}  # command-line entry points: may import any part
MAX_LINES = 300


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def part_of(name: str) -> str | None:
    """``transfer_utils.bayes.laplace`` -> ``bayes``; a top-level module -> None."""
    pieces = name.split(".")
    return pieces[1] if len(pieces) > 1 and pieces[1] in PARTS else None


def imports(source: str, name: str) -> list[tuple[str, list[str], int]]:
    """Every ``transfer_utils`` import in ``source`` (at any depth, functions included): the module
    imported from, the names imported, and the line."""
    found = []
    package = name if name.endswith("__init__") else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("transfer_utils")]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # relative import: resolve against this module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([mod] if mod else []))
            if mod.startswith("transfer_utils"):
                found.append((mod, [a.name for a in node.names], node.lineno))
    return found


def layering_violations(name: str, source: str) -> list[str]:
    """What in module ``name`` (with text ``source``) breaks the import rules."""
    bad = []
    mine = part_of(name)
    for mod, names, line in imports(source, name):
        targets = [mod] + [f"{mod}.{n}" for n in names if f"{mod}.{n}".count(".") >= 1]
        target_part = part_of(mod) or next((part_of(t) for t in targets if part_of(t)), None)
        tops = {t.split(".")[1] for t in targets if t.count(".") >= 1}
        if mine is not None and tops & TOP_LEVEL:
            bad.append(f"{name}:{line} imports the command-line module {mod}")
        if mine is not None and target_part is not None and PARTS.index(target_part) > PARTS.index(mine):
            bad.append(f"{name}:{line} imports upward: {mine} -> {target_part} ({mod})")
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private:
            bad.append(f"{name}:{line} imports private {private} from {mod}")
    # module._private through an imported module alias
    aliases = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("transfer_utils"):
            aliases |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            aliases |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.startswith("transfer_utils")}
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name) and node.value.id in aliases):
            bad.append(f"{name}:{node.lineno} reaches private {node.value.id}.{node.attr}")
    return bad


def test_parts_exist_and_nothing_else_is_loose():
    found = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert found == set(PARTS), f"subpackages {sorted(found)}, expected the parts {PARTS}"
    loose = {p.stem for p in PACKAGE.glob("*.py")} - TOP_LEVEL - {"__init__"}
    assert not loose, f"modules outside the parts: {sorted(loose)}; move each into the part that teaches it"


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_respects_the_layering(name: str):
    assert layering_violations(name, modules()[name].read_text()) == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_is_short(name: str):
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines (> {MAX_LINES}): split it by idea"


@pytest.mark.parametrize("part", PARTS)
def test_each_part_lists_what_it_offers(part: str):
    pkg = importlib.import_module(f"transfer_utils.{part}")
    mods = sorted(p.stem for p in (PACKAGE / part).glob("*.py") if p.stem != "__init__")
    assert sorted(pkg.__all__) == mods
    missing = [m for m in mods if f":mod:`{m}`" not in (pkg.__doc__ or "")]
    assert not missing, f"transfer_utils.{part}'s docstring does not describe {missing}"


@pytest.mark.parametrize("source, expected", [
    ("from transfer_utils.bayes.laplace import fit_laplace_logistic", "imports upward: calculus -> bayes"),
    ("from transfer_utils.bayes import laplace", "imports upward: calculus -> bayes"),
    ("import transfer_utils.adaptation.coral", "imports upward: calculus -> adaptation"),
    ("def f():\n    from transfer_utils.nets.training import fit", "imports upward: calculus -> nets"),
    ("from ..nets import training", "imports upward: calculus -> nets"),
    ("from transfer_utils.calculus.optim_base import _finish", "imports private ['_finish']"),
    ("from transfer_utils.core import atomic\natomic._tmp_name('x')", "reaches private atomic._tmp_name"),
    ("from transfer_utils import report", "imports the command-line module"),
])
def test_the_layering_check_catches_violations(source: str, expected: str):
    found = layering_violations("transfer_utils.calculus.newton", source)
    assert any(expected in v for v in found), found


def test_the_layering_check_allows_what_is_allowed():
    ok = ("from transfer_utils.core.validation import check_features\n"
          "from transfer_utils.calculus import optim_base\n"
          "from transfer_utils.data.moons import make_moons_domains\n"
          "from .optim_base import OptimResult\n"
          "x = optim_base.__name__\n")
    assert layering_violations("transfer_utils.calculus.newton", ok) == []
