"""SYLLABUS.md and GLOSSARY.md stay true to the notebooks: every exercise named, every term found in
the notebook said to introduce it, every one-line summary the notebook's own."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {p.stem[:2]: p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
SYLLABUS = (ROOT / "SYLLABUS.md").read_text(encoding="utf-8")
GLOSSARY = (ROOT / "GLOSSARY.md").read_text(encoding="utf-8")
CJK = re.compile(r"[\u4e00-\u9fff]")
spec = importlib.util.spec_from_file_location("reading_time", ROOT / "scripts" / "reading_time.py")
reading_time = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reading_time)


def _text(key: str) -> str:
    """A notebook's markdown and code, lower case, with ``$`` removed (``$L$-smooth`` -> ``l-smooth``)."""
    nb = nbformat.read(NOTEBOOKS[key], as_version=4)
    return "\n".join(c.source for c in nb.cells).replace("$", "").lower()


def _rows(markdown: str, columns: int) -> list[list[str]]:
    """The body rows of every markdown table with ``columns`` columns."""
    rows = []
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| ") and len(cells) == columns and not set(cells[0]) <= set("-"):
            rows.append(cells)
    return rows


def _variants(term: str) -> list[str]:
    """``automatic differentiation (autodiff)`` -> the term without its parenthesis, and each name in it."""
    inner = re.findall(r"\(([^)]*)\)", term)
    outer = re.sub(r"\s*\([^)]*\)", "", term)
    return [v.strip().lower() for v in [outer, *", ".join(inner).split(", ")] if v.strip()]


def test_readme_links_both():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(SYLLABUS.md)" in readme and "(GLOSSARY.md)" in readme


def test_the_syllabus_names_every_exercise_once():
    named = re.findall(r"\b(\d\d)\.(\d+)\s\(", SYLLABUS)
    for key, path in NOTEBOOKS.items():
        count = reading_time.exercises(nbformat.read(path, as_version=4))
        numbers = sorted(int(n) for k, n in named if k == key)
        assert numbers == list(range(1, count + 1)), f"{path.name}: {count} exercises, SYLLABUS names {numbers}"


def test_the_syllabus_has_fourteen_weeks_and_marks_part_v_planned():
    weeks = [r for r in _rows(SYLLABUS, 6) if r[0].isdigit()]
    assert [int(r[0]) for r in weeks] == list(range(1, 15))
    taught = {k for r in weeks for k in re.findall(r"\b(\d\d) ", r[2] + " " + r[3])}
    assert taught >= set(NOTEBOOKS), f"notebooks without a lecture: {sorted(set(NOTEBOOKS) - taught)}"
    for row in weeks:
        existing = set(re.findall(r"\b(\d\d) ", row[2])) <= set(NOTEBOOKS)
        assert existing or "planned" in row[1], row


def test_the_glossary_has_fifty_terms_each_in_its_notebook():
    rows = [r for r in _rows(GLOSSARY, 4) if r[3].startswith("[")]
    assert len(rows) >= 50
    english = [r[0].lower() for r in rows]
    assert len(set(english)) == len(english), "a term is listed twice"
    texts = {key: _text(key) for key in NOTEBOOKS}
    missing = []
    for term, chinese, definition, link in rows:
        key, target = re.fullmatch(r"\[(\d\d)\]\(notebooks/(.+)\)", link).groups()
        assert NOTEBOOKS[key].name == target, link
        assert CJK.search(chinese) and definition, (term, chinese)
        if not any(v in texts[key] for v in _variants(term)):
            missing.append(f"{term} ({key})")
    assert not missing, f"terms not found in the notebook named: {missing}"


def test_the_one_line_summaries_are_the_notebooks_own():
    rows = [r for r in _rows(GLOSSARY, 3) if r[0].startswith("[")]
    summaries = {}
    for link, english, chinese in rows:
        key = re.search(r"\(notebooks/(\d\d)_", link).group(1)
        summaries[key] = english
        assert CJK.search(chinese), link
    assert set(summaries) == set(NOTEBOOKS)
    for key, path in NOTEBOOKS.items():
        header = nbformat.read(path, as_version=4).cells[0].source
        own = re.search(r"\*\*In one line:\*\* (.+)", header).group(1).strip()
        assert summaries[key] == own, path.name


@pytest.mark.parametrize("term, expected", [
    ("automatic differentiation (autodiff)", ["automatic differentiation", "autodiff"]),
    ("profile (quick, full)", ["profile", "quick", "full"]),
    ("Adam", ["adam"]),
])
def test_variants(term: str, expected: list[str]):
    assert _variants(term) == expected
