"""Run a notebook's paired ``.py`` (jupytext percent format) as a plain script, and record its claims.

For a machine without Jupyter (a GPU box that has torch, torchvision and gpytorch but no network),
and for the claims sweep (``scripts/claims.py``)::

    python scripts/run_notebook.py notebooks/08_adversarial_adaptation.py --profile full
    python scripts/run_notebook.py notebooks/04_what_transfers.py --profile quick --json out.json

What it does:

* splits the file into cells at ``# %%`` markers and executes the code cells in order, in one
  namespace, with the working directory set to the notebook's folder (as Jupyter does);
* uses matplotlib's ``Agg`` backend and saves every figure a cell leaves open to
  ``--figures DIR`` (``NN_name_cell07_1.png``; default ``build/figures/``), or discards them with
  ``--no-figures``;
* skips widget cells (those that use ``widgets.``, and cells that use what they define) when
  ``ipywidgets`` is not installed, and says which; with ``ipywidgets`` installed they run, and their
  slider checks with them;
* **records every asserted claim**: each ``assert`` statement is rewritten (as pytest does) so that
  its operands are kept. For ``assert a > b`` it records the quantity ``a``, the threshold ``b``, the
  operator and the margin (how far the claim is from failing, in the quantity's units: ``a - b``
  for ``>``/``>=``, ``b - a`` for ``<``/``<=``); chained comparisons keep the smallest margin, and
  the parts of ``assert p and q`` are recorded separately. Calls to ``assert_close`` and friends
  and other assertions are recorded as passed or failed. A failed claim does not stop the run (so
  that one run measures every claim); the script exits non-zero when any claim failed or a cell
  raised;
* measures wall time and peak memory (resident set, and CUDA's peak allocation on a GPU).

With ``--profile full`` the result is merged into ``benchmarks/full_gpu.json`` (keyed by notebook,
written atomically), from which ``scripts/benchmark.py --update-readme`` fills the README's full
profile column. ``--json PATH`` writes the result elsewhere (the claims sweep uses this).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import io
import json
import math
import os
import platform
import re
import resource
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GPU_RESULTS = ROOT / "benchmarks" / "full_gpu.json"
CELL_MARK = re.compile(r"^# %%(.*)$")
_CMP = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!=",
        ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}


# --------------------------------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------------------------------
def read_cells(path: Path) -> list[dict]:
    """Split a jupytext percent file into cells: ``{"index", "kind", "source", "line"}``.

    ``index`` counts every cell (markdown too) from 0, as the paired ``.ipynb`` does; ``line`` is
    the 1-based line of the cell's first source line in the ``.py`` file. The YAML header before
    the first marker is not a cell.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    cells: list[dict] = []
    current: dict | None = None
    for number, line in enumerate(lines, start=1):
        match = CELL_MARK.match(line)
        if match:
            current = {"index": len(cells), "line": number + 1, "body": [],
                       "kind": "markdown" if "[markdown]" in match.group(1) else "code"}
            cells.append(current)
        elif current is not None:
            current["body"].append(line)
    for cell in cells:
        body = cell.pop("body")
        while body and not body[-1].strip():
            body.pop()
        cell["source"] = "\n".join(body)
    return cells


def _assigned_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _used_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def widget_cells(cells: list[dict]) -> set[int]:
    """Indices of the code cells that need ``ipywidgets``: they use ``widgets.<name>`` or a name that
    such a cell defined (the slider checks that follow a slider)."""
    skipped: set[int] = set()
    tainted: set[str] = set()
    for cell in cells:
        if cell["kind"] != "code":
            continue
        try:
            tree = ast.parse(_strip_magics(cell["source"]))
        except SyntaxError:
            continue
        uses_widgets = any(isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                           and n.value.id == "widgets" for n in ast.walk(tree))
        if uses_widgets or _used_names(tree) & tainted:
            skipped.add(cell["index"])
            tainted |= _assigned_names(tree)
    return skipped


def _strip_magics(code: str) -> str:
    """Jupytext comments out magics (``# %matplotlib``); uncommented ones (``%env``, ``!cmd``) are
    dropped here, since a plain script cannot run them."""
    return "\n".join("" if re.match(r"\s*[%!]", line) else line for line in code.splitlines())


# --------------------------------------------------------------------------------------------------
# claims: assert rewriting
# --------------------------------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    """A plain float for a Python/NumPy/torch scalar (a one-element array or tensor too), else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        import numpy as np

        if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.size == 1):
            return float(value)
    except ImportError:  # pragma: no cover
        pass
    if type(value).__module__.startswith("torch") and hasattr(value, "numel"):
        try:
            return float(value.detach().cpu().item()) if value.numel() == 1 else None
        except (RuntimeError, TypeError, ValueError):
            return None
    return None


def margin(op: str, left: float, right: float) -> float | None:
    """How far ``left op right`` is from failing, in the quantity's units (negative: it failed)."""
    if op in (">", ">="):
        return left - right
    if op in ("<", "<="):
        return right - left
    if op == "==":
        return -abs(left - right)
    if op == "!=":
        return abs(left - right)
    return None


class ClaimRecorder:
    """Receives every evaluated assertion of a run; ``records`` is the list of what it saw."""

    def __init__(self, notebook: str, strict: bool = False):
        self.notebook, self.strict = notebook, strict
        self.records: list[dict] = []
        self.cell = -1
        self.sources: dict[str, str] = {}

    def _record(self, key: str, passed: bool, **fields: Any) -> None:
        self.records.append({"id": f"{self.notebook}:{key}", "notebook": self.notebook,
                             "cell": self.cell, "claim": self.sources.get(key, key),
                             "passed": bool(passed), **fields})

    def compare(self, key: str, ops: tuple[str, ...], values: tuple, message) -> None:
        """``values[0] ops[0] values[1] ops[1] values[2] ...`` as Python evaluates a chain."""
        passed, margins = True, []
        for op, left, right in zip(ops, values[:-1], values[1:]):
            ok = bool(_apply(op, left, right))
            passed = passed and ok
            lnum, rnum = _number(left), _number(right)
            if lnum is not None and rnum is not None:
                m = margin(op, lnum, rnum)
                if m is not None:
                    margins.append((m, rnum if len(values) == 2 or right is not values[1] else lnum))
        # `q > t`: q is the quantity, t the threshold; `lo < q < hi`: q is the middle term and the
        # threshold is the bound it is closest to failing against
        quantity = _number(values[0]) if len(values) == 2 else _number(values[1])
        worst = min(margins, key=lambda mt: mt[0]) if margins else (None, None)
        threshold = worst[1] if len(values) > 2 else _number(values[1])
        self._record(key, passed, kind="compare", op=" ".join(ops), quantity=_finite(quantity),
                     threshold=_finite(threshold), margin=_finite(worst[0]))
        if not passed:
            self._fail(key, message)

    def truth(self, key: str, value: Any, message) -> None:
        self._record(key, bool(value), kind="bool", quantity=None, threshold=None, margin=None)
        if not value:
            self._fail(key, message)

    def call(self, key: str, thunk) -> None:
        """``assert_close(...)``-style calls: they pass or raise AssertionError."""
        try:
            thunk()
        except AssertionError as err:
            self._record(key, False, kind="call", quantity=None, threshold=None, margin=None)
            self._fail(key, lambda: str(err).splitlines()[0] if str(err) else "")
        else:
            self._record(key, True, kind="call", quantity=None, threshold=None, margin=None)

    def _fail(self, key: str, message) -> None:
        try:
            text = message() if callable(message) else message
        except Exception as err:  # noqa: BLE001 - the message itself must not hide the failure
            text = f"(the assert's message raised {type(err).__name__})"
        self.records[-1]["message"] = str(text)[:300] if text is not None else ""
        line = f"CLAIM FAILED [{self.notebook} cell {self.cell}] {self.sources.get(key, key)}"
        print(line + (f" -- {text}" if text not in (None, "") else ""), file=sys.stderr)
        if self.strict:
            raise AssertionError(text)


def _apply(op: str, a: Any, b: Any) -> Any:
    return {">": lambda: a > b, ">=": lambda: a >= b, "<": lambda: a < b, "<=": lambda: a <= b,
            "==": lambda: a == b, "!=": lambda: a != b, "is": lambda: a is b,
            "is not": lambda: a is not b, "in": lambda: a in b, "not in": lambda: a not in b}[op]()


def _finite(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else (None if math.isnan(x) else x)


class _AssertRewriter(ast.NodeTransformer):
    """``assert test, msg`` -> calls to the recorder that keep the operands (see module docstring)."""

    def __init__(self, cell: int, source: str, recorder_name: str = "__tl_claims__"):
        self.cell, self.source, self.rec = cell, source, recorder_name
        self.sources: dict[str, str] = {}

    def _key(self, node: ast.AST, part: int | None = None) -> str:
        key = f"cell{self.cell}:L{node.lineno}" + (f"[{part}]" if part is not None else "")
        text = ast.get_source_segment(self.source, node) or ast.unparse(node)
        self.sources[key] = " ".join(text.split())
        return key

    def _method(self, name: str) -> ast.Attribute:
        return ast.Attribute(value=ast.Name(id=self.rec, ctx=ast.Load()), attr=name, ctx=ast.Load())

    def _message(self, msg: ast.AST | None) -> ast.AST:
        if msg is None:
            return ast.Constant(value=None)
        return ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[],
                                             defaults=[]), body=msg)

    def _check(self, test: ast.AST, key: str, msg: ast.AST | None) -> ast.stmt:
        if isinstance(test, ast.Compare) and all(type(op) in _CMP for op in test.ops):
            ops = ast.Tuple(elts=[ast.Constant(_CMP[type(op)]) for op in test.ops], ctx=ast.Load())
            values = ast.Tuple(elts=[test.left, *test.comparators], ctx=ast.Load())
            call = ast.Call(func=self._method("compare"),
                            args=[ast.Constant(key), ops, values, self._message(msg)], keywords=[])
        else:
            call = ast.Call(func=self._method("truth"), args=[ast.Constant(key), test, self._message(msg)],
                            keywords=[])
        return ast.Expr(value=call)

    def visit_Assert(self, node: ast.Assert) -> Any:
        test = node.test
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
            stmts = [self._check(value, self._key(value, i), node.msg) for i, value in enumerate(test.values)]
        else:
            stmts = [self._check(test, self._key(node), node.msg)]
        return [ast.copy_location(s, node) for s in stmts]

    def visit_Expr(self, node: ast.Expr) -> Any:
        call = node.value
        if isinstance(call, ast.Call):
            func = call.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name.startswith("assert_"):
                thunk = ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[],
                                                      kw_defaults=[], defaults=[]), body=call)
                new = ast.Expr(value=ast.Call(func=self._method("call"),
                                              args=[ast.Constant(self._key(node)), thunk], keywords=[]))
                return ast.copy_location(new, node)
        return self.generic_visit(node)


def compile_cell(code: str, cell: int, filename: str) -> tuple[Any, dict[str, str]]:
    """Parse a cell, rewrite its asserts, compile it. Returns the code object and claim sources."""
    tree = ast.parse(code, filename=filename)
    rewriter = _AssertRewriter(cell, code)
    tree = ast.fix_missing_locations(rewriter.visit(tree))
    return compile(tree, filename, "exec"), rewriter.sources


# --------------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------------
def _install_display(namespace: dict) -> None:
    try:
        from IPython.display import display  # noqa: PLC0415
    except ImportError:
        def display(*objects: Any, **_: Any) -> None:  # noqa: D401 - IPython's signature
            for obj in objects:
                print(repr(obj))
    namespace["display"] = display


def _save_figures(folder: Path | None, stem: str, cell: int) -> list[str]:
    import matplotlib.pyplot as plt

    saved = []
    for k, num in enumerate(plt.get_fignums(), start=1):
        fig = plt.figure(num)
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{stem}_cell{cell:02d}_{k}.png"
            fig.savefig(target, dpi=80)
            saved.append(str(target))
    plt.close("all")
    return saved


def _peak_rss_gib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round((peak / 2**30) if sys.platform == "darwin" else (peak / 2**20), 3)


def run(path: Path, *, figures: Path | None, quiet: bool = False, strict: bool = False) -> dict:
    """Execute a notebook's ``.py`` in this process; return the run record (see module docstring)."""
    path = Path(path).resolve()
    if path.suffix == ".ipynb":
        path = path.with_suffix(".py")
    if not path.exists():
        raise FileNotFoundError(f"No such notebook script: {path}. Pass notebooks/NN_name.py "
                                f"(the jupytext pair of the .ipynb).")
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import warnings

    warnings.filterwarnings("ignore", message=".*non-interactive.*")
    warnings.filterwarnings("ignore", message=".*FigureCanvasAgg.*")

    cells = read_cells(path)
    has_widgets = importlib.util.find_spec("ipywidgets") is not None
    skip = set() if has_widgets else widget_cells(cells)
    if not has_widgets:  # the setup cell's `import ipywidgets as widgets` must still work
        import types

        sys.modules.setdefault("ipywidgets", types.ModuleType("ipywidgets"))
    recorder = ClaimRecorder(path.stem, strict=strict)
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": str(path), "__tl_claims__": recorder}
    _install_display(namespace)
    old_cwd = os.getcwd()
    os.chdir(path.parent)
    sys.path.insert(0, str(path.parent))
    start = time.perf_counter()
    error, saved, skipped = None, [], []
    try:
        for cell in cells:
            if cell["kind"] != "code":
                continue
            if cell["index"] in skip:
                skipped.append(cell["index"])
                continue
            recorder.cell = cell["index"]
            code = _strip_magics(cell["source"])
            # pad so that line numbers in tracebacks are the .py file's
            padded = "\n" * (cell["line"] - 1) + code
            try:
                compiled, sources = compile_cell(padded, cell["index"], str(path))
                recorder.sources.update(sources)
                out = io.StringIO() if quiet else None
                with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext():
                    exec(compiled, namespace)  # noqa: S102 - running the course's own notebook
            except Exception:  # noqa: BLE001 - reported as the run's error
                error = {"cell": cell["index"], "traceback": traceback.format_exc(limit=6)[-3000:]}
                print(f"ERROR in {path.name} cell {cell['index']}:\n{error['traceback']}", file=sys.stderr)
                break
            finally:
                saved += _save_figures(figures, path.stem, cell["index"])
    finally:
        os.chdir(old_cwd)
        sys.path.remove(str(path.parent))
    wall = time.perf_counter() - start
    result = {
        "notebook": path.stem,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(wall, 1),
        "peak_rss_gib": _peak_rss_gib(),
        "error": error,
        "skipped_widget_cells": skipped,
        "figures": len(saved),
        "claims": recorder.records,
        "n_claims": len(recorder.records),
        "n_failed": sum(not r["passed"] for r in recorder.records),
    }
    result.update(_environment())
    if skipped:
        print(f"Skipped widget cells {skipped} (ipywidgets is not installed).", file=sys.stderr)
    return result


def _environment() -> dict:
    env: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine()}
    try:
        import torch

        from transfer_utils.core.profile import get_profile

        profile = get_profile()
        env.update(torch=torch.__version__, threads=torch.get_num_threads(),
                   cpu_capability=torch.backends.cpu.get_cpu_capability(),
                   profile=profile.name, seeds=list(profile.seeds))
        if torch.cuda.is_available():
            env.update(device=torch.cuda.get_device_name(0),
                       cuda_peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 3))
        else:
            env.update(device="cpu")
    except ImportError:  # pragma: no cover
        pass
    return env


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same folder, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def record_full(result: dict, path: Path = GPU_RESULTS) -> None:
    """Merge a full-profile run into ``benchmarks/full_gpu.json`` (one entry per notebook)."""
    data = json.loads(path.read_text()) if path.exists() else {"notebooks": {}}
    entry = {k: v for k, v in result.items() if k != "claims"}
    entry["claims"] = [{k: c.get(k) for k in ("id", "claim", "passed", "quantity", "threshold", "margin")}
                       for c in result["claims"]]
    data.setdefault("notebooks", {})[result["notebook"]] = entry
    write_json_atomic(path, data)


def default_data_dir() -> None:
    """As the Makefile does: without ``$TL_DATA_DIR``, use the shared offline copy beside the project."""
    shared = ROOT.parent / "shared" / "data"
    if not os.environ.get("TL_DATA_DIR") and (shared / "MD5SUMS").is_file():
        os.environ["TL_DATA_DIR"] = str(shared)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path, help="notebooks/NN_name.py (or its .ipynb)")
    parser.add_argument("--profile", choices=("quick", "full"), help="sets $TL_PROFILE for this run")
    parser.add_argument("--seeds", help="sets $TL_SEEDS for this run, e.g. 7,8,9")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (torch.set_num_threads)")
    parser.add_argument("--figures", type=Path, default=ROOT / "build" / "figures",
                        help="folder for the figures (default build/figures)")
    parser.add_argument("--no-figures", action="store_true", help="discard figures")
    parser.add_argument("--json", type=Path, help="write the run record here")
    parser.add_argument("--quiet", action="store_true", help="hide what the cells print")
    parser.add_argument("--strict", action="store_true", help="stop at the first failed claim")
    args = parser.parse_args(argv)
    default_data_dir()
    if args.profile:
        os.environ["TL_PROFILE"] = args.profile
    if args.seeds:
        os.environ["TL_SEEDS"] = args.seeds
    os.environ.setdefault("TQDM_DISABLE", "1" if args.quiet else "")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    result = run(args.notebook, figures=None if args.no_figures else args.figures, quiet=args.quiet,
                 strict=args.strict)
    if args.json:
        write_json_atomic(args.json, result)
    if result.get("profile") == "full" and not args.json:
        record_full(result)
        print(f"Recorded in {GPU_RESULTS.relative_to(ROOT)}")
    status = "ok" if result["error"] is None and result["n_failed"] == 0 else "FAILED"
    print(f"{result['notebook']}: {status}; {result['n_claims']} claims checked, {result['n_failed']} failed; "
          f"{result['wall_s']} s, peak RSS {result['peak_rss_gib']} GiB"
          + (f", CUDA peak {result['cuda_peak_gib']} GiB" if "cuda_peak_gib" in result else ""))
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
