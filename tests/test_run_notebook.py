"""scripts/run_notebook.py and scripts/claims.py: claims are recorded with their operands, widget
cells are skipped only without ipywidgets, a notebook runs as a plain script, and the sweep's plan
and aggregation do what the README says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import claims  # noqa: E402
import run_notebook as rn  # noqa: E402

NOTEBOOK = '''# ---
# jupyter:
#   jupytext:
#     text_representation: {format_name: percent}
# ---

# %% [markdown]
# # 99 A test notebook

# %%
import math
import matplotlib.pyplot as plt
import ipywidgets as widgets
import numpy as np
import torch

x = 0.75
plt.plot([0, 1], [0, 1])

# %% [markdown]
# Claims of every shape.

# %%
assert x > 0.5, "x too small"
assert 0.1 < x < 0.9
assert torch.tensor(2.0) >= 1.5 and np.float64(3.0) <= 3.0
for k in (1, 2):
    assert k < 2, f"k = {k}"
assert math.isclose(x, 0.75)
torch.testing.assert_close(torch.tensor(1.0), torch.tensor(1.0))

# %%
slider = widgets.IntSlider(value=3)

# %%
assert slider.value == 3
after_widgets = True
'''


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "99_test.py"
    path.write_text(NOTEBOOK)
    return path


def test_cells_are_split_like_the_ipynb(notebook):
    cells = rn.read_cells(notebook)
    assert [c["kind"] for c in cells] == ["markdown", "code", "markdown", "code", "code", "code"]
    assert cells[1]["source"].startswith("import math")
    assert notebook.read_text().splitlines()[cells[3]["line"] - 1] == 'assert x > 0.5, "x too small"'


def test_widget_cells_are_the_widget_and_what_uses_it(notebook):
    assert rn.widget_cells(rn.read_cells(notebook)) == {4, 5}


@pytest.mark.parametrize("op, left, right, expected", [(">", 3.0, 1.0, 2.0), (">=", 1.0, 3.0, -2.0),
                                                       ("<", 1.0, 3.0, 2.0), ("<=", 4.0, 3.0, -1.0),
                                                       ("==", 2.0, 2.5, -0.5), ("in", 1.0, 2.0, None)])
def test_margin_is_the_distance_to_failing(op, left, right, expected):
    assert rn.margin(op, left, right) == expected


def test_every_assert_is_recorded_with_its_operands(notebook, tmp_path):
    result = rn.run(notebook, figures=tmp_path / "fig", quiet=True)
    by_line = {}
    for c in result["claims"]:
        by_line.setdefault(c["claim"], []).append(c)
    first = by_line['assert x > 0.5, "x too small"'][0]
    assert first["passed"] and first["quantity"] == 0.75 and first["threshold"] == 0.5
    assert first["margin"] == pytest.approx(0.25)
    chain = by_line["assert 0.1 < x < 0.9"][0]
    assert chain["quantity"] == 0.75 and chain["margin"] == pytest.approx(0.15)
    # the two halves of `and` are two claims; a tensor and a numpy scalar become floats
    assert by_line["torch.tensor(2.0) >= 1.5"][0]["margin"] == pytest.approx(0.5)
    assert by_line["np.float64(3.0) <= 3.0"][0]["margin"] == 0.0
    loop = by_line['assert k < 2, f"k = {k}"']
    assert [c["passed"] for c in loop] == [True, False] and loop[1]["message"] == "k = 2"
    assert by_line["assert math.isclose(x, 0.75)"][0]["kind"] == "bool"
    assert by_line["torch.testing.assert_close(torch.tensor(1.0), torch.tensor(1.0))"][0]["passed"]
    # a failed claim does not stop the run: the cells after it ran (ipywidgets is installed here)
    assert result["error"] is None and result["n_failed"] == 1
    assert by_line["assert slider.value == 3"][0]["passed"]
    assert result["figures"] == 1 and len(list((tmp_path / "fig").glob("99_test_cell01_1.png"))) == 1


def test_runs_without_ipywidgets_skipping_widget_cells(notebook, tmp_path):
    script = (f"import sys; sys.modules['ipywidgets'] = None; sys.path.insert(0, {str(ROOT / 'scripts')!r});"
              "import importlib.util as u; u.find_spec = (lambda f: (lambda n, *a: None if n == 'ipywidgets' "
              "else f(n, *a)))(u.find_spec); import run_notebook as rn; sys.modules.pop('ipywidgets');"
              f"r = rn.run({str(notebook)!r}, figures=None, quiet=True);"
              "print(r['skipped_widget_cells'], r['error'] is None, r['n_claims'])")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[0] == "[4, 5] True 8"


def test_an_error_in_a_cell_is_reported_not_hidden(tmp_path):
    path = tmp_path / "98_broken.py"
    path.write_text("# %%\nx = 1\n\n# %%\nraise ValueError('boom')\n\n# %%\nassert x == 1\n")
    result = rn.run(path, figures=None, quiet=True)
    assert result["error"]["cell"] == 1 and "ValueError: boom" in result["error"]["traceback"]
    assert result["n_claims"] == 0  # nothing after the failing cell ran


def test_the_tour_runs_as_a_script_and_records_full_profile_results(tmp_path):
    """The real thing on the CPU, quick profile: what a GPU machine does with --profile full."""
    out = tmp_path / "tour.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "run_notebook.py"),
                           str(ROOT / "notebooks" / "00_tour.py"), "--profile", "quick", "--quiet",
                           "--figures", str(tmp_path / "fig"), "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["profile"] == "quick" and result["error"] is None and result["n_failed"] == 0
    assert result["n_claims"] >= 3 and result["wall_s"] > 0 and result["peak_rss_gib"] > 0.1
    assert result["figures"] >= 1 and list((tmp_path / "fig").glob("00_tour_cell*.png"))
    full = tmp_path / "full_gpu.json"
    rn.record_full(result, full)
    rn.record_full(result, full)  # merged by notebook, not appended
    data = json.loads(full.read_text())
    assert list(data["notebooks"]) == ["00_tour"] and data["notebooks"]["00_tour"]["wall_s"] == result["wall_s"]


def test_sweep_plan_has_disjoint_seeds_and_varies_kernels_and_threads():
    runs = claims.plan(6, 100, "AVX512")
    seeds = [s for r in runs for s in r["seeds"]]
    assert len(seeds) == len(set(seeds)) == 18 and min(seeds) == 100
    assert [r["threads"] for r in runs] == [2, 1, 2, 1, 2, 1]
    assert [r["set_kernel"] for r in runs] == [None] * 4 + ["avx2", "default"]
    assert claims.plan(6, 100, "DEFAULT")[4]["set_kernel"] is None  # never select up


def test_aggregate_counts_runs_and_keeps_the_smallest_margin():
    def rec(run, margins):
        return {"run": run, "claims": [{"id": "n:c1", "cell": 1, "claim": "assert a > b", "kind": "compare",
                                        "op": ">", "passed": m > 0, "quantity": 1 + m, "threshold": 1.0,
                                        "margin": m} for m in margins]}
    runs = claims.plan(3, 0, "AVX512")
    agg = claims.aggregate("n", runs, [rec(0, [0.5, 0.2]), rec(1, [0.3]), rec(2, [-0.1])])
    (claim,) = agg["claims"]
    assert claim["runs_passed"] == 2 and claim["n_runs"] == 3 and claim["evaluations"] == 4
    assert claim["min_margin"] == pytest.approx(-0.1) and claim["quantity_range"] == [pytest.approx(0.9), 1.5]
    assert agg["claims_passing_every_run"] == 0
