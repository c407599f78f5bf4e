"""How long each notebook takes to read and to run: the numbers behind SYLLABUS.md's times.

For every notebook: the words of its prose (markdown cells, worked solutions left out), per
top-level section (``## ...``) and in all; the words of its worked solutions; its lines of code; its
exercises; the reading time at ``--wpm`` words a minute; and its measured run time in the quick
profile from ``benchmarks/quick_cpu.json`` (the README's table, ``make benchmark``).

    python scripts/reading_time.py             # a table per notebook
    python scripts/reading_time.py --sections  # and the words of every section, to split a lecture
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = re.compile(r"<details>.*?</details>", flags=re.S)
EXERCISE = re.compile(r"^(?:\*\*(\d+)\.\*\*|(\d+)\.\s)", flags=re.M)


def words(text: str) -> int:
    """Whitespace-separated words (a LaTeX formula counts by its tokens)."""
    return len(text.split())


def is_speaker_notes(cell: nbformat.NotebookNode) -> bool:
    """A markdown cell of speaker notes (``slideshow.slide_type == "notes"``): for the lecturer, not read
    by the learner, so not counted."""
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type") == "notes"


def sections(nb: nbformat.NotebookNode) -> list[tuple[str, int]]:
    """``(heading, prose words)`` of every top-level section, in order; the text before the first
    ``## `` heading is the section ``"(header)"``. Worked solutions and speaker notes are left out."""
    found: list[tuple[str, int]] = [("(header)", 0)]
    for cell in nb.cells:
        if cell.cell_type != "markdown" or is_speaker_notes(cell):
            continue
        for part in re.split(r"^(?=## )", SOLUTION.sub("", cell.source), flags=re.M):
            if part.startswith("## "):
                found.append((part.splitlines()[0][3:].strip(), 0))
            found[-1] = (found[-1][0], found[-1][1] + words(part))
    return found


def exercises(nb: nbformat.NotebookNode) -> int:
    """The number of exercises: numbered items of the ``## Exercises`` section."""
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    body = md.split("## Exercises", 1)[-1].split("## References", 1)[0]
    return len(set(EXERCISE.findall(SOLUTION.sub("", body))))


def measure(path: Path) -> dict[str, object]:
    nb = nbformat.read(path, as_version=4)
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = [line for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    parts = sections(nb)
    return {"sections": parts, "prose_words": sum(n for _, n in parts),
            "solution_words": sum(words(s) for s in SOLUTION.findall(md)),
            "code_lines": len(code), "exercises": exercises(nb)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wpm", type=float, default=100.0, help="reading speed, words a minute")
    parser.add_argument("--sections", action="store_true", help="also list every section's words")
    args = parser.parse_args()
    bench = ROOT / "benchmarks" / "quick_cpu.json"
    runs = json.loads(bench.read_text())["notebooks"] if bench.is_file() else {}
    print(f"| notebook | prose words | reading at {args.wpm:g} wpm | solution words | code lines "
          "| exercises | run time, quick CPU |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        m = measure(path)
        run = runs.get(path.name, {}).get("wall_s")
        print(f"| {path.stem} | {m['prose_words']} | {m['prose_words'] / args.wpm:.0f} min "
              f"| {m['solution_words']} | {m['code_lines']} | {m['exercises']} "
              f"| {'not measured' if run is None else f'{run:.0f} s'} |")
        if args.sections:
            for heading, n in m["sections"]:
                print(f"|   {heading} | {n} | {n / args.wpm:.0f} min | | | | |")


if __name__ == "__main__":
    main()
