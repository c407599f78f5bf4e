"""``python -m transfer_utils.prepare``: every step runs, every failure is listed, the status says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from datafixtures import MNIST_FILES, build_data_dir, have_shared
from transfer_utils import prepare
from transfer_utils.core import atomic
from transfer_utils.data.files import DatasetMissingError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(atomic, "_CLEANED", set())


def test_every_step_runs_and_every_failure_is_listed(capsys) -> None:
    calls: list[str] = []

    def missing() -> str:
        calls.append("missing")
        raise DatasetMissingError("MNIST: missing train-images-idx3-ubyte.gz in directory /x")

    def fine() -> str:
        calls.append("fine")
        return "built"

    def broken() -> str:
        calls.append("broken")
        raise RuntimeError("the archive /y/a.tar.gz is truncated; replace it")

    steps = [("first", missing), ("second", fine), ("third", broken)]
    assert prepare.main(steps) == 1
    out = capsys.readouterr().out
    assert calls == ["missing", "fine", "broken"]  # a failure does not stop the steps after it
    assert "prepare: second: built" in out
    assert "prepare: 2 of 3 step(s) failed" in out
    assert "  - first: DatasetMissingError: MNIST: missing train-images-idx3-ubyte.gz" in out
    assert "  - third: RuntimeError: the archive /y/a.tar.gz is truncated" in out
    assert "Traceback" not in out


def test_all_steps_succeed(capsys) -> None:
    assert prepare.main([("one", lambda: "ready now"), ("two", lambda: None)]) == 0
    out = capsys.readouterr().out
    assert "prepare: one: ready now" in out and "prepare: two: ready" in out
    assert "prepare: done in" in out and "failed" not in out


def test_a_step_that_cannot_be_imported_is_a_failure(capsys) -> None:
    assert prepare.main([("ghost", "transfer_utils.no_such_module:build"), ("next", lambda: "ok")]) == 1
    out = capsys.readouterr().out
    assert "ghost: ModuleNotFoundError" in out and "prepare: next: ok" in out


def test_every_registered_step_resolves_to_a_function() -> None:
    for what, target in prepare.STEPS:
        assert callable(prepare._resolve(target)), what


def test_an_interrupt_still_stops_the_run() -> None:
    def interrupted() -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare.main([("stop", interrupted), ("never", lambda: pytest.fail("ran after Ctrl-C"))])


def test_stale_temporary_files_are_removed_first(tmp_path: Path, capsys) -> None:
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    left = cache / "models" / ".digit_cnn_mnist.pt.abcd1234.tmp"
    left.write_bytes(b"half")
    os.utime(left, (0, 0))
    assert prepare.main([("one", lambda: "ok")]) == 0
    assert not left.exists()
    assert "removed 1 temporary file(s)" in capsys.readouterr().out


@pytest.mark.skipif(not have_shared(), reason="the course's offline data copy is not here")
def test_the_real_prepare_on_a_broken_data_directory(tmp_path: Path) -> None:
    """The real steps, as a command: MNIST missing (the model step fails fast), CIFAR truncated."""
    data = build_data_dir(tmp_path / "data", skip=tuple(f"MNIST/raw/{f}" for f in MNIST_FILES),
                          truncate={"cifar10_jpg/cifar10_jpg_train.tar.gz": 300_000})
    env = {**os.environ, "TL_DATA_DIR": str(data), "TL_CACHE_DIR": str(tmp_path / "cache"),
           "TL_OFFLINE": "1", "TL_DEVICE": "cpu", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "transfer_utils.prepare"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "prepare: 2 of 2 step(s) failed" in out
    cifar_line = next(line for line in out.splitlines() if line.startswith("  - CIFAR-10"))
    assert "CifarSourceError" in cifar_line and "cifar10_jpg_train.tar.gz" in cifar_line
    assert "truncated or corrupted" in cifar_line
    model_line = next(line for line in out.splitlines() if line.startswith("  - digit source model"))
    assert "DatasetMissingError" in model_line and "train-images-idx3-ubyte.gz" in model_line
    assert "Traceback" not in out + proc.stderr
    assert not (tmp_path / "cache" / "cifar10_jpg").exists()
    assert not (tmp_path / "cache" / "models" / "digit_cnn_mnist.pt").exists()
