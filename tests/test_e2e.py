"""The pure parts of the real-browser test (scripts/e2e.py): the command it starts is `make lab`'s, the
screenshots' names, and what it reads from saved notebooks. The browser session itself is `make e2e`."""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import e2e  # noqa: E402

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@needs_make
def test_the_server_is_started_by_make_lab_with_the_test_arguments_intact(tmp_path: Path):
    """`make -n` prints the recipe `make lab` would run: the Makefile's jupyter command on notebook 00
    (the page the test opens first), followed by exactly the arguments the test passes, even with a
    space in a path (LAB_ARGS goes through make and a shell)."""
    args = e2e.lab_args(8765, "abc123", tmp_path / "with space")
    command = e2e.make_command(args, make_args=("-n",))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    printed = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    recipe = printed.strip().splitlines()[-1]
    words = shlex.split(recipe)
    assert words[:3] == ["cd", "notebooks", "&&"] and words[3] == "JUPYTER_PREFER_ENV_PATH=1", recipe
    assert words[4].endswith("/bin/jupyter") and words[5] == "lab", recipe
    assert "/lab/tree/" + words[6] == e2e.FIRST_PAGE
    assert words[-len(args):] == args
    assert words[7:-len(args)] in ([], ["--allow-root"])


def test_the_makefile_recipe_is_what_make_n_showed():
    """The same check against the Makefile's text, for machines without make."""
    recipe = re.search(r"^lab:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
    assert recipe.endswith("$(LAB_ROOT) $(LAB_ARGS)"), recipe
    assert f"jupyter lab {Path(e2e.FIRST_PAGE).name} " in recipe, recipe


def test_lab_arguments():
    args = e2e.lab_args(8765, "tok", Path("/tmp/x"))
    assert "--no-browser" in args and "--port=8765" in args and "--IdentityProvider.token=tok" in args
    assert "--LabApp.user_settings_dir=/tmp/x/user-settings" in args
    assert "--LabApp.workspaces_dir=/tmp/x/workspaces" in args


def test_screenshot_names_are_numbered_in_the_order_taken(tmp_path: Path):
    shots = e2e.Shots(tmp_path)
    taken = [shots.path(1, "00_tour.ipynb", "opened"), shots.path(2, "00_tour.ipynb", "slider-before"),
             shots.path(10, "site", "index")]
    assert [p.name for p in taken] == ["01-00_tour-opened.png", "02-00_tour-slider-before.png", "10-site-index.png"]
    assert sorted(taken) == taken and all(p.parent == tmp_path for p in taken)
    for subject, step in (("../x", "ran"), ("00_tour", "Ran"), ("00_tour", "a b")):
        with pytest.raises(ValueError):
            shots.path(3, subject, step)


def test_the_default_screenshot_folder_is_build_e2e():
    assert e2e.OUT_DIR == ROOT / "build" / "e2e"
    assert "/build/" in (ROOT / ".gitignore").read_text().split()  # an artefact, never committed


def test_error_outputs_are_found_and_stderr_is_not_an_error():
    nb = new_notebook(cells=[
        new_code_cell("import sys; print('note', file=sys.stderr)",
                      outputs=[new_output("stream", name="stderr", text="note\n")]),
        new_code_cell("1/0", outputs=[new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                                 traceback=["..."])]),
        new_code_cell("x = 1"),
    ])
    assert e2e.error_outputs(nb) == ["cell 2: ZeroDivisionError: division by zero"]
    nb.cells.pop(1)
    assert e2e.error_outputs(nb) == []


def test_image_bytes_decodes_data_addresses():
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    assert e2e.image_bytes("data:image/png;base64," + base64.b64encode(png).decode()) == png
    assert e2e.image_bytes("blob:abc") == b"blob:abc"
    assert e2e.image_bytes(None) == b""


def test_the_notebooks_and_their_pairs_are_put_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """What the session saved (outputs, the jupytext pair rewritten, a checkpoint folder) is undone."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (tmp_path / "lab").mkdir()
    shutil.copy(ROOT / "lab" / "jupyter_server_config.py", tmp_path / "lab")
    nb, py = folder / "00_tour.ipynb", folder / "00_tour.py"
    nb.write_text("original notebook")
    py.write_text("original pair")
    os.utime(py, (1_000_000_000, 1_000_000_000))
    monkeypatch.setattr(e2e, "ROOT", tmp_path)
    with e2e.notebooks_restored(("00_tour.ipynb",)):
        nb.write_text("with outputs")
        py.write_text("original pair")  # same bytes, new time
        (folder / ".ipynb_checkpoints").mkdir()
        (folder / ".ipynb_checkpoints" / "00_tour-checkpoint.ipynb").write_text("x")
    assert nb.read_text() == "original notebook" and py.read_text() == "original pair"
    assert py.stat().st_mtime == 1_000_000_000
    assert not (folder / ".ipynb_checkpoints").exists()
