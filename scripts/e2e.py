"""A real-browser test of the course in JupyterLab (``make e2e``), with screenshots.

What a learner does after ``make lab``, done by a headless Chromium (the system's, driven through
Playwright's Python API; no browser is downloaded):

1. starts JupyterLab exactly as ``make lab`` does, by running ``make lab`` with
   ``LAB_ARGS="--no-browser --port=P --IdentityProvider.token=T ..."`` (plus a fresh folder for
   JupyterLab's user settings and workspaces, so that only the course's defaults apply and the
   learner's own workspace is neither read nor written), and opens the address the server prints,
   which is notebook 00's;
2. for notebook 00 and notebook 01 (the cheapest later notebook with a slider): checks that no
   dialog asks for a kernel (or anything else), runs *Run > Run All Cells*, waits until every code
   cell has run and the kernel is idle, checks that no cell shows an error (a traceback), moves the
   notebook's first slider one step with the keyboard and checks that the figure it drives is
   redrawn (the image's bytes change), saves the notebook (Ctrl+S) and checks the saved file has no
   error output;
3. takes a screenshot of the site's landing page and of notebook 00's page (``build/site/``, from
   ``make site``) when the site has been built;
4. stops the server (its shutdown API, then signals) whatever happened, and checks that
   ``git status --porcelain notebooks/`` is what it was before: running and saving notebooks in the
   course's JupyterLab leaves git clean (the output filter and the server's save hook, README
   "JupyterLab and git"). Then it puts the two notebooks back as they were on disk, outputs removed.

Screenshots and the server's log go to ``build/e2e/`` (CI keeps that folder as an artefact; nothing
under ``build/`` is committed), numbered in the order they were taken.

Usage::

    python scripts/e2e.py                       # what `make e2e` runs
    python scripts/e2e.py --chromium /path/to/chromium --make-arg VENV=/other/venv
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.util
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "build" / "e2e"
SITE_DIR = ROOT / "build" / "site"
NOTEBOOKS = ("00_tour.ipynb", "01_derivatives_autograd.ipynb")
CHROMIUM = "/usr/bin/chromium"
SERVER_START_S = 300  # make lab's setup check, `prepare` and the server, on a busy 2-core machine
KERNEL_RUN_S = 600  # one notebook's Run All
STEP_S = 120  # anything else the page must show
# Where `jupyter lab FILE` sends the browser it opens (jupyter_server's file_to_run under LabApp's
# file_url_prefix); the Makefile names 00_tour.ipynb.
FIRST_PAGE = "/lab/tree/00_tour.ipynb"
TRACEBACK = "Traceback (most recent call last)"


class E2EFailure(AssertionError):
    """A check of the browser session failed; the message says which and where."""


@dataclass(frozen=True)
class Shots:
    """Numbered screenshot paths in one folder: ``01-00_tour-ran.png``, ``02-00_tour-slider.png``..."""

    folder: Path

    def path(self, index: int, subject: str, step: str) -> Path:
        """The ``index``-th screenshot, of ``subject`` (a notebook's file name or ``site``) at ``step``."""
        if not re.fullmatch(r"[A-Za-z0-9_]+(\.ipynb)?", subject) or not re.fullmatch(r"[a-z0-9-]+", step):
            raise ValueError(f"screenshot names are [A-Za-z0-9_] subjects and [a-z0-9-] steps: {subject!r}, {step!r}")
        return self.folder / f"{index:02d}-{Path(subject).stem}-{step}.png"


def lab_args(port: int, token: str, settings_dir: Path) -> list[str]:
    """The arguments the test adds to ``make lab`` (its ``LAB_ARGS``): no browser of its own, a known
    port and token, and JupyterLab's user settings and workspaces in ``settings_dir``."""
    return ["--no-browser", f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--LabApp.user_settings_dir={settings_dir / 'user-settings'}",
            f"--LabApp.workspaces_dir={settings_dir / 'workspaces'}"]


def make_command(args: list[str], make: str = "make", make_args: tuple[str, ...] = ()) -> list[str]:
    """``make lab`` with ``args`` as its ``LAB_ARGS`` (the Makefile appends them to its jupyter command)."""
    return [make, "--no-print-directory", "-C", str(ROOT), *make_args, "lab", f"LAB_ARGS={shlex.join(args)}"]


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def git_status(paths: str = "notebooks/") -> str:
    """``git status --porcelain`` of ``paths`` (empty when clean)."""
    return subprocess.run(["git", "status", "--porcelain", "--", paths], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def load_save_hook() -> Any:
    """``refresh_git_index`` from lab/jupyter_server_config.py: the server's own save hook."""
    spec = importlib.util.spec_from_file_location("course_server_config", ROOT / "lab" / "jupyter_server_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.refresh_git_index


def error_outputs(notebook: dict) -> list[str]:
    """``ename: evalue`` of every error output in a notebook (as JSON), with its cell's number."""
    found = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {number}: {output.get('ename')}: {output.get('evalue')}")
    return found


# --------------------------------------------------------------------------------------------- server
class Lab:
    """``make lab`` in its own process group, its output in a log file; ``stop`` ends it cleanly."""

    def __init__(self, command: list[str], log_path: Path) -> None:
        self.command = command
        self.log_path = log_path
        self.log = open(log_path, "w")  # noqa: SIM115  (closed by stop)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)

    def wait_until_serving(self, base: str, token: str, timeout: float) -> None:
        """Return once the server answers its status API (it then serves the page of the file that
        `make lab` names); fail if `make lab` exits first or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise E2EFailure(f"`make lab` exited with {self.process.returncode} before serving; "
                                 f"see {self.log_path}:\n{self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=10).read()
                return
            time.sleep(1)
        raise E2EFailure(f"JupyterLab did not serve within {timeout:.0f} s; see {self.log_path}")

    def stop(self, base: str, token: str) -> None:
        """Ask the server to shut down (kernels included); signal the process group if it lingers."""
        if self.process.poll() is None:
            request = urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                             headers={"Authorization": f"token {token}"})
            with contextlib.suppress(OSError):
                urllib.request.urlopen(request, timeout=30).read()
        for sig, wait in ((None, 60), (signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            if sig is not None and self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=wait)
                break
        self.log.close()


# -------------------------------------------------------------------------------------------- browser
# JavaScript run in the page: the state of the notebook in the current tab.
CELLS_STATE = """() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!nb) return null;
  const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
  const tracebacks = [...nb.querySelectorAll('.jp-CodeCell')].map((cell, i) => [i + 1,
      [...cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
        .map(o => o.textContent).filter(t => t.includes('%s')).map(t => t.slice(0, 400))])
    .filter(([i, t]) => t.length);
  return {prompts, tracebacks};
}""" % TRACEBACK


class Session:
    """One browser page on the course's JupyterLab."""

    def __init__(self, page: Any, shots: Shots, base: str, token: str) -> None:
        self.page = page
        self.base, self.token = base, token
        self.shots = shots
        self.count = 0

    def shot(self, subject: str, step: str, element: Any = None, full_page: bool = False) -> Path:
        self.count += 1
        path = self.shots.path(self.count, subject, step)
        (element or self.page).screenshot(path=str(path), **({"full_page": True} if full_page else {}))
        print(f"  screenshot {path.name}")
        return path

    def no_dialog(self, where: str) -> None:
        """No dialog is open: in particular not JupyterLab's 'Select Kernel'."""
        dialogs = self.page.locator(".jp-Dialog")
        if dialogs.count():
            text = " | ".join(dialogs.all_inner_texts())[:500]
            self.shot("lab", "unexpected-dialog")
            kind = "a kernel picker" if "kernel" in text.lower() else "a dialog"
            raise E2EFailure(f"{where}: JupyterLab shows {kind}: {text!r}")

    def kernel(self, name: str) -> dict | None:
        """The server's record of the kernel of notebook ``name``'s session (REST API), if any."""
        request = urllib.request.Request(f"{self.base}/api/sessions", headers={"Authorization": f"token {self.token}"})
        sessions = json.loads(urllib.request.urlopen(request, timeout=30).read())
        return next((s["kernel"] for s in sessions if s.get("path") == name and s.get("kernel")), None)

    def wait_kernel_idle(self, name: str, timeout: float) -> dict:
        """Wait until notebook ``name`` has its own kernel (the one its metadata names, started without
        asking), idle on the server and in the status bar, with no cell queued or running."""
        display = json.loads((ROOT / "notebooks" / name).read_text())["metadata"]["kernelspec"]["display_name"]
        wanted = json.loads((ROOT / "notebooks" / name).read_text())["metadata"]["kernelspec"]["name"]
        deadline = time.monotonic() + timeout
        state = kernel = None
        while time.monotonic() < deadline:
            self.no_dialog(name)
            kernel = self.kernel(name)
            state = self.page.evaluate(CELLS_STATE)
            bar = self.page.locator("#jp-main-statusbar").inner_text()
            if (kernel and kernel["execution_state"] == "idle" and state and f"{display} | Idle" in bar
                    and not any("*" in p for p in state["prompts"])):
                if kernel["name"] != wanted:
                    raise E2EFailure(f"{name} runs on kernel {kernel['name']!r}, not the {wanted!r} it names")
                return state
            time.sleep(2)
        raise E2EFailure(f"{name}: the kernel was not idle after {timeout:.0f} s (kernel {kernel}, cells {state})")

    def open_in_file_browser(self, name: str) -> None:
        """Double-click the notebook in the file browser, as a learner does."""
        item = self.page.locator(".jp-DirListing-item", has=self.page.locator(".jp-DirListing-itemText",
                                                                                  has_text=name))
        item.first.dblclick(timeout=STEP_S * 1000)
        self.page.locator(f'.lm-TabBar-tab.jp-mod-current .lm-TabBar-tabLabel:text-is("{name}")').wait_for(
            timeout=STEP_S * 1000)

    def run_all(self, name: str) -> dict:
        """Run > Run All Cells, wait for the end, and check that every code cell ran without error."""
        self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").wait_for(timeout=STEP_S * 1000)
        self.wait_kernel_idle(name, SERVER_START_S)  # its kernel started, and nothing asked which
        self.shot(name, "opened")
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        start = time.monotonic()
        time.sleep(5)  # let the kernel take the first cell before polling for idle
        state = self.wait_kernel_idle(name, KERNEL_RUN_S)
        seconds = time.monotonic() - start
        if state["tracebacks"]:
            raise E2EFailure(f"{name}: error output in cells {state['tracebacks']}")
        unrun = [i + 1 for i, p in enumerate(state["prompts"]) if not re.search(r"\[\d+\]", p)]
        if unrun:
            raise E2EFailure(f"{name}: code cells {unrun} did not run (prompts {state['prompts']})")
        print(f"  ran {len(state['prompts'])} code cells in {seconds:.0f} s, no error output")
        return state

    def move_slider(self, name: str) -> tuple[str, str]:
        """Move the notebook's first slider one step right (arrow key on its handle) and check that the
        figure it drives is redrawn: the image's bytes differ. Returns the readouts before and after."""
        widget = self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .widget-interact").first
        widget.scroll_into_view_if_needed(timeout=STEP_S * 1000)
        image = widget.locator("img").first
        image.wait_for(timeout=STEP_S * 1000)
        readout = widget.locator(".widget-readout").first
        before, value_before = image.get_attribute("src"), readout.inner_text()
        self.shot(name, "slider-before", element=widget)
        handle = widget.locator(".noUi-handle").first
        handle.focus()
        handle.press("ArrowRight")
        deadline = time.monotonic() + STEP_S
        while time.monotonic() < deadline:
            after = image.get_attribute("src") if image.count() else None
            if after and after != before and readout.inner_text() != value_before:
                break
            time.sleep(1)
        else:
            raise E2EFailure(f"{name}: moving the slider from {value_before} did not redraw its figure "
                             f"within {STEP_S} s (readout now {readout.inner_text()})")
        if image_bytes(after) == image_bytes(before):
            raise E2EFailure(f"{name}: the slider moved but its figure's image is byte for byte the same")
        value_after = readout.inner_text()
        self.shot(name, "slider-after", element=widget)
        print(f"  slider {value_before} -> {value_after}: its figure was redrawn")
        return value_before, value_after

    def save(self, name: str) -> None:
        """Ctrl+S, then wait until the tab is no longer marked unsaved."""
        self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").click(position={"x": 5, "y": 5})
        self.page.keyboard.press("Control+s")
        tab = self.page.locator(".lm-TabBar-tab.jp-mod-current")
        deadline = time.monotonic() + STEP_S
        while "jp-mod-dirty" in (tab.get_attribute("class") or ""):
            if time.monotonic() > deadline:
                raise E2EFailure(f"{name}: still unsaved {STEP_S} s after Ctrl+S")
            time.sleep(1)
        self.no_dialog(f"{name}, on saving")


def image_bytes(src: str | None) -> bytes:
    """The bytes of a ``data:`` image address (the figures of an Output widget are inline PNGs)."""
    if not src or not src.startswith("data:"):
        return (src or "").encode()
    return base64.b64decode(src.split(",", 1)[1])


@contextlib.contextmanager
def notebooks_restored(names: tuple[str, ...]) -> Iterator[None]:
    """Put the notebooks and their paired ``.py`` files (jupytext saves both) back as they were on
    disk (bytes and times) afterwards, and git's record of them with the server's save hook, so a
    checkout is left as found."""
    folder = ROOT / "notebooks"
    files = [name for notebook in names for name in (notebook, str(Path(notebook).with_suffix(".py")))
             if (folder / name).exists()]
    saved = {name: ((folder / name).read_bytes(), (folder / name).stat()) for name in files}
    checkpoints = (folder / ".ipynb_checkpoints").exists()
    try:
        yield
    finally:
        refresh = load_save_hook()
        for name, (data, stat) in saved.items():
            path = folder / name
            if path.read_bytes() != data or path.stat().st_mtime_ns != stat.st_mtime_ns:
                path.write_bytes(data)
                os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
                refresh(str(path))
        if not checkpoints:  # the session made it
            shutil.rmtree(folder / ".ipynb_checkpoints", ignore_errors=True)


def site_screenshots(session: Session) -> list[Path]:
    """The site's landing page and notebook 00's page, when ``make site`` has built them."""
    pages = [("site", "index", SITE_DIR / "index.html"),
             ("site", "notebook-00", SITE_DIR / "notebooks" / "00_tour.html")]
    if not pages[0][2].exists():
        print(f"  no site in {SITE_DIR.relative_to(ROOT)} (run `make site`): its screenshots are skipped")
        return []
    taken = []
    for subject, step, path in pages:
        if not path.exists():
            raise E2EFailure(f"the site has no page {path.relative_to(ROOT)}")
        session.page.goto(path.as_uri(), wait_until="load", timeout=STEP_S * 1000)
        taken.append(session.shot(subject, step, full_page=True))
    return taken


def run(chromium: str, make: str, make_args: tuple[str, ...], out_dir: Path) -> None:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415  (a dev extra; say so if missing)

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    shots = Shots(out_dir)
    status_before = git_status()
    port, token = free_port(), secrets.token_hex(16)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tl-e2e-") as settings, notebooks_restored(NOTEBOOKS):
        command = make_command(lab_args(port, token, Path(settings)), make, make_args)
        print("$ " + shlex.join(command))
        lab = Lab(command, out_dir / "lab.log")
        base = f"http://127.0.0.1:{port}"
        try:
            lab.wait_until_serving(base, token, SERVER_START_S)
            print(f"  JupyterLab serves after {time.monotonic() - started:.0f} s")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, headless=True)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    page.set_default_timeout(STEP_S * 1000)
                    session = Session(page, shots, base, token)
                    page.goto(f"{base}{FIRST_PAGE}?token={token}", wait_until="domcontentloaded")
                    try:
                        for index, name in enumerate(NOTEBOOKS):
                            print(f"{name}:")
                            if index:
                                session.open_in_file_browser(name)
                            session.run_all(name)
                            session.shot(name, "ran")
                            session.move_slider(name)
                            session.save(name)
                            saved = json.loads((ROOT / "notebooks" / name).read_text())
                            if not any(cell.get("outputs") for cell in saved["cells"]):
                                raise E2EFailure(f"{name}: Ctrl+S did not save the outputs to disk")
                            if errors := error_outputs(saved):
                                raise E2EFailure(f"{name}: the saved notebook has error outputs: {errors}")
                    except Exception:
                        with contextlib.suppress(Exception):
                            session.shot("lab", "failure")
                        raise
                    print("site:")
                    site_screenshots(session)
                finally:
                    browser.close()
        finally:
            lab.stop(base, token)
        status_after = git_status()
        if status_after != status_before:
            raise E2EFailure("running and saving notebooks in JupyterLab changed `git status --porcelain "
                             f"notebooks/`:\nbefore:\n{status_before}after:\n{status_after}")
        print("  git status of notebooks/ unchanged by the session")
    if git_status() != status_before:
        raise E2EFailure("putting the notebooks back changed `git status --porcelain notebooks/`")
    print(f"e2e passed in {time.monotonic() - started:.0f} s; screenshots in {out_dir.relative_to(ROOT)}/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chromium", default=os.environ.get("TL_CHROMIUM", CHROMIUM),
                        help=f"the Chromium to drive (default {CHROMIUM}, or $TL_CHROMIUM)")
    parser.add_argument("--make", default=os.environ.get("MAKE", "make"))
    parser.add_argument("--make-arg", action="append", default=[],
                        help="an argument for the `make lab` it runs (VENV=..., PYTHON=...); repeatable")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="screenshot folder (default build/e2e)")
    args = parser.parse_args(argv)
    if not Path(args.chromium).exists():
        print(f"No Chromium at {args.chromium}: install Debian's `chromium` package (apt-get install chromium) "
              "or pass --chromium PATH.", file=sys.stderr)
        return 2
    if importlib.util.find_spec("playwright") is None:
        print("Playwright's Python API is missing: pip install playwright (a dev extra); "
              "do not run `playwright install`, the system Chromium is used.", file=sys.stderr)
        return 2
    try:
        run(args.chromium, args.make, tuple(args.make_arg), args.out.resolve())
    except E2EFailure as failure:
        print(f"e2e FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
