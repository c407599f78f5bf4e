"""The course site (``make site``): the nbval plugin that saves executed notebooks, the page
generator, and the checks of the built site, each tested on small fakes; one test builds a real
site with Sphinx from two fake executed notebooks and checks it."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import badges  # noqa: E402
import build_site  # noqa: E402
import check_site  # noqa: E402
import nbval_save  # noqa: E402

# A 1x1 PNG, written out byte by byte (not produced by any code under test).
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d6a4e70000000049454e44ae426082")).decode()


def tiny_notebook(title: str = "# 00 A tiny notebook") -> nbformat.NotebookNode:
    return new_notebook(cells=[new_markdown_cell(f"{title}\n\nSome math: $f'(x) = 2x$."),
                               new_code_cell("print('hello')"),
                               new_markdown_cell("A figure."),
                               new_code_cell("plot()"),
                               new_code_cell("never_ran()")],
                        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def fake_items(nb: nbformat.NotebookNode, outputs: list, path: str = "/x/notebooks/00_tiny.ipynb") -> list:
    parent = SimpleNamespace(nb=nb, fspath=path)
    return [SimpleNamespace(parent=parent, cell_num=i, test_outputs=outs) for i, outs in enumerate(outputs)]


STREAM = {"output_type": "stream", "name": "stdout", "text": "hello\n"}
FIGURE = {"output_type": "display_data", "data": {"image/png": PNG, "text/plain": "<Figure>"}, "metadata": {}}


# ---- scripts/nbval_save.py ----

def test_source_digest_follows_sources_not_outputs():
    nb = tiny_notebook()
    reference = hashlib.sha256(json.dumps([[c.cell_type, c.source] for c in nb.cells],
                                          ensure_ascii=False).encode()).hexdigest()
    assert nbval_save.source_digest(nb) == reference
    ran = nbval_save.executed_notebook(nb, {0: [STREAM]})
    assert nbval_save.source_digest(ran) == reference
    nb.cells[1].source = "print('changed')"
    assert nbval_save.source_digest(nb) != reference


def test_saved_notebook_holds_the_outputs_of_the_run(tmp_path):
    nb = tiny_notebook()
    result = {"output_type": "execute_result", "data": {"text/plain": "3"}, "metadata": {}, "execution_count": 41}
    path = nbval_save.save_items(fake_items(nb, [[STREAM], [FIGURE, result], None]), tmp_path)
    assert path == tmp_path / "00_tiny.ipynb"
    saved = nbformat.read(path, as_version=4)
    nbformat.validate(saved)
    code = [c for c in saved.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, 2, None]
    assert code[0].outputs == [STREAM]
    assert code[1].outputs[0]["data"]["image/png"] == PNG
    assert code[1].outputs[1]["execution_count"] == 2  # numbered as in this run
    assert code[2].outputs == []
    assert [c.source for c in saved.cells] == [c.source for c in nb.cells]
    assert saved.metadata["transfer_course"]["source_sha256"] == nbval_save.source_digest(nb)
    assert nb.cells[1].outputs == []  # the notebook nbval read is left as it was
    assert [p.name for p in tmp_path.iterdir()] == ["00_tiny.ipynb"]


def test_an_error_output_is_kept(tmp_path):
    error = {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["Traceback ...", "ValueError: bad"]}
    saved = nbformat.read(nbval_save.save_items(fake_items(tiny_notebook(), [[STREAM], [error], []]), tmp_path), 4)
    assert saved.cells[3].outputs[0]["ename"] == "ValueError"


def test_a_failed_write_leaves_the_old_copy(tmp_path, monkeypatch):
    target = tmp_path / "00_tiny.ipynb"
    target.write_text("old")

    def broken(nb, handle):
        handle.write("half")
        raise OSError("disk full")

    monkeypatch.setattr(nbval_save.nbformat, "write", broken)
    with pytest.raises(OSError):
        nbval_save.save_items(fake_items(tiny_notebook(), [[STREAM], [], []]), tmp_path)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["00_tiny.ipynb"]


def test_the_plugin_saves_what_nbval_ran(tmp_path):
    """The real thing: nbval runs a two-cell notebook in a kernel; the plugin saves its outputs."""
    nb = new_notebook(cells=[new_code_cell("print(6 * 7)"), new_code_cell("x = 1")],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, tmp_path / "00_run.ipynb")
    out = tmp_path / "executed"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                          "--nbval-current-env", "-p", "scripts.nbval_save", f"--save-executed={out}",
                          "--rootdir", str(tmp_path), str(tmp_path / "00_run.ipynb")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    saved = nbformat.read(out / "00_run.ipynb", as_version=4)
    assert saved.cells[0].outputs[0]["text"] == "42\n"
    assert saved.cells[1].outputs == [] and saved.cells[1].execution_count == 2


def test_without_the_option_nothing_is_saved(tmp_path):
    item = SimpleNamespace(config=SimpleNamespace(getoption=lambda name: None), test_outputs=[], cell_num=0,
                           parent=SimpleNamespace(nb=tiny_notebook(), fspath=str(tmp_path / "00_x.ipynb")))
    nbval_save.pytest_runtest_teardown(item, None)
    assert list(tmp_path.iterdir()) == []


# ---- scripts/build_site.py ----

CURRICULUM = """# Curriculum
## Part I - Calculus foundations
**01 Derivatives**
- text **02 not a title line**
**02 Gradient descent**
## Part II - Transfer
**04 What transfers**
## Notation
**99 not a notebook**
## Closing - before your own project
**15 FAQ**
"""


def test_parts_come_from_the_curriculum_headings():
    parts = build_site.read_parts(CURRICULUM)
    assert parts == [build_site.Part("Part I: Calculus foundations", ("01", "02")),
                     build_site.Part("Part II: Transfer", ("04",)),
                     build_site.Part("Closing: before your own project", ("15",))]


def test_navigation_places_every_notebook_once():
    parts = build_site.read_parts(CURRICULUM)
    stems = ["00_tour", "02_gd", "04_wt", "11_new", "15_faq"]
    nav = build_site.navigation(parts, stems)
    assert [(g.caption, g.numbers) for g in nav] == [
        ("Start here", ("00_tour",)), ("Part I: Calculus foundations", ("02_gd",)),
        ("Part II: Transfer", ("04_wt",)), ("Closing: before your own project", ("15_faq",)),
        ("More notebooks", ("11_new",))]
    assert sorted(s for g in nav for s in g.numbers) == stems


def test_the_course_curriculum_gives_parts():
    parts = build_site.read_parts((ROOT / "CURRICULUM.md").read_text(encoding="utf-8"))
    assert [p.caption.split(":")[0] for p in parts][:4] == ["Part I", "Part II", "Part III", "Part IV"]
    assert parts[0].numbers == ("01", "02", "03")


REPO = badges.CourseRepo("org", "course", "main")


@pytest.mark.parametrize("link, expected", [
    ("[04](notebooks/04_a.ipynb)", "[04](notebooks/04_a.ipynb)"),
    ("[05](notebooks/05_b.ipynb)", "05"),
    ("[map](CURRICULUM.md)", "[map](https://github.com/org/course/blob/main/CURRICULUM.md)"),
    ("[n](CURRICULUM.md#notation)", "[n](https://github.com/org/course/blob/main/CURRICULUM.md#notation)"),
    ("[web](https://example.org/x)", "[web](https://example.org/x)"),
    ("[here](#terms)", "[here](#terms)"),
    ("[g](glossary.md)", "[g](glossary.md)"),
])
def test_links_are_rewritten_for_the_site(link, expected):
    pages = {"notebooks/04_a.ipynb", "glossary.md"}
    assert build_site.rewrite_links(f"see {link}.", pages, REPO) == f"see {expected}."


def test_landing_page_has_the_table_the_summaries_and_the_navigation():
    readme = ("# Course\n\nFirst paragraph.\n\nSecond.\n\n<!-- notebook-table:start -->\n| nb | what |\n|---|---|\n"
              "| [00 T](notebooks/00_t.ipynb) | tour |\n| [01 D](notebooks/01_d.ipynb) | derivatives |\n"
              "<!-- notebook-table:end -->\n")
    glossary = ("# G\n\n## Terms\n\n## The notebooks in one line / 每个 notebook 一句话\n\n| nb | in one line | 一句话概括 |\n"
                "|---|---|---|\n| [00 T](notebooks/00_t.ipynb) | tour | 导览 |\n")
    nav = [build_site.Part("Start here", ("00_t",))]
    page = build_site.landing_page(readme, glossary, nav, {"notebooks/00_t.ipynb", "glossary.md"}, REPO)
    assert page.startswith("# Course\n\nFirst paragraph.\n")
    assert "Second." not in page
    assert "| [00 T](notebooks/00_t.ipynb) | tour |" in page and "| 01 D | derivatives |" in page
    assert "| [00 T](notebooks/00_t.ipynb) | tour | 导览 |" in page
    assert ":caption: Start here\n\nnotebooks/00_t\n```" in page and "\nglossary\n```" in page


def test_notebook_page_starts_with_its_links(tmp_path):
    executed = tiny_notebook()
    page = build_site.notebook_page(executed, "00_tiny", REPO, root=tmp_path)
    header = page.cells[0].source
    assert "https://colab.research.google.com/github/org/course/blob/main/notebooks/00_tiny.ipynb" in header
    assert "https://mybinder.org/v2/gh/org/course/main?labpath=notebooks%2F00_tiny.ipynb" in header
    assert "student version: planned" in header and "](https://github.com/org/course/blob/main/student" not in header
    assert page.cells[1:] == executed.cells and len(executed.cells) == 5
    nbformat.validate(page)
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "00_tiny.ipynb").write_text("{}")
    header = build_site.notebook_page(executed, "00_tiny", REPO, root=tmp_path).cells[0].source
    assert "[student version](https://github.com/org/course/blob/main/student/00_tiny.ipynb)" in header


def test_missing_and_stale_executed_copies_are_found(tmp_path):
    (tmp_path / "notebooks").mkdir()
    done = tmp_path / "executed"
    for stem in ("00_a", "01_b", "02_c"):
        nbformat.write(tiny_notebook(f"# {stem[:2]} x"), tmp_path / "notebooks" / f"{stem}.ipynb")
    for stem in ("00_a", "01_b"):
        nb = nbformat.read(tmp_path / "notebooks" / f"{stem}.ipynb", 4)
        nbval_save.write_notebook_atomic(nbval_save.executed_notebook(nb, {0: [STREAM]}), done / f"{stem}.ipynb")
    edited = nbformat.read(tmp_path / "notebooks" / "01_b.ipynb", 4)
    edited.cells[1].source = "print('edited')"
    nbformat.write(edited, tmp_path / "notebooks" / "01_b.ipynb")
    assert build_site.stale_or_missing(["00_a", "01_b", "02_c"], done, root=tmp_path) == (["02_c"], ["01_b"])
    assert build_site.resolve_stems(["01", "notebooks/00_a.ipynb"], root=tmp_path) == ["00_a", "01_b"]
    with pytest.raises(SystemExit):
        build_site.resolve_stems(["07"], root=tmp_path)


def test_build_refuses_without_executed_notebooks(tmp_path, capsys):
    code = build_site.main(["--notebooks", "00", "--executed", str(tmp_path / "none"),
                            "--src", str(tmp_path / "src"), "--out", str(tmp_path / "site")])
    assert code == 2
    assert "make notebooks" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


# ---- scripts/check_site.py ----

def write_site(root: Path, pages: dict[str, str]) -> Path:
    for name, body in pages.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"<html><body>{body}</body></html>")
    return root


OUTPUT_FIG = '<div class="cell_output docutils container"><img src="../_images/a.png" alt="fig"/></div>'
GOOD = {"index.html": '<a href="notebooks/00_a.html#top">00</a> <a href="https://x.org/">web</a>',
        "notebooks/00_a.html": f'<h1 id="top">A</h1><img src="https://badge/x.svg"/>{OUTPUT_FIG}'
                               '<a href="../index.html">home</a> <a href="#top">up</a>',
        "_images/a.png": "png",
        "_static/macros.html": '<a href="{{ pathto(x) }}">template</a>'}


def test_a_good_site_passes(tmp_path):
    assert check_site.check_site(write_site(tmp_path, GOOD), ["00_a"]) == []


@pytest.mark.parametrize("change, expected", [
    ({"index.html": '<a href="notebooks/01_b.html">01</a>'}, "names a missing file"),
    ({"index.html": '<a href="notebooks/00_a.html#nowhere">00</a>'}, "no id 'nowhere'"),
    ({"index.html": '<img src="../../etc/x.png"/>'}, "leaves the site"),
    ({"notebooks/00_a.html": '<h1 id="top">A</h1><img src="https://badge/x.svg"/><img src="../_images/a.png"/>'},
     "no figure in any output"),
    ({"notebooks/00_a.html": OUTPUT_FIG + '<div class="output traceback highlight-ipythontb"><pre>x</pre></div>'},
     "an error output"),
    ({"notebooks/00_a.html": OUTPUT_FIG + '<div class="cell_output"><pre>Traceback (most recent call last):'
                                          '</pre></div>'}, "a Python traceback"),
])
def test_each_problem_is_found(tmp_path, change, expected):
    problems = check_site.check_site(write_site(tmp_path, {**GOOD, **change}), ["00_a"])
    assert any(expected in p for p in problems), problems


def test_a_missing_page_or_site_is_found(tmp_path):
    assert "the page of notebook 01_b is missing" in " ".join(check_site.check_site(write_site(tmp_path, GOOD),
                                                                                       ["00_a", "01_b"]))
    assert "was not built" in check_site.check_site(tmp_path / "nothing", ["00_a"])[0]


# ---- the whole build, with Sphinx ----

def test_a_site_built_from_fake_executed_notebooks(tmp_path):
    """Two fake executed notebooks under the names of real ones: one with a figure, one whose second
    cell failed. The site builds; the first page passes every check, the second shows its error."""
    executed = tmp_path / "executed"
    good = nbval_save.executed_notebook(tiny_notebook("# 00 A tour"), {0: [STREAM], 1: [FIGURE]})
    error = {"output_type": "error", "ename": "ValueError", "evalue": "bad",
             "traceback": ["Traceback (most recent call last):", "ValueError: bad"]}
    bad = nbval_save.executed_notebook(tiny_notebook("# 10 Bayes"), {0: [STREAM], 1: [FIGURE, error]})
    stems = ["00_tour", "10_bayesian_transfer"]
    for stem, nb in zip(stems, (good, bad)):
        nbval_save.write_notebook_atomic(nb, executed / f"{stem}.ipynb")
    src, out = tmp_path / "src", tmp_path / "site"
    build_site.generate(stems, executed, src)
    run = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", "-d", str(tmp_path / "dt"),
                          str(src), str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert check_site.check_site(out, ["00_tour"]) == []
    assert any("error output" in p for p in check_site.check_site(out, ["10_bayesian_transfer"]))
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="notebooks/00_tour.html"' in index and "每个 notebook 一句话" in index
    assert 'href="notebooks/05_feature_extraction.html"' not in index  # not in this build: plain text
    page = (out / "notebooks" / "00_tour.html").read_text(encoding="utf-8")
    assert "colab.research.google.com" in page
    if (build_site.ROOT / "student" / "00_tour.ipynb").exists():  # `make student` made it: linked
        assert "student/00_tour.ipynb" in page and "student version: planned" not in page
    else:
        assert "student version: planned" in page
    assert "\\(f'(x) = 2x\\)" in page  # dollar math handed to MathJax
    glossary = (out / "glossary.html").read_text(encoding="utf-8")
    assert "梯度下降" in glossary and "\\(\\nabla" in glossary
