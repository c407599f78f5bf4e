"""The notebook filter (scripts/nbstrip.py) and the post-save hook (lab/jupyter_server_config.py):
against nbformat as the reference, on the committed notebooks, and in a real git repository."""

from __future__ import annotations

import copy
import importlib.util
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
IPYNB = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
spec = importlib.util.spec_from_file_location("nbstrip", ROOT / "scripts" / "nbstrip.py")
nbstrip = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nbstrip)
refresh_git_index = runpy.run_path(str(ROOT / "lab" / "jupyter_server_config.py"))["refresh_git_index"]
MARK = "# NBVAL_CHECK_OUTPUT"


def run_in_jupyterlab(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What a session leaves in a notebook: outputs, counts, UI state, the kernel's metadata."""
    nb = copy.deepcopy(nb)
    for count, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=7):
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"line {count}\n"),
                        nbformat.v4.new_output("display_data", data={"text/plain": "<Figure>"}),
                        nbformat.v4.new_output("execute_result", data={"text/plain": "42"},
                                               execution_count=count)]
        cell.metadata.update(scrolled=True, execution={"iopub.status.idle": "2026-01-01T00:00:00Z"})
    nb.cells[0].metadata["jupyter"] = {"source_hidden": True}
    nb.metadata["language_info"] = dict(nbstrip.LANGUAGE_INFO, version="3.10.12")
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def reference_strip(nb: nbformat.NotebookNode) -> str:
    """The rules of the filter written independently with nbformat's API and writer."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        for key in ("scrolled", "execution", "jupyter", "collapsed"):
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        if MARK in cell.source:
            cell.outputs = [o for o in cell.outputs if o.output_type in ("stream", "execute_result")]
            for out in cell.outputs:
                if out.output_type == "execute_result":
                    out.execution_count = 1
            cell.execution_count = None if cell.execution_count is None else 1
        else:
            cell.outputs, cell.execution_count = [], None
    nb.metadata = nbformat.NotebookNode({k: v for k, v in nb.metadata.items()
                                         if k in ("kernelspec", "jupytext", "language_info")})
    nb.metadata.language_info = dict(nbstrip.LANGUAGE_INFO)
    return nbformat.writes(nb) + "\n"


@pytest.mark.parametrize("path", IPYNB, ids=lambda p: p.name)
def test_a_committed_notebook_passes_through_byte_for_byte(path: Path):
    text = path.read_text(encoding="utf-8")
    assert nbstrip.clean(text) == text


@pytest.mark.parametrize("path", IPYNB, ids=lambda p: p.name)
def test_a_run_notebook_is_cleaned_back_to_the_committed_one(path: Path):
    committed = path.read_text(encoding="utf-8")
    nb = nbformat.reads(committed, as_version=4)
    run = run_in_jupyterlab(nb)
    cleaned = nbstrip.clean(nbformat.writes(run))
    assert cleaned == reference_strip(run)
    marked = [c for c in nb.cells if c.cell_type == "code" and MARK in c.source]
    if not marked:  # a notebook without checked cells comes back exactly as committed
        assert cleaned == committed


def test_a_checked_cell_keeps_its_compared_outputs():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 99 A test"),
                nbformat.v4.new_code_cell(f"{MARK}\nprint(1)"), nbformat.v4.new_code_cell("print(2)")]
    cleaned = nbformat.reads(nbstrip.clean(nbformat.writes(run_in_jupyterlab(nb))), as_version=4)
    checked, plain = cleaned.cells[1], cleaned.cells[2]
    assert [o.output_type for o in checked.outputs] == ["stream", "execute_result"]
    assert checked.outputs[0].text == "line 7\n" and checked.execution_count == 1
    assert checked.outputs[1].execution_count == 1
    assert plain.outputs == [] and plain.execution_count is None
    assert cleaned.cells[0].metadata == {} and set(cleaned.metadata) == {"language_info"}
    nbformat.validate(cleaned)


@pytest.mark.parametrize("text", ["<<<<<<< HEAD\n{\n=======\n", "[1, 2]", '{"no": "cells"}', ""])
def test_what_is_not_a_notebook_passes_unchanged(text: str):
    assert nbstrip.clean(text) == text


def test_the_filter_runs_as_a_pipe_with_any_python():
    path = IPYNB[0]
    run = nbformat.writes(run_in_jupyterlab(nbformat.read(path, as_version=4)))
    out = subprocess.run([sys.executable, "-I", str(ROOT / "scripts" / "nbstrip.py")], input=run.encode(),
                         capture_output=True, check=True).stdout.decode()
    assert out == nbstrip.clean(run)


def test_in_place_cleans_a_new_notebook_file(tmp_path: Path):
    """A notebook made by jupytext from a new .py has no language_info; --in-place gives it the
    committed form, and leaves a clean file untouched (same bytes)."""
    nb = run_in_jupyterlab(nbformat.read(IPYNB[1], as_version=4))
    del nb.metadata["language_info"]
    new, clean = tmp_path / "new.ipynb", tmp_path / "clean.ipynb"
    nbformat.write(nb, new)
    shutil.copy(IPYNB[1], clean)
    nbstrip.main(["--in-place", str(new), str(clean)])
    assert new.read_text(encoding="utf-8") == IPYNB[1].read_text(encoding="utf-8")
    assert clean.read_bytes() == IPYNB[1].read_bytes()


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with the course's .gitattributes, the filter installed, one notebook committed."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "course"
    (repo / "notebooks").mkdir(parents=True)
    (repo / "scripts").mkdir()
    shutil.copy(ROOT / ".gitattributes", repo)
    shutil.copy(ROOT / "scripts" / "nbstrip.py", repo / "scripts")
    shutil.copy(IPYNB[1], repo / "notebooks")
    _git(repo, "init", "-q")
    _git(repo, "config", "filter.nbstrip.clean", f"'{sys.executable}' scripts/nbstrip.py")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "course")
    return repo


def test_git_sees_a_run_notebook_as_unchanged_and_the_hook_clears_status(repo: Path):
    path = repo / "notebooks" / IPYNB[1].name
    path.write_text(nbformat.writes(run_in_jupyterlab(nbformat.read(path, as_version=4))), encoding="utf-8")
    assert _git(repo / "notebooks", "diff", "--stat") == ""  # the filter: no difference to show
    # git compares sizes before it reads through the filter, so status lists the file until refreshed
    assert _git(repo, "status", "--porcelain") == f" M notebooks/{path.name}\n"
    assert refresh_git_index(str(path))
    assert _git(repo, "status", "--porcelain") == ""
    assert "outputs" in path.read_text() and '"output_type"' in path.read_text()  # the file keeps them


def test_the_hook_leaves_an_edit_and_an_untracked_file_alone(repo: Path):
    path = repo / "notebooks" / IPYNB[1].name
    nb = run_in_jupyterlab(nbformat.read(path, as_version=4))
    nb.cells[-1].source += "\nOne more line."
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    assert not refresh_git_index(str(path))
    assert _git(repo, "status", "--porcelain") == f" M notebooks/{path.name}\n"  # modified, not staged
    assert "One more line." in _git(repo, "diff")
    new = repo / "notebooks" / "Untitled.ipynb"
    new.write_text(nbformat.writes(nbformat.v4.new_notebook()), encoding="utf-8")
    assert not refresh_git_index(str(new))
    assert "?? notebooks/Untitled.ipynb" in _git(repo, "status", "--porcelain")
    assert not refresh_git_index(str(repo.parent / "elsewhere.ipynb"))  # outside any repository


def test_make_setup_installs_the_filter_that_gitattributes_names():
    attributes = (ROOT / ".gitattributes").read_text()
    assert "notebooks/*.ipynb filter=nbstrip" in attributes
    makefile = (ROOT / "Makefile").read_text()
    assert "git config filter.nbstrip.clean '$(PYTHON) scripts/nbstrip.py'" in makefile
    assert "cp lab/jupyter_server_config.py $@" in makefile and "ipykernel install" not in makefile
