"""The claims sweep (``make claims``): does every asserted claim hold on other seeds, kernels and threads?

A seed, a CPU's floating-point kernels (AVX-512, AVX2 or the portable ``default`` ones, chosen with
``ATEN_CPU_CAPABILITY``) and torch's thread count all change the bits a notebook computes. A claim
that holds only for one combination is a broken claim. This script runs the chosen notebooks
(default: all) in the quick profile several times, each run with its own seed set, disjoint from
the others and from the development seeds 0-2, and varies the kernels and the thread count:

=====  ======================  =======  ==================================
run    kernels                 threads  seeds (quick profile: 3 per run)
=====  ======================  =======  ==================================
0      the machine's best      2        base + 0, 1, 2
1      the machine's best      1        base + 3, 4, 5
2      the machine's best      2        base + 6, 7, 8
3      the machine's best      1        base + 9, 10, 11
4      ``avx2``                2        base + 12, 13, 14
5      ``default``             1        base + 15, 16, 17
=====  ======================  =======  ==================================

(``--runs N`` repeats the pattern; torch can select kernels down, never up, so on a CPU without
AVX2 run 4 uses the machine's best.) Each notebook runs as a plain script
(``scripts/run_notebook.py``, asserts rewritten to record their operands), so every assert in the
course is measured: the quantity, its threshold and the margin by which it passed. The result,
``benchmarks/claims.json``, lists for every claim the values in every run and how many runs passed,
with the smallest margin; a table is printed, and ``--update-readme`` writes the summary into the
README. Exit status 1 when any claim failed in any run, or a notebook raised.

    python scripts/claims.py                          # every notebook, 6 runs (about 35 min on 2 cores)
    python scripts/claims.py notebooks/04_what_transfers.py notebooks/08_adversarial_adaptation.py
    python scripts/claims.py --runs 2 --seed-base 5000 --jobs 2

Runs of a subset of notebooks are merged into the existing ``claims.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_notebook import write_json_atomic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "claims.json"
README = ROOT / "README.md"
START, END = "<!-- claims-table:start -->", "<!-- claims-table:end -->"
QUICK_SEEDS_PER_RUN = 3
DEFAULT_SEED_BASE = 100


def best_capability() -> str:
    """The kernels torch picks on this CPU when left alone (e.g. ``AVX512``, ``AVX2``, ``DEFAULT``)."""
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                         capture_output=True, text=True, env={**os.environ, "ATEN_CPU_CAPABILITY": ""},
                         check=True)
    return out.stdout.strip()


def plan(n_runs: int, seed_base: int, best: str) -> list[dict]:
    """The runs: seed sets, kernels and thread counts (see the module docstring)."""
    pattern = [(None, 2), (None, 1), (None, 2), (None, 1), ("avx2", 2), ("default", 1)]
    runs = []
    for r in range(n_runs):
        kernel, threads = pattern[r % len(pattern)]
        if kernel == "avx2" and best.upper() not in ("AVX2", "AVX512"):
            kernel = None  # torch can select down, never up
        seeds = [seed_base + QUICK_SEEDS_PER_RUN * r + k for k in range(QUICK_SEEDS_PER_RUN)]
        runs.append({"run": r, "kernel": kernel or best.lower(), "set_kernel": kernel, "threads": threads,
                     "seeds": seeds})
    return runs


def run_task(notebook: Path, run: dict, workdir: Path, timeout: float) -> dict:
    """One notebook in one run, in a fresh interpreter; returns its run record (or the error)."""
    out = workdir / f"{notebook.stem}.run{run['run']}.json"
    env = {**os.environ, "TL_PROFILE": "quick", "TL_SEEDS": ",".join(map(str, run["seeds"])),
           "OMP_NUM_THREADS": str(run["threads"]), "MKL_NUM_THREADS": str(run["threads"]),
           "MPLBACKEND": "Agg", "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0",
           # idle OpenMP threads sleep instead of spinning: same numbers, far less slowdown when
           # the sweep shares the CPU (with --jobs 2 or anything else running)
           "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("ATEN_CPU_CAPABILITY", None)
    if run["set_kernel"]:
        env["ATEN_CPU_CAPABILITY"] = run["set_kernel"]
    cmd = [sys.executable, str(ROOT / "scripts" / "run_notebook.py"), str(notebook), "--quiet",
           "--no-figures", "--threads", str(run["threads"]), "--json", str(out)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        tail = (proc.stderr or "")[-2000:]
    except subprocess.TimeoutExpired:
        tail = f"timed out after {timeout:.0f} s"
    wall = time.perf_counter() - start
    if out.exists():
        record = json.loads(out.read_text())
    else:
        record = {"notebook": notebook.stem, "claims": [], "error": {"cell": None, "traceback": tail}}
    record["run"] = run["run"]
    record["subprocess_s"] = round(wall, 1)
    status = "ok" if not record.get("error") and not record.get("n_failed") else "FAILED"
    print(f"  run {run['run']} ({run['kernel']}, {run['threads']} thr, seeds {run['seeds']}) "
          f"{notebook.stem}: {status}, {len(record['claims'])} claim checks, {wall:.0f} s", flush=True)
    return record


def aggregate(notebook: str, runs: list[dict], records: list[dict]) -> dict:
    """Per claim: its values in every run, runs passed, the smallest margin."""
    by_claim: dict[str, dict] = {}
    for rec in records:
        for c in rec["claims"]:
            entry = by_claim.setdefault(c["id"], {
                "id": c["id"], "cell": c["cell"], "claim": c["claim"], "kind": c["kind"], "op": c.get("op"),
                "runs": {}})
            per_run = entry["runs"].setdefault(rec["run"], {"passed": True, "quantity": [], "threshold": [],
                                                            "margin": []})
            per_run["passed"] = per_run["passed"] and c["passed"]
            for key in ("quantity", "threshold", "margin"):
                per_run[key].append(c.get(key))
    n_runs = len(runs)
    claims = []
    for entry in by_claim.values():
        margins = [m for r in entry["runs"].values() for m in r["margin"] if m is not None]
        quantities = [q for r in entry["runs"].values() for q in r["quantity"] if q is not None]
        thresholds = [t for r in entry["runs"].values() for t in r["threshold"] if t is not None]
        worst = min(margins) if margins else None
        rel = None
        if margins:
            rels = [m / abs(t) for r in entry["runs"].values()
                    for m, t in zip(r["margin"], r["threshold"]) if m is not None and t not in (None, 0)]
            rel = min(rels) if rels else None
        entry["runs_passed"] = sum(r["passed"] for r in entry["runs"].values())
        entry["n_runs"] = n_runs
        entry["evaluations"] = sum(len(r["margin"]) for r in entry["runs"].values())
        entry["min_margin"] = worst
        entry["min_relative_margin"] = rel
        entry["quantity_range"] = [min(quantities), max(quantities)] if quantities else None
        entry["threshold_range"] = [min(thresholds), max(thresholds)] if thresholds else None
        entry["runs"] = {str(k): v for k, v in sorted(entry["runs"].items())}
        claims.append(entry)
    claims.sort(key=lambda e: (e["cell"], e["id"]))
    errors = [{"run": rec["run"], **rec["error"]} for rec in records if rec.get("error")]
    return {
        "runs": runs,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": {str(rec["run"]): rec.get("wall_s") for rec in records},
        "errors": errors,
        "n_claims": len(claims),
        "claims_passing_every_run": sum(e["runs_passed"] == n_runs for e in claims),
        "claims": claims,
    }


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0 or (1e-3 <= abs(x) < 1e4):
        return f"{x:.3g}"
    return f"{x:.1e}"


def print_table(data: dict, notebooks: list[str]) -> None:
    print(f"\n{'notebook':28s} {'cell':>4s}  {'claim':60s} {'runs ok':>7s} {'quantity range':>19s} "
          f"{'smallest margin':>15s}")
    for nb in notebooks:
        entry = data["notebooks"][nb]
        for e in entry["claims"]:
            qr = e["quantity_range"]
            qtext = f"{_fmt(qr[0])}..{_fmt(qr[1])}" if qr else "-"
            flag = "" if e["runs_passed"] == e["n_runs"] else "  <-- FAILS"
            print(f"{nb[:28]:28s} {e['cell']:4d}  {e['claim'][:60]:60s} {e['runs_passed']:>3d}/{e['n_runs']:<3d} "
                  f"{qtext:>19s} {_fmt(e['min_margin']):>15s}{flag}")
        for err in entry["errors"]:
            last = err["traceback"].strip().splitlines()[-1] if err.get("traceback") else ""
            print(f"{nb[:28]:28s} ERROR in run {err['run']} cell {err.get('cell')}: {last[:100]}")


def readme_summary(data: dict) -> str:
    rows = ["| notebook | claims | pass in every run | failing | smallest relative margin | runs |",
            "|---|---|---|---|---|---|"]
    for nb, entry in sorted(data["notebooks"].items()):
        rels = [e["min_relative_margin"] for e in entry["claims"] if e["min_relative_margin"] is not None
                and e.get("op") and not set(e["op"].split()) & {"==", "!=", "is", "in"}]
        failing = entry["n_claims"] - entry["claims_passing_every_run"] + len(entry["errors"])
        rows.append(f"| {nb} | {entry['n_claims']} | {entry['claims_passing_every_run']} | {failing} | "
                    f"{_fmt(min(rels)) if rels else '-'} | {len(entry['runs'])} |")
    meta = data.get("machine", "")
    return ("\n".join(rows) + f"\n\nMeasured by `make claims` on {meta}; each run with its own seed set, "
            "kernels and thread count (see the protocol in `scripts/claims.py`). A relative margin is the "
            "margin divided by the threshold, over the inequality claims (an equality that holds has margin 0, "
            "and is not counted here).\n")


def update_readme(data: dict) -> None:
    text = README.read_text()
    if START not in text:
        print(f"README has no {START} marker; not updated.")
        return
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + START + "\n" + readme_summary(data) + END + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.py")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--seed-base", type=int, default=DEFAULT_SEED_BASE,
                        help=f"first seed of run 0 (default {DEFAULT_SEED_BASE})")
    parser.add_argument("--jobs", type=int, default=1, help="notebook runs at once (default 1)")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per notebook run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args(argv)
    notebooks = [p.resolve().with_suffix(".py") for p in args.notebooks] or sorted(
        (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    missing = [p for p in notebooks if not p.exists()]
    if missing:
        parser.error(f"no such notebook script: {', '.join(map(str, missing))}")
    best = best_capability()
    runs = plan(args.runs, args.seed_base, best)
    print(f"Claims sweep: {len(notebooks)} notebooks x {len(runs)} runs (machine's best kernels: {best}).")
    tasks = [(nb, run) for run in runs for nb in notebooks]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tl-claims-") as tmp, ThreadPoolExecutor(args.jobs) as pool:
        records = list(pool.map(lambda t: run_task(t[0], t[1], Path(tmp), args.timeout), tasks))
    import fcntl

    import torch

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out.with_name(args.out.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two sweeps of different notebooks may finish together
        data = json.loads(args.out.read_text()) if args.out.exists() else {}
        data.setdefault("notebooks", {})
        for nb in notebooks:
            data["notebooks"][nb.stem] = aggregate(nb.stem, runs,
                                                   [r for r in records if r["notebook"] == nb.stem])
        data["machine"] = (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores "
                           f"(best kernels {best}), Python {platform.python_version()}, torch {torch.__version__}")
        data["protocol"] = " ".join(__doc__.split("\n\n")[1].split())
        data["notebooks"] = dict(sorted(data["notebooks"].items()))
        write_json_atomic(args.out, data)
    print_table(data, [nb.stem for nb in notebooks])
    failing = sum(e["n_claims"] - e["claims_passing_every_run"] + len(e["errors"])
                  for nb, e in data["notebooks"].items() if nb in {p.stem for p in notebooks})
    print(f"\n{failing} failing claims or errors; {time.perf_counter() - start:.0f} s; wrote "
          f"{args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    if args.update_readme:
        update_readme(data)
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
