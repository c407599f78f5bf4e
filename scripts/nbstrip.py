"""Git's clean filter for the course's notebooks: what git sees has no outputs and no run state.

``make setup`` installs it (``git config filter.nbstrip.clean "python3 scripts/nbstrip.py"``) and
``.gitattributes`` sends ``notebooks/*.ipynb`` through it, so a notebook that was opened, run and
saved in JupyterLab is, to ``git status``, ``git diff`` and ``git add``, the notebook committed.
The file on disk keeps its outputs; only what git stores and compares is cleaned. It reads a
notebook on stdin and writes the cleaned notebook on stdout:

* every code cell loses its outputs and its execution count, except a cell marked
  ``# NBVAL_CHECK_OUTPUT`` (see ``scripts/store_checked_outputs.py``): it keeps its ``stream`` and
  ``execute_result`` outputs, which nbval compares exactly, and an execution count of 1 (nbval
  compares only cells that have a count; which count does not matter) when it has one;
* every cell loses the metadata that records how it was viewed or run (:data:`CELL_RUN_STATE`:
  JupyterLab's ``collapsed``, ``scrolled``, ``jupyter`` (hidden input or output), ``execution``
  (timing), ...); what the course writes (``tags``, ``slideshow``, jupytext's ``lines_to_next_cell``) stays;
* the notebook keeps only ``kernelspec``, ``jupytext`` and ``language_info`` of its metadata (saved
  widget state goes), and ``language_info`` becomes :data:`LANGUAGE_INFO`. JupyterLab writes the
  running kernel's ``language_info`` into the notebook when the kernel starts and marks the
  notebook changed if it differs from what the file holds; storing the kernel's own value keeps a
  freshly opened notebook unchanged, and pinning it here keeps ``git status`` clean when the
  kernel's Python is another version;
* it is written as nbformat writes notebooks (keys sorted, one-space indent, UTF-8, a final
  newline), so a committed notebook passes through byte for byte.

Input that is not a notebook (a file with merge-conflict markers, say) passes through unchanged.
``python3 scripts/nbstrip.py --in-place notebooks/NN_name.ipynb`` cleans a file itself.
Only the standard library is used, so any Python 3 runs it, with or without the course's venv.
"""

from __future__ import annotations

import json
import sys
from typing import Any

MARK = "# NBVAL_CHECK_OUTPUT"
CHECKED_OUTPUT_TYPES = ("stream", "execute_result")
CELL_RUN_STATE = ("collapsed", "scrolled", "jupyter", "execution", "ExecuteTime", "editable", "deletable",
                  "trusted", "vscode")
NOTEBOOK_METADATA_KEPT = ("kernelspec", "jupytext", "language_info")
LANGUAGE_INFO: dict[str, Any] = {
    # What ipykernel reports (IPythonKernel.language_info) on the Python the course's measurements use
    # (README: benchmarks and claims); a kernel on another Python differs only in "version".
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": "3.11.7",
}


def _lines(text: str | list[str]) -> list[str]:
    """A multi-line string as nbformat stores it: a list of lines, each with its newline."""
    return text.splitlines(keepends=True) if isinstance(text, str) else text


def _checked_outputs(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = []
    for out in outputs:
        if out.get("output_type") not in CHECKED_OUTPUT_TYPES:
            continue
        out = dict(out)
        if "execution_count" in out:
            out["execution_count"] = 1
        if "text" in out:
            out["text"] = _lines(out["text"])
        kept.append(out)
    return kept


def strip_notebook(nb: dict[str, Any]) -> dict[str, Any]:
    """The notebook as committed: see the module docstring. ``nb`` is not modified."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        cell["source"] = _lines(cell.get("source", []))
        metadata = cell.get("metadata", {})
        cell["metadata"] = {key: value for key, value in metadata.items() if key not in CELL_RUN_STATE}
        if cell.get("cell_type") != "code":
            continue
        if MARK in "".join(cell["source"]):
            cell["outputs"] = _checked_outputs(cell.get("outputs", []))
            cell["execution_count"] = None if cell.get("execution_count") is None else 1
        else:
            cell["outputs"], cell["execution_count"] = [], None
    metadata = nb.get("metadata", {})
    nb["metadata"] = {key: metadata[key] for key in NOTEBOOK_METADATA_KEPT if key in metadata}
    nb["metadata"]["language_info"] = LANGUAGE_INFO
    return nb


def dumps(nb: dict[str, Any]) -> str:
    """``nbformat.writes`` formatting, with the final newline ``nbformat.write`` adds."""
    return json.dumps(nb, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False) + "\n"


def clean(text: str) -> str:
    """The cleaned notebook text, or ``text`` itself when it is not a notebook."""
    try:
        nb = json.loads(text)
    except ValueError:
        return text
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return text
    return dumps(strip_notebook(nb))


def main(argv: list[str] | None = None) -> None:
    """As git's filter: stdin to stdout. ``--in-place FILE...``: clean the files themselves (their
    outputs go too), e.g. to give a new notebook the metadata the committed ones carry."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--in-place"]:
        for name in args[1:]:
            with open(name, encoding="utf-8") as f:
                text = f.read()
            cleaned = clean(text)
            if cleaned != text:
                with open(name, "w", encoding="utf-8") as f:
                    f.write(cleaned)
        return
    data = sys.stdin.buffer.read().decode("utf-8", errors="surrogateescape")
    sys.stdout.buffer.write(clean(data).encode("utf-8", errors="surrogateescape"))


if __name__ == "__main__":
    main()
