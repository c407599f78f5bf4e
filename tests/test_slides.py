"""The lecture slides (``make slides``, ``scripts/build_slides.py``): decks built from a small
synthetic executed notebook and from a real notebook, the checks of a deck, and the slide marks that
every notebook of the course carries."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_slides  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MIN_SHOWN = 6  # cells on the slides (speaker notes not counted)
MIN_NOTES = 1
# Two different image payloads: base64 of PNG bytes written out by hand (the first a valid 1x1 PNG;
# the exporter embeds the data as it is), not produced by any code under test.
PNG_SHOWN = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d6a4e70000000049454e44ae426082")).decode()
PNG_HIDDEN = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c63600000000200015fe2b5e80000000049454e44ae426082")).decode()
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def mark(cell: nbformat.NotebookNode, kind: str) -> nbformat.NotebookNode:
    cell.metadata["slideshow"] = {"slide_type": kind}
    return cell


def figure(png: str) -> nbformat.NotebookNode:
    return new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})


def tiny_source() -> nbformat.NotebookNode:
    """Title slide, an unmarked derivation, a figure on a slide with notes, an unmarked figure."""
    return new_notebook(cells=[
        mark(new_markdown_cell("# 00 Tiny lecture\n\nMarkedTitleWord"), "slide"),
        new_markdown_cell("UnmarkedProseWord is only for self-study."),
        mark(new_code_cell("plot_shown()"), "slide"),
        mark(new_markdown_cell("SpeakerNoteWord: ask the class what the slope is."), "notes"),
        new_code_cell("plot_hidden()"),
        mark(new_markdown_cell("SkippedWord"), "skip"),
        mark(new_markdown_cell("FragmentWord appears on a key press."), "fragment"),
    ], metadata=KERNEL)


def tiny_executed(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What ``make notebooks`` would have saved: the same cells, with outputs."""
    executed = nbformat.from_dict(source)
    executed.cells[2].outputs = [figure(PNG_SHOWN)]
    executed.cells[2].execution_count = 1
    executed.cells[4].outputs = [figure(PNG_HIDDEN)]
    executed.cells[4].execution_count = 2
    return executed


def write_repo(tmp_path: Path, source: nbformat.NotebookNode, executed: nbformat.NotebookNode | None,
               stem: str = "00_tiny") -> tuple[Path, Path]:
    root, executed_dir = tmp_path / "repo", tmp_path / "executed"
    (root / "notebooks").mkdir(parents=True)
    executed_dir.mkdir()
    nbformat.write(source, root / "notebooks" / f"{stem}.ipynb")
    if executed is not None:
        nbformat.write(executed, executed_dir / f"{stem}.ipynb")
    return root, executed_dir


def sections_text(html: str) -> str:
    """The part of the page reveal.js shows: from the first slide to the end of the slides."""
    return html[html.index('<div class="slides">'):]


def test_synthetic_deck_has_the_marked_cells_their_figure_and_the_notes(tmp_path, capsys):
    source = tiny_source()
    root, executed_dir = write_repo(tmp_path, source, tiny_executed(source))
    out = tmp_path / "slides"
    assert build_slides.main(["--root", str(root), "--executed", str(executed_dir), "--out", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err
    html = (out / "00_tiny.slides.html").read_text(encoding="utf-8")
    body = sections_text(html)
    for word in ("MarkedTitleWord", "SpeakerNoteWord", "FragmentWord"):
        assert word in body
    for word in ("UnmarkedProseWord", "SkippedWord"):
        assert word not in html
    assert f"data:image/png;base64,{PNG_SHOWN}" in body
    assert PNG_HIDDEN not in html
    notes = re.findall(r'<aside class="notes">(.*?)</aside>', body, flags=re.S)
    assert len(notes) == 1 and "SpeakerNoteWord" in notes[0]
    assert len(re.findall(r'<div class="fragment"', body)) == 1
    # two slides (title; figure with its notes and the fragment): two outer <section>s, each holding one
    assert body.count("<section") == 4
    assert "reveal.js" in html and "RevealNotes" in html


def test_reveal_prefix_points_the_page_at_a_local_copy(tmp_path):
    source = tiny_source()
    html = build_slides.export_deck(source, "00_tiny", reveal_prefix="reveal.js")
    assert 'href="reveal.js/dist/reveal.css"' in html and '"reveal.js/plugin/notes/notes.js"' in html
    assert "unpkg.com/reveal.js" not in html
    assert "unpkg.com/reveal.js" in build_slides.export_deck(source, "00_tiny")


def test_marks_come_from_the_source_and_outputs_from_the_run(tmp_path):
    """A cell edited since the run has no outputs (and is reported); the others keep theirs, even
    when cells were inserted before them; marks added after the run count."""
    source = tiny_source()
    executed = tiny_executed(source)
    for cell in executed.cells:
        cell.metadata.pop("slideshow", None)  # the run happened before the slides were marked
    source.cells.insert(0, mark(new_code_cell("plot_hidden()"), "slide"))  # same text, a new cell
    merged, unmatched = build_slides.with_outputs(source, executed)
    assert merged.cells[0].outputs[0]["data"]["image/png"] == PNG_HIDDEN
    assert merged.cells[3].outputs[0]["data"]["image/png"] == PNG_SHOWN
    assert unmatched == [5]  # the second plot_hidden(): the run had only one
    assert source.cells[3].outputs == []  # the source is left as it was
    source.cells[3].source = "plot_shown(changed=True)"
    merged, unmatched = build_slides.with_outputs(source, executed)
    assert unmatched == [3, 5] and merged.cells[3].outputs == []
    _, unmatched = build_slides.with_outputs(source, None)
    assert unmatched == [0, 3, 5]


def test_an_edited_marked_cell_is_reported(tmp_path, capsys):
    source = tiny_source()
    executed = tiny_executed(source)
    source.cells[2].source = "plot_shown(bigger=True)"
    root, executed_dir = write_repo(tmp_path, source, executed)
    assert build_slides.main(["--root", str(root), "--executed", str(executed_dir),
                              "--out", str(tmp_path / "slides")]) == 0
    assert "changed since the run (cells [2])" in capsys.readouterr().err
    assert PNG_SHOWN not in (tmp_path / "slides" / "00_tiny.slides.html").read_text(encoding="utf-8")


def test_without_an_executed_copy_the_source_is_used_or_refused(tmp_path, capsys):
    root, executed_dir = write_repo(tmp_path, tiny_source(), None)
    out = tmp_path / "slides"
    assert build_slides.main(["--root", str(root), "--executed", str(executed_dir), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "no executed copy" in err and "without outputs" in err and "make notebooks" in err
    assert "MarkedTitleWord" in (out / "00_tiny.slides.html").read_text(encoding="utf-8")
    strict = tmp_path / "strict"
    assert build_slides.main(["--root", str(root), "--executed", str(executed_dir), "--out", str(strict),
                              "--require-executed"]) == 1
    assert "run `make notebooks` first" in capsys.readouterr().err
    assert not strict.exists()


def test_a_notebook_without_marks_or_with_an_unknown_mark_fails(tmp_path, capsys):
    bare = new_notebook(cells=[new_markdown_cell("# 00 Nothing marked")], metadata=KERNEL)
    root, executed_dir = write_repo(tmp_path, bare, None)
    assert build_slides.main(["--root", str(root), "--executed", str(executed_dir),
                              "--out", str(tmp_path / "s")]) == 1
    assert "no cell is marked" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown slide_type 'Slide'"):
        build_slides.slide_notebook(new_notebook(cells=[mark(new_markdown_cell("x"), "Slide")]))


def test_check_deck_finds_a_missing_cell_an_extra_cell_and_a_missing_figure():
    nb = tiny_executed(tiny_source())
    html = build_slides.export_deck(nb, "00_tiny")
    assert build_slides.check_deck(nb, html) == []
    shown, hidden = nb.cells[0].id, nb.cells[1].id
    problems = build_slides.check_deck(nb, html.replace(f'id="cell-id={shown}"', 'id="gone"'))
    assert len(problems) == 1 and "is marked 'slide' but is not in the slides" in problems[0]
    problems = build_slides.check_deck(nb, html + f'<div id="cell-id={hidden}"></div>')
    assert len(problems) == 1 and "is not marked but is in the slides" in problems[0]
    problems = build_slides.check_deck(nb, html.replace(PNG_SHOWN, "AAAA"))
    assert len(problems) == 1 and "image/png figure is not in the slides" in problems[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_is_marked_for_the_slides(path):
    nb = nbformat.read(path, as_version=4)
    kinds = [build_slides.slide_type(cell) for cell in nb.cells]
    shown = [k for k in kinds if k in build_slides.SHOWN]
    assert len(shown) >= MIN_SHOWN, f"{path.name}: {len(shown)} cells marked for the slides, want >= {MIN_SHOWN}"
    assert kinds.count("notes") >= MIN_NOTES, f"{path.name}: no speaker notes (slide_type 'notes')"
    assert next(k for k in kinds if k is not None) == "slide", f"{path.name}: the first marked cell must start a slide"
    assert nb.cells[0].cell_type == "markdown" and kinds[0] == "slide", f"{path.name}: the title cell opens the deck"
    assert not set(kinds) - set(build_slides.SLIDE_TYPES) - {None}
    assert all(cell.cell_type == "markdown" for cell, k in zip(nb.cells, kinds) if k == "notes")
    # the marks survive `jupytext --sync`: the .py twin keeps slideshow metadata
    assert nb.metadata["jupytext"]["cell_metadata_filter"] == "slideshow,tags,-all"
    text = path.with_suffix(".py").read_text(encoding="utf-8")
    assert "#     cell_metadata_filter: slideshow,tags,-all\n" in text
    assert text.count('slideshow={"slide_type": ') == sum(k is not None for k in kinds)


def test_a_real_notebook_makes_a_deck_of_exactly_its_marked_cells(tmp_path, capsys):
    """01 from its source (no executed copy here): every marked cell is in the deck, no other."""
    stem = "01_derivatives_autograd"
    out = tmp_path / "slides"
    assert build_slides.main(["--notebooks", stem, "--executed", str(tmp_path / "none"), "--out", str(out)]) == 0
    assert "without outputs" in capsys.readouterr().err
    html = (out / f"{stem}.slides.html").read_text(encoding="utf-8")
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    rendered = re.findall(r'id="cell-id=([^"]+)"', sections_text(html))
    assert rendered == [cell.id for cell in build_slides.marked_cells(nb)]
    assert len(re.findall(r'<aside class="notes">', html)) == [build_slides.slide_type(c) for c in nb.cells].count("notes")
    assert "# 01 Derivatives and automatic differentiation" not in html  # rendered, not raw
    assert "01 Derivatives and automatic differentiation" in html


def test_the_marks_survive_git_and_notes_are_not_reading_time():
    """git's clean filter keeps the ``slideshow`` metadata; speaker notes are not counted as prose."""
    import importlib.util

    import nbstrip

    spec = importlib.util.spec_from_file_location("reading_time", ROOT / "scripts" / "reading_time.py")
    reading_time = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reading_time)
    nb = tiny_executed(tiny_source())
    stripped = nbstrip.strip_notebook(nbformat.from_dict(nb))
    assert [c["metadata"].get("slideshow") for c in stripped["cells"]] == [c.metadata.get("slideshow") for c in nb.cells]
    words = sum(n for _, n in reading_time.sections(nb))
    note = " ".join(nb.cells[3].source.split())
    assert words == sum(len(c.source.split()) for c in nb.cells if c.cell_type == "markdown") - len(note.split())
