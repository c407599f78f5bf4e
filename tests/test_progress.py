"""Progress bars: live on a terminal or in a kernel, quiet in a log (counted redraws, a fake clock)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
import tqdm
import tqdm.std

from transfer_utils.core import progress
from transfer_utils.core.progress import LOG_REFRESH_S, bar_options, is_interactive, progress_bar

ROOT = Path(__file__).resolve().parents[1]


class _Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class _Clock:
    """A clock that moves only when told: ``step`` seconds per reading."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 1_000.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    clock = _Clock(step=0.5)
    monkeypatch.setattr(tqdm.std, "time", clock)  # tqdm reads the time through this name
    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)  # no monitor thread with its own clock
    return clock


def _redraws(stream: io.StringIO, steps: int, **kwargs) -> tuple[int, str]:
    for _ in progress_bar(range(steps), file=stream, desc="work", **kwargs):
        pass
    text = stream.getvalue()
    return text.count("\r"), text


def test_a_terminal_is_live_and_a_file_is_not(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(progress, "in_jupyter_kernel", lambda: False)
    assert is_interactive(_Terminal()) and bar_options(_Terminal()) == {}
    assert not is_interactive(io.StringIO())
    options = bar_options(io.StringIO())
    assert options["mininterval"] == options["maxinterval"] == options["delay"] == LOG_REFRESH_S > 0
    closed = io.StringIO()
    closed.close()
    assert not is_interactive(closed)  # isatty() on a closed stream raises; not interactive
    assert not is_interactive(object())  # no isatty at all


def test_a_kernel_is_live_whatever_the_stream(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(progress, "in_jupyter_kernel", lambda: True)
    assert bar_options(io.StringIO()) == {}


def test_a_log_gets_a_redraw_per_refresh_period_a_terminal_every_step(fake_clock, monkeypatch):
    monkeypatch.setattr(progress, "in_jupyter_kernel", lambda: False)
    steps = 600  # 300 s on the fake clock
    live, _ = _redraws(_Terminal(), steps)
    assert live > steps // 2  # tqdm's default: a redraw whenever 0.1 s passed, here every step
    quiet, text = _redraws(io.StringIO(), steps, leave=True)
    seconds = steps * fake_clock.step
    assert 1 <= quiet <= seconds / LOG_REFRESH_S + 2, (quiet, text)
    assert "100%" in text and text.isascii()


def test_a_short_bar_writes_nothing_to_a_log(fake_clock, monkeypatch):
    monkeypatch.setattr(progress, "in_jupyter_kernel", lambda: False)
    fake_clock.step = 0.01
    count, text = _redraws(io.StringIO(), 100, leave=False)  # one fake second
    assert (count, text) == (0, "")


def test_the_callers_options_win(fake_clock, monkeypatch):
    monkeypatch.setattr(progress, "in_jupyter_kernel", lambda: False)
    count, _ = _redraws(io.StringIO(), 100, delay=0, mininterval=0, maxinterval=0, miniters=1)
    assert count >= 100


def test_in_jupyter_kernel_only_with_a_kernel(monkeypatch: pytest.MonkeyPatch):
    class Shell:
        kernel = object()

    class Terminal:
        pass

    fake = type(sys)("IPython")
    monkeypatch.setitem(sys.modules, "IPython", fake)
    for shell, expected in ((Shell(), True), (Terminal(), False), (None, False)):
        fake.get_ipython = lambda shell=shell: shell
        assert progress.in_jupyter_kernel() is expected
    monkeypatch.delitem(sys.modules, "IPython")
    assert progress.in_jupyter_kernel() is False


def test_prepare_says_its_bars_are_quiet_in_a_log(tmp_path: Path):
    """Run with stderr to a file (a log): the first line of ``prepare`` says the bars are quiet."""
    code = ("from transfer_utils import prepare\n"
            "raise SystemExit(prepare.main([('nothing', lambda: 'ok')]))")
    with open(tmp_path / "err.log", "w") as err:
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=err,
                             text=True, env={"PYTHONPATH": str(ROOT), "TL_CACHE_DIR": str(tmp_path),
                                             "PATH": "/usr/bin:/bin"}, check=True).stdout
    assert out.splitlines()[0].startswith("prepare: stderr is not a terminal")



def test_a_script_that_imports_ipykernel_still_gets_a_text_bar(tmp_path: Path):
    """tqdm.auto picks its widget whenever ipykernel's shell module was imported first; outside a
    kernel that widget has nowhere to show. A fresh process imports ipykernel, then the package:
    its bars are still tqdm's text bars, written to their stream."""
    code = ("import io, ipykernel.zmqshell, tqdm.notebook\n"
            "from transfer_utils.core.progress import progress_bar\n"
            "class Terminal(io.StringIO):\n"
            "    def isatty(self):\n"
            "        return True\n"
            "stream = Terminal()\n"
            "bar = progress_bar(range(3), file=stream, desc='text')\n"
            "list(bar)\n"
            "assert not isinstance(bar, tqdm.notebook.tqdm), type(bar)\n"
            "assert 'text' in stream.getvalue(), stream.getvalue()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
