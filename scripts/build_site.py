"""The course as a static HTML book (``make site``), from the notebooks the test run executed.

Nothing is executed here. ``make notebooks`` runs every notebook once under nbval and saves it with
its outputs to ``build/executed/`` (``scripts/nbval_save.py``); this script turns those copies into
Sphinx sources in ``build/site-src/`` and builds them with myst-nb (``nb_execution_mode = "off"``:
outputs are shown as stored) and the sphinx-book-theme into ``build/site/``:

* ``index.md``, the landing page: README's opening paragraph, its table of notebooks, and each
  notebook's one-line summary in English and Chinese (GLOSSARY.md's last table);
* ``glossary.md``: GLOSSARY.md;
* ``notebooks/NN_name.ipynb``, one page per notebook: the executed copy with a first cell that
  links the notebook on Colab and Binder (the addresses ``scripts/badges.py`` builds from
  ``[tool.course]`` in pyproject.toml), its source, and its student version
  (``student/NN_name.ipynb`` in the repository; "planned" while that file does not exist);
* the navigation: one toctree per part of the course, read from CURRICULUM.md's ``## Part ...``
  and ``## Closing ...`` headings and the ``**NN Title**`` lines under them.

Links in the generated pages that point to a page of the site stay relative; links to other files
of the repository point to the repository; links to a notebook left out of a partial build become
plain text. After the build, ``scripts/check_site.py`` checks the result and the exit status says
whether it passed.

Usage::

    python scripts/build_site.py                                  # every notebook (CI)
    python scripts/build_site.py --notebooks 00_tour 10_bayesian_transfer   # a subset (or: 00 10)
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.corpus.words import generate_corpus_id as random_cell_id

sys.path.insert(0, str(Path(__file__).resolve().parent))
import badges  # noqa: E402  (scripts/badges.py: the one place the Colab/Binder addresses are built)
import check_site  # noqa: E402
from nbval_save import METADATA_KEY, source_digest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TABLE_START, TABLE_END = "<!-- notebook-table:start -->", "<!-- notebook-table:end -->"
SUMMARY_HEADING = "## The notebooks in one line"
LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)")
NOTEBOOK_LINK = re.compile(r"^notebooks/(\d\d_[A-Za-z0-9_]+)\.ipynb$")
PART_HEADING = re.compile(r"^## ((?:Part [IVX]+|Closing)\b.*)$")
PART_NOTEBOOK = re.compile(r"^\*\*(\d\d) ")


@dataclass(frozen=True)
class Part:
    """A group of the navigation: its caption and the notebook numbers (``"04"``) it holds."""

    caption: str
    numbers: tuple[str, ...]


def read_parts(curriculum: str) -> list[Part]:
    """The course's parts from CURRICULUM.md: each ``## Part ...``/``## Closing ...`` heading with
    the numbers of the ``**NN Title**`` lines under it, in order."""
    parts: list[Part] = []
    caption, numbers = None, []
    for line in curriculum.splitlines():
        if line.startswith("## "):
            if caption is not None:
                parts.append(Part(caption, tuple(numbers)))
            match = PART_HEADING.match(line)
            caption, numbers = (match.group(1).replace(" - ", ": ", 1), []) if match else (None, [])
        elif caption is not None and (match := PART_NOTEBOOK.match(line)):
            numbers.append(match.group(1))
    if caption is not None:
        parts.append(Part(caption, tuple(numbers)))
    return parts


def navigation(parts: list[Part], notebooks: list[str]) -> list[Part]:
    """``notebooks`` (stems such as ``"04_what_transfers"``) grouped by part, in course order.

    A notebook that no part lists goes to "Start here" when it comes before the first part's
    notebooks (the tour, 00), else to "More notebooks"; empty groups are left out.
    """
    by_number = {stem[:2]: stem for stem in notebooks}
    placed = {n for part in parts for n in part.numbers}
    first = min(placed, default="99")
    start = tuple(by_number[n] for n in sorted(by_number) if n not in placed and n < first)
    more = tuple(by_number[n] for n in sorted(by_number) if n not in placed and n >= first)
    groups = [Part("Start here", start)]
    groups += [Part(p.caption, tuple(by_number[n] for n in p.numbers if n in by_number)) for p in parts]
    groups.append(Part("More notebooks", more))
    return [g for g in groups if g.numbers]


def rewrite_links(markdown: str, pages: set[str], repo: badges.CourseRepo) -> str:
    """Relative links of a page copied to the site's root, made to work there.

    A link to a page of the site (a path in ``pages``, such as ``notebooks/04_x.ipynb``) is kept; a
    link to a notebook left out of this build becomes its text; any other relative link (a file
    of the repository, such as ``CURRICULUM.md``) points to the file in the repository. Absolute
    addresses and in-page anchors are kept.
    """

    def fix(match: re.Match) -> str:
        bang, text, target = match.groups()
        path, _, anchor = target.partition("#")
        if not path or re.match(r"^[a-z][a-z0-9+.-]*:", path) or path in pages:
            return match.group(0)
        if NOTEBOOK_LINK.match(path):
            return text
        url = f"{repo.url}/blob/{repo.branch}/{path}" + (f"#{anchor}" if anchor else "")
        return f"{bang}[{text}]({url})"

    return LINK.sub(fix, markdown)


def _between(text: str, start: str, end: str) -> str:
    head, sep, rest = text.partition(start)
    if not sep or end not in rest:
        raise ValueError(f"markers {start!r} ... {end!r} not found")
    return rest.split(end, 1)[0].strip()


def landing_page(readme: str, glossary: str, parts: list[Part], pages: set[str],
                 repo: badges.CourseRepo) -> str:
    """``index.md``: README's title and first paragraph, its notebook table, the bilingual summaries
    from GLOSSARY.md, and the hidden toctrees (one per part) that make the site's navigation."""
    lines = readme.splitlines()
    title = next(line for line in lines if line.startswith("# "))
    body = readme.split(title, 1)[1].strip().split("\n\n", 1)[0]
    table = _between(readme, TABLE_START, TABLE_END)
    summaries = glossary.split(SUMMARY_HEADING, 1)[1].split("\n", 1)[1].strip()
    summaries = summaries.split("\n## ", 1)[0].strip()
    out = [title, "", body, "",
           "This site shows every notebook with the outputs of one run of the test suite in the "
           "*quick* profile (`make notebooks`): figures, tables and the printed checks. Each page links "
           "the notebook on Colab and Binder. The terms are in the [glossary](glossary.md).", "",
           "## The notebooks", "", table, "",
           "## The notebooks in one line / 每个 notebook 一句话", "", summaries, ""]
    for part in parts:
        out += ["```{toctree}", ":hidden:", f":caption: {part.caption}", ""]
        out += [f"notebooks/{stem}" for stem in part.numbers]
        out += ["```", ""]
    out += ["```{toctree}", ":hidden:", ":caption: Reference", "", "glossary", "```", ""]
    return rewrite_links("\n".join(out), pages, repo)


def page_header(stem: str, repo: badges.CourseRepo, root: Path = ROOT) -> str:
    """The first cell of a notebook's page: where to run it, its source, its student version.

    The Colab and Binder addresses are those of the notebook's own badges (``badges.badge_line``).
    """
    colab, binder = re.findall(r"\]\((https://[^)\s]+)\)", badges.badge_line(repo, f"{stem}.ipynb"))[1::2]
    student = Path("student") / f"{stem}.ipynb"
    if (root / student).exists():
        student_text = f"[student version]({repo.url}/blob/{repo.branch}/{student.as_posix()})"
    else:
        student_text = f"student version: planned (`{student.as_posix()}` does not exist yet)"
    source = f"{repo.url}/blob/{repo.branch}/notebooks/{stem}.ipynb"
    return (f"*Outputs from the test run, quick profile.* Run it: [Open in Colab]({colab}) · "
            f"[Launch Binder]({binder}) · `make lab` · [source]({source}) · {student_text}")


def notebook_page(executed: nbformat.NotebookNode, stem: str, repo: badges.CourseRepo,
                  root: Path = ROOT) -> nbformat.NotebookNode:
    """The executed notebook with :func:`page_header` as a new first cell (a copy; ``executed`` is
    left as it is)."""
    page = copy.deepcopy(executed)
    page.cells.insert(0, nbformat.v4.new_markdown_cell(page_header(stem, repo, root)))
    page.nbformat_minor = max(page.nbformat_minor, 5)  # cell ids (4.5): the new cell has a fresh one
    for cell in page.cells:
        cell.setdefault("id", random_cell_id())
    return page


def stale_or_missing(stems: list[str], executed_dir: Path, root: Path = ROOT) -> tuple[list[str], list[str]]:
    """Of ``stems``, those without an executed copy, and those whose copy was made from different
    cell sources than the notebook in ``notebooks/`` has now."""
    missing, stale = [], []
    for stem in stems:
        path = executed_dir / f"{stem}.ipynb"
        if not path.exists():
            missing.append(stem)
            continue
        done = nbformat.read(path, as_version=4)
        now = nbformat.read(root / "notebooks" / f"{stem}.ipynb", as_version=4)
        if done.metadata.get(METADATA_KEY, {}).get("source_sha256") != source_digest(now):
            stale.append(stem)
    return missing, stale


CONF = '''# Generated by scripts/build_site.py; edit that script, not this file.
project = "Calculus in transfer learning"
author = "The course's authors"
extensions = ["myst_nb"]
nb_execution_mode = "off"   # one execution: the outputs come from the test run (build/executed/)
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
html_theme = "sphinx_book_theme"
html_title = "Calculus in transfer learning"
html_theme_options = {{"repository_url": "{url}", "repository_branch": "{branch}",
                      "use_repository_button": True, "show_toc_level": 2}}
exclude_patterns = ["_build"]
suppress_warnings = ["mystnb.unknown_mime_type"]  # widgets (sliders, progress bars) without saved state
'''


def resolve_stems(names: list[str], root: Path = ROOT) -> list[str]:
    """Notebook stems from names such as ``00``, ``00_tour`` or ``notebooks/00_tour.ipynb``."""
    every = sorted(p.stem for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return every
    stems = []
    for name in names:
        key = Path(name).stem
        found = [s for s in every if s == key or s[:2] == key]
        if len(found) != 1:
            raise SystemExit(f"build_site: no single notebook matches {name!r} (have: {', '.join(every)})")
        stems.append(found[0])
    return sorted(set(stems))


def generate(stems: list[str], executed_dir: Path, src: Path, root: Path = ROOT) -> None:
    """Write the Sphinx sources of the site for ``stems`` into ``src`` (emptied first)."""
    repo = badges.read_config(root / "pyproject.toml")
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    pages = {f"notebooks/{stem}.ipynb" for stem in stems} | {"glossary.md"}
    parts = navigation(read_parts((root / "CURRICULUM.md").read_text(encoding="utf-8")), stems)
    readme = (root / "README.md").read_text(encoding="utf-8")
    glossary = (root / "GLOSSARY.md").read_text(encoding="utf-8")
    (src / "conf.py").write_text(CONF.format(url=repo.url, branch=repo.branch), encoding="utf-8")
    (src / "index.md").write_text(landing_page(readme, glossary, parts, pages, repo), encoding="utf-8")
    (src / "glossary.md").write_text(rewrite_links(glossary, pages, repo), encoding="utf-8")
    for stem in stems:
        executed = nbformat.read(executed_dir / f"{stem}.ipynb", as_version=4)
        nbformat.write(notebook_page(executed, stem, repo, root), src / "notebooks" / f"{stem}.ipynb")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="*", default=[], metavar="NB",
                        help="build only these notebooks (00, 00_tour or a path); default: all")
    parser.add_argument("--executed", type=Path, default=ROOT / "build" / "executed")
    parser.add_argument("--src", type=Path, default=ROOT / "build" / "site-src")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    args = parser.parse_args(argv)
    stems = resolve_stems(args.notebooks)
    missing, stale = stale_or_missing(stems, args.executed)
    if missing:
        print(f"build_site: no executed copy in {args.executed} of: {', '.join(missing)}.\n"
              "The site shows the outputs of the test run and executes nothing itself: run "
              "`make notebooks` first (it saves each notebook it runs there), or build a subset with "
              "`make site SITE_NOTEBOOKS=\"00 10\"`.", file=sys.stderr)
        return 2
    for stem in stale:
        print(f"build_site: warning: notebooks/{stem}.ipynb changed after its executed copy was made; "
              "the site shows the old run (run `make notebooks` to refresh it).", file=sys.stderr)
    start = time.perf_counter()
    generate(stems, args.executed, args.src)
    if args.out.exists():
        shutil.rmtree(args.out)
    doctrees = args.out.parent / (args.out.name + "-doctrees")
    build = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", "-d", str(doctrees),
                            str(args.src), str(args.out)])
    if build.returncode:
        return build.returncode
    problems = check_site.check_site(args.out, stems)
    for problem in problems:
        print(f"site check: {problem}", file=sys.stderr)
    print(f"Site of {len(stems)} notebooks built in {time.perf_counter() - start:.0f} s: "
          f"{args.out / 'index.html'}" + ("" if not problems else f"; {len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
