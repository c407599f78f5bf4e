"""A pytest plugin: save every notebook nbval executes, with the outputs that run produced.

The course's site (``make site``, ``scripts/site.py``) shows each notebook with its outputs from the
test run, so that the notebooks are executed once, by ``make notebooks``, and never again for the
site. Loaded by the Makefile's nbval command::

    python -m pytest --nbval-lax -p scripts.nbval_save --save-executed=build/executed notebooks/*.ipynb

nbval runs each code cell of a notebook as one test item (``IPyNbCell``): ``item.cell`` is the cell
of the notebook it read (``item.parent.nb``) and ``item.test_outputs`` the outputs the kernel sent
while running it (``None`` when the cell did not run). When the last cell of a notebook has run,
this plugin writes ``DIR/<name>.ipynb``: the notebook read from disk with each code cell's outputs
replaced by those of the run (an error output included, so that a failed cell shows on the site and
the site check fails), numbered in the order of the run. The file is written to a temporary name
and renamed into place (``transfer_utils.core.atomic``), so a killed run never leaves half a
notebook. The metadata records ``transfer_course.source_sha256``, a hash of the cells' sources
(:func:`source_digest`), from which ``scripts/build_site.py`` tells that a notebook changed after its
executed copy was made.

Without ``--save-executed`` the plugin does nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import nbformat

from transfer_utils.core.atomic import atomic_path

METADATA_KEY = "transfer_course"


def source_digest(nb: Any) -> str:
    """SHA-256 of a notebook's cells (type and source), blind to outputs and metadata.

    Two notebooks have the same digest exactly when their cells say the same thing, so an executed
    copy is current while its digest equals that of the notebook in ``notebooks/``.
    """
    cells = [[cell["cell_type"], cell["source"]] for cell in nb["cells"]]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8")).hexdigest()


def _clean_output(out: Any) -> nbformat.NotebookNode:
    """An nbval output as a valid nbformat v4 output (nbval leaves some fields unset)."""
    out = nbformat.from_dict(copy.deepcopy(dict(out)))
    kind = out["output_type"]
    if kind in ("display_data", "execute_result"):
        out.setdefault("metadata", {})
        out.setdefault("data", {})
    if kind == "execute_result":
        out.setdefault("execution_count", None)
    return out


def executed_notebook(nb: Any, outputs: dict[int, list | None]) -> nbformat.NotebookNode:
    """``nb`` with the ``n``-th code cell's outputs set to ``outputs[n]``.

    A code cell missing from ``outputs``, or mapped to ``None``, did not run: it keeps no outputs
    and no execution count. The cells that ran are numbered 1, 2, ... in notebook order.
    """
    new = nbformat.from_dict(copy.deepcopy(dict(nb)))
    count = 0
    code = 0
    for cell in new.cells:
        if cell.cell_type != "code":
            continue
        outs = outputs.get(code)
        code += 1
        if outs is None:
            cell.outputs, cell.execution_count = [], None
            continue
        count += 1
        cell.execution_count = count
        cell.outputs = [_clean_output(out) for out in outs]
        for out in cell.outputs:
            if out.output_type == "execute_result":
                out.execution_count = count
    new.metadata[METADATA_KEY] = {"source_sha256": source_digest(nb)}
    nbformat.validate(new)
    return new


def write_notebook_atomic(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write ``nb`` to ``path`` atomically (``transfer_utils.core.atomic.atomic_path``), readable by all
    as a normal file is (the temporary file starts private)."""
    umask = os.umask(0)
    os.umask(umask)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            nbformat.write(nb, handle)
        os.chmod(tmp, 0o666 & ~umask)


def save_items(items: list[Any], out_dir: Path) -> Path:
    """Write the notebook that nbval cell items ``items`` (all of one notebook) belong to."""
    parent = items[0].parent
    outputs = {item.cell_num: item.test_outputs for item in items}
    path = out_dir / Path(str(parent.fspath)).name
    write_notebook_atomic(executed_notebook(parent.nb, outputs), path)
    return path


def _is_nbval_cell(item: Any) -> bool:
    return hasattr(item, "test_outputs") and hasattr(item, "cell_num") and hasattr(item.parent, "nb")


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--save-executed", metavar="DIR", default=None,
                     help="write each notebook nbval runs, with its outputs, to DIR/<name>.ipynb "
                          "(scripts/nbval_save.py)")


def pytest_runtest_teardown(item: Any, nextitem: Any) -> None:
    """After a notebook's last cell item, save that notebook with its outputs."""
    out_dir = item.config.getoption("save_executed")
    if not out_dir or not _is_nbval_cell(item):
        return
    if nextitem is not None and nextitem.parent is item.parent:
        return
    cells = [it for it in item.session.items if it.parent is item.parent and _is_nbval_cell(it)]
    save_items(cells, Path(out_dir))
