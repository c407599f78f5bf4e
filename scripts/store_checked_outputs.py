"""Store the expected outputs of cells marked ``# NBVAL_CHECK_OUTPUT`` in their notebooks.

Notebooks are committed without outputs, except for cells whose printed output is deterministic
and marked ``# NBVAL_CHECK_OUTPUT``: nbval compares those exactly. This script executes each
notebook given (quick profile, in a fresh kernel) and keeps the outputs of the marked cells only.

    python scripts/store_checked_outputs.py notebooks/00_tour.ipynb
"""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MARK = "# NBVAL_CHECK_OUTPUT"


def store(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    marked = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and MARK in c.source]
    if not marked:
        return 0
    run = copy.deepcopy(nb)
    NotebookClient(run, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if i in marked:
            cell.outputs = [o for o in run.cells[i].outputs if o.output_type == "stream"
                            or o.output_type == "execute_result"]
            cell.execution_count = run.cells[i].execution_count  # nbval skips cells never run
        else:
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, path)
    return len(marked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("TL_PROFILE", "quick")
    for path in args.notebooks:
        print(f"{path}: stored outputs of {store(path)} marked cell(s)")


if __name__ == "__main__":
    main()
