"""Benchmark the notebooks: wall time and peak memory of each, in the quick profile.

Each notebook is executed top to bottom in a fresh kernel (as the tests do), in its own
subprocess, so that the peak resident memory of its kernel can be read exactly from
``getrusage(RUSAGE_CHILDREN)``. Results go to ``benchmarks/quick_cpu.json`` (merged, so a subset
can be re-run), and ``--update-readme`` rebuilds the README's table of notebooks from them.

    python scripts/benchmark.py                      # every notebook
    python scripts/benchmark.py notebooks/00_tour.ipynb --update-readme
    python scripts/benchmark.py --cold-cache         # also time building the shared caches

This is a measurement, not a test: it never fails because a notebook is slow. Targets are in the
README next to the measured numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "quick_cpu.json"
GPU_RESULTS = ROOT / "benchmarks" / "full_gpu.json"
README = ROOT / "README.md"
START, END = "<!-- notebook-table:start -->", "<!-- notebook-table:end -->"


def _peak_children_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def run_one(path: Path) -> dict:
    """Execute one notebook in a fresh kernel (this process's child) and measure it."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        client.execute()
    except CellExecutionError as err:
        status, error = "error", str(err).strip().splitlines()[-1][:300]
    wall = time.perf_counter() - start
    return {"wall_s": round(wall, 1), "peak_mib": round(_peak_children_mib()), "status": status,
            "error": error}


def _notebook_info(path: Path) -> dict:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    text = nb.cells[0].source if nb.cells else ""
    title = re.search(r"^# (.+)$", text, re.M)
    line = re.search(r"\*\*In one line:\*\*\s*(.+)", text)
    return {"title": title.group(1).strip() if title else path.stem,
            "teaches": line.group(1).strip() if line else ""}


def _machine() -> str:
    import torch

    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "not yet measured"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def update_readme(results: dict) -> None:
    gpu = json.loads(GPU_RESULTS.read_text()) if GPU_RESULTS.is_file() else {}
    rows = ["| notebook | what it teaches | quick profile, CPU | peak memory | full profile, GPU |",
            "|---|---|---|---|---|"]
    for name in sorted(results.get("notebooks", {})):
        r = results["notebooks"][name]
        quick = _fmt_s(r["wall_s"]) if r["status"] == "ok" else "fails"
        full = _fmt_s(gpu.get("notebooks", {}).get(name, {}).get("wall_s"))
        rows.append(f"| [{r['title']}](notebooks/{name}) | {r['teaches']} | {quick} | "
                    f"{r['peak_mib'] / 1024:.1f} GiB | {full} |")
    meta = results.get("meta", {})
    prep = meta.get("prepare_s")
    notes = [f"Measured by `make benchmark` on {meta.get('machine', '?')}, {meta.get('date', '?')}; "
             "time is wall clock for a fresh kernel running the notebook top to bottom; peak memory "
             "is the kernel's peak resident set."]
    if prep is not None:
        notes.append(f"Building the shared caches once (`python -m transfer_utils.prepare`, "
                     f"{'from a cold cache' if meta.get('cold_cache') else 'as found'}) took "
                     f"{_fmt_s(prep)}; it is not included in any notebook's time.")
    table = "\n".join(rows) + "\n\n" + " ".join(notes)
    text = README.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START} ... {END} markers to fill.")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{table}\n{END}{tail}")
    print(f"updated the table in {README.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the notebooks in the quick profile.")
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--update-readme", action="store_true", help="rebuild the README table")
    parser.add_argument("--cold-cache", action="store_true",
                        help="use an empty cache directory, so the shared caches are built (and timed)")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one is not None:  # child mode: measure one notebook, print JSON
        print(json.dumps(run_one(args.one)))
        return

    env = dict(os.environ, TL_PROFILE="quick")
    tmp = tempfile.TemporaryDirectory(prefix="tl-bench-cache-") if args.cold_cache else None
    if tmp is not None:
        env["TL_CACHE_DIR"] = tmp.name
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results.setdefault("notebooks", {})

    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "transfer_utils.prepare"], env=env, check=True, cwd=ROOT)
    prepare_s = time.perf_counter() - start

    for path in paths:
        path = path.resolve()
        out = subprocess.run([sys.executable, __file__, "--one", str(path)], env=env, cwd=ROOT,
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"benchmark of {path.name} crashed:\n{out.stderr[-2000:]}")
        record = json.loads(out.stdout.strip().splitlines()[-1]) | _notebook_info(path)
        results["notebooks"][path.name] = record
        flag = "" if record["status"] == "ok" else f"  ERROR: {record['error']}"
        print(f"{path.name:<36} {record['wall_s']:>7.1f} s {record['peak_mib']:>6} MiB{flag}")

    results["meta"] = {"machine": _machine(), "profile": "quick",
                       "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                       "prepare_s": round(prepare_s, 1), "cold_cache": bool(args.cold_cache)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    if args.update_readme:
        update_readme(results)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
