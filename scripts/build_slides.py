"""Lecture slides (``make slides``): reveal.js slides of each notebook, with the test run's figures.

Which cells go on the slides is marked in the notebooks themselves (``notebooks/NN_name.ipynb``),
in each cell's ``slideshow`` metadata, the key JupyterLab's property inspector and RISE write; in
the ``.py`` twin the header reads ``# %% [markdown] slideshow={"slide_type": "slide"}``:

* ``"slide"`` starts a new slide, ``"subslide"`` a slide below it (reveal.js's vertical stack),
  ``"fragment"`` a part of the slide that appears on the next key press, ``"-"`` continues the
  slide above;
* ``"notes"``: speaker notes of the slide above, shown only in the speaker view (key ``S``);
* a cell without ``slideshow`` metadata is left off (it becomes ``"skip"``), as is one marked
  ``"skip"``.

Nothing is executed here (as for ``make site``): ``make notebooks`` runs every notebook once and
saves it with its outputs to ``build/executed/`` (``scripts/nbval_save.py``). The deck of a notebook
is its source notebook, for the cells and their marks (so marks added since the run count), with
each code cell's outputs taken from the executed copy's code cell of the same source
(:func:`with_outputs`). A notebook without an executed copy falls back to its source without
outputs (slides without figures) and the script says so, naming ``make notebooks``; with
``--require-executed`` (CI) that is an error instead. A code cell changed since the run gets no
outputs, with a warning.

Each deck is exported by nbconvert's ``SlidesExporter`` (the ``reveal`` template, figures embedded
as base64) to ``build/slides/NN_name.slides.html``, then checked (:func:`check_deck`): every marked
cell is in the HTML, no unmarked one is, and every image output of a marked code cell is there.

reveal.js itself is not bundled: the template loads reveal.js 4 (and require.js, jQuery, MathJax)
from a CDN when the HTML is opened. ``--reveal-prefix DIR`` (``make slides REVEAL_PREFIX=...``) points
it at a local copy of reveal.js 4 instead (a folder holding ``dist/`` and ``plugin/``, relative to
the HTML file); the other scripts still come from their CDNs.

Usage::

    python scripts/build_slides.py                          # every notebook
    python scripts/build_slides.py --notebooks 01 09        # a subset
    python scripts/build_slides.py --require-executed       # CI: fail without an executed copy
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections import defaultdict, deque
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_site import resolve_stems  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ("slide", "subslide", "fragment", "-")
SLIDE_TYPES = SHOWN + ("notes", "skip")
IMAGE_TYPES = ("image/png", "image/jpeg")


def slide_type(cell: nbformat.NotebookNode) -> str | None:
    """The cell's ``slideshow.slide_type``, or ``None`` when the cell is not marked."""
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type")


def marked_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The cells that appear in the deck: marked, and not ``"skip"`` (speaker notes included)."""
    return [cell for cell in nb.cells if slide_type(cell) not in (None, "skip")]


def with_outputs(source: nbformat.NotebookNode, executed: nbformat.NotebookNode | None
                 ) -> tuple[nbformat.NotebookNode, list[int]]:
    """``source`` (a copy) with each code cell's outputs and count from ``executed``.

    The ``k``-th code cell of ``source`` with a given source text gets the outputs of the ``k``-th
    code cell of ``executed`` with that text, so that cells inserted, removed or edited since the
    run do not shift the others. Returns the notebook and the indices (into ``source.cells``) of
    the code cells that found no counterpart; with ``executed=None`` that is every code cell.
    """
    nb = copy.deepcopy(source)
    ran: dict[str, deque] = defaultdict(deque)
    for cell in (executed.cells if executed is not None else []):
        if cell.cell_type == "code":
            ran[cell.source].append(cell)
    unmatched = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if ran[cell.source]:
            done = ran[cell.source].popleft()
            cell.outputs = copy.deepcopy(done.outputs)
            cell.execution_count = done.execution_count
        else:
            cell.outputs, cell.execution_count = [], None
            unmatched.append(index)
    return nb, unmatched


def slide_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` in which every unmarked cell is ``"skip"``; unknown slide types are errors."""
    deck = copy.deepcopy(nb)
    for cell in deck.cells:
        kind = slide_type(cell)
        if kind is None:
            cell.metadata["slideshow"] = {"slide_type": "skip"}
        elif kind not in SLIDE_TYPES:
            raise ValueError(f"cell {cell.get('id', '?')}: unknown slide_type {kind!r} (use one of {SLIDE_TYPES})")
    if not any(slide_type(cell) in SHOWN for cell in deck.cells):
        raise ValueError("no cell is marked for the slides (slideshow metadata)")
    return deck


def export_deck(nb: nbformat.NotebookNode, title: str, reveal_prefix: str | None = None) -> str:
    """The reveal.js slides of ``nb`` (its marked cells) as one HTML page, figures embedded."""
    from nbconvert import SlidesExporter

    exporter = SlidesExporter()
    exporter.reveal_scroll = True  # a long cell (a title with objectives, a derivation) scrolls, not clipped
    if reveal_prefix:
        exporter.reveal_url_prefix = reveal_prefix
    html, _ = exporter.from_notebook_node(slide_notebook(nb), resources={"metadata": {"name": title}})
    return html


def check_deck(nb: nbformat.NotebookNode, html: str) -> list[str]:
    """What is wrong with ``html``, the deck of ``nb``: a marked cell missing, an unmarked (or
    ``"skip"``) cell present, or an image output of a marked code cell missing. Cells are found by
    the ``id="cell-id=..."`` anchor nbconvert writes for each cell it renders."""
    problems = []
    shown = {id(cell) for cell in marked_cells(nb)}
    for index, cell in enumerate(nb.cells):
        anchor = f'id="cell-id={cell.get("id", "")}"'
        if not cell.get("id"):
            problems.append(f"cell {index} has no id (nbformat 4.5 cell ids are needed to check the deck)")
        elif id(cell) in shown and anchor not in html:
            problems.append(f"cell {index} ({cell.id}) is marked {slide_type(cell)!r} but is not in the slides")
        elif id(cell) not in shown and anchor in html:
            problems.append(f"cell {index} ({cell.id}) is not marked but is in the slides")
        if id(cell) in shown and cell.cell_type == "code":
            for out in cell.get("outputs", []):
                for mime in IMAGE_TYPES:
                    data = out.get("data", {}).get(mime)
                    if data and "".join(data).strip()[:200] not in html:
                        problems.append(f"cell {index} ({cell.id}): its {mime} figure is not in the slides")
    return problems


def build(stem: str, executed_dir: Path, out_dir: Path, root: Path = ROOT, reveal_prefix: str | None = None,
          require_executed: bool = False) -> tuple[Path | None, list[str], list[str]]:
    """Build and check the deck of notebook ``stem``. Returns its path (``None`` when it was not
    written), the warnings and the problems."""
    source = nbformat.read(root / "notebooks" / f"{stem}.ipynb", as_version=4)
    executed_path = executed_dir / f"{stem}.ipynb"
    warnings: list[str] = []
    if executed_path.exists():
        executed = nbformat.read(executed_path, as_version=4)
    elif require_executed:
        return None, warnings, [f"no executed copy {executed_path}: run `make notebooks` first (it saves "
                                "each notebook it runs there), or build without --require-executed"]
    else:
        executed = None
        warnings.append(f"no executed copy {executed_path}: the slides show the source without outputs "
                        "(no figures); run `make notebooks` first for the figures")
    nb, unmatched = with_outputs(source, executed)
    marked = {id(cell) for cell in marked_cells(nb)}
    stale = [i for i in unmatched if id(nb.cells[i]) in marked]
    if executed is not None and stale:
        warnings.append(f"{len(stale)} marked code cell(s) changed since the run (cells {stale}) have no "
                        "outputs; run `make notebooks` to refresh build/executed/")
    try:
        html = export_deck(nb, stem, reveal_prefix)
    except ValueError as error:
        return None, warnings, [str(error)]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.slides.html"
    path.write_text(html, encoding="utf-8")
    return path, warnings, check_deck(nb, html)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="*", default=[], metavar="NB",
                        help="build only these notebooks (01, 01_derivatives_autograd or a path); default: all")
    parser.add_argument("--executed", type=Path, default=ROOT / "build" / "executed")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "slides")
    parser.add_argument("--reveal-prefix", default=None,
                        help="where the HTML loads reveal.js 4 from (default: nbconvert's CDN address)")
    parser.add_argument("--require-executed", action="store_true",
                        help="fail when a notebook has no executed copy instead of building it without outputs")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stems = resolve_stems(args.notebooks, args.root)
    start = time.perf_counter()
    failed = 0
    for stem in stems:
        path, warnings, problems = build(stem, args.executed, args.out, args.root, args.reveal_prefix,
                                         args.require_executed)
        for warning in warnings:
            print(f"build_slides: {stem}: warning: {warning}", file=sys.stderr)
        for problem in problems:
            print(f"build_slides: {stem}: {problem}", file=sys.stderr)
        failed += bool(problems)
    print(f"Slides of {len(stems) - failed} of {len(stems)} notebooks in {args.out} "
          f"({time.perf_counter() - start:.0f} s); open NN_name.slides.html, press S for the speaker notes.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
