"""Checks of the built course site (``build/site/``), run by ``make site`` after the build.

For each notebook the site should show, :func:`check_site` requires that

* its page ``notebooks/NN_name.html`` exists;
* the page shows at least one figure: an ``<img>`` inside a cell's output area (the badges at the
  top of a page are images too, but outside any output, so they do not count);
* no output area holds an execution error: myst-nb renders an error output with the class
  ``traceback``, and the text ``Traceback (most recent call last)`` in an output means the same;

and for every HTML page of the site (not the theme's templates under ``_static/``), that each
relative link (``href`` and ``src``) names a file that exists, and that a ``#fragment`` on a link to
an HTML page names an ``id`` on that page.
Addresses with a scheme (``https:``, ``mailto:``, ``data:``) are not followed: the site is built
and checked offline.

Usage: ``python scripts/check_site.py build/site [NN_name ...]`` (exit status 1 on any problem).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
OUTPUT_CLASSES = {"cell_output", "output"}
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass
class PageScan:
    """What one HTML page contains: its links, its ids, figures and errors inside cell outputs."""

    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    output_images: int = 0
    errors: list[str] = field(default_factory=list)


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scan = PageScan()
        self.stack: list[tuple[str, bool]] = []  # (tag, opens an output area)

    def _in_output(self) -> bool:
        return any(is_output for _, is_output in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        classes = set(attr.get("class", "").split())
        for key in ("id", "name"):
            if attr.get(key):
                self.scan.ids.add(attr[key])
        for key in ("href", "src"):
            if attr.get(key) and not (tag == "a" and key == "src"):
                self.scan.links.append(attr[key])
        if tag == "img" and self._in_output():
            self.scan.output_images += 1
        if "traceback" in classes and (self._in_output() or classes & OUTPUT_CLASSES):
            self.scan.errors.append(f"an error output ({' '.join(sorted(classes))})")
        if tag not in VOID:
            self.stack.append((tag, bool(classes & OUTPUT_CLASSES)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):  # close up to the matching tag (tolerates sloppy HTML)
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if "Traceback (most recent call last)" in data and self._in_output():
            self.scan.errors.append("a Python traceback in an output")


def scan_page(html: str) -> PageScan:
    """Parse one page: links, ids, figures inside outputs, errors inside outputs."""
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner.scan


def broken_links(site: Path, scans: dict[Path, PageScan]) -> list[str]:
    """Relative links of the scanned pages (keys: paths under ``site``) that resolve to nothing."""
    problems = []
    for page, scan in scans.items():
        for link in scan.links:
            if SCHEME.match(link) or link.startswith("//"):
                continue
            parts = urlsplit(link)
            if not parts.path:  # "#anchor" on the same page
                target = page
            else:
                raw = (site / page).parent / unquote(parts.path)
                if not _inside(raw, site):
                    problems.append(f"{page}: link {link!r} leaves the site")
                    continue
                target = raw.resolve().relative_to(site.resolve())
                if (site / target).is_dir():
                    target = target / "index.html"
                if not (site / target).exists():
                    problems.append(f"{page}: link {link!r} names a missing file")
                    continue
            if parts.fragment and target.suffix == ".html":
                ids = scans[target].ids if target in scans else scan_page(
                    (site / target).read_text(encoding="utf-8")).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{page}: link {link!r}: no id {parts.fragment!r} on {target}")
    return problems


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def check_site(site: Path, stems: list[str]) -> list[str]:
    """Every problem with the site in ``site`` that should show the notebooks ``stems``; [] if none."""
    site = Path(site)
    if not (site / "index.html").exists():
        return [f"{site}/index.html is missing: the site was not built"]
    scans = {path.relative_to(site): scan_page(path.read_text(encoding="utf-8"))
             for path in sorted(site.rglob("*.html")) if not path.relative_to(site).parts[0].startswith("_")}
    problems = []
    for stem in stems:
        page = Path("notebooks") / f"{stem}.html"
        if page not in scans:
            problems.append(f"{page}: the page of notebook {stem} is missing")
            continue
        if scans[page].output_images == 0:
            problems.append(f"{page}: no figure in any output")
        problems += [f"{page}: {error}" for error in scans[page].errors]
    return problems + broken_links(site, scans)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    site = Path(args[0])
    stems = args[1:] or sorted(p.stem for p in (site / "notebooks").glob("*.html"))
    problems = check_site(site, stems)
    for problem in problems:
        print(problem)
    print(f"{len(stems)} notebook pages checked: " + (f"{len(problems)} problems" if problems else "all well"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
