"""The environment report: versions, directories, and datasets verified by checksum.

Every scenario builds its own data directory in ``tmp_path`` (links to the shared offline copy,
truncated copies for broken files) and its own cache directory, and forbids the network.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import torch

from datafixtures import SHARED, build_data_dir, have_shared
from transfer_utils import report
from transfer_utils.data import checksums
from transfer_utils.core.paths import KNOWN_DATASETS

needs_shared = pytest.mark.skipif(not have_shared(), reason="the course's offline data copy is not here")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point the course at ``tmp_path/data`` and ``tmp_path/cache``; any download attempt fails."""
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TL_OFFLINE", "1")
    monkeypatch.setenv("TL_PROFILE", "quick")
    monkeypatch.setattr(checksums, "_VERIFIED", {})  # no checksum remembered from another test

    def no_network(*args, **kwargs):
        raise AssertionError("the report tried to download something")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return tmp_path / "data"


def _run(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str], str]:
    """Run ``python -m transfer_utils``'s main; return (exit code, dataset name -> line, output)."""
    code = report.main()
    out = capsys.readouterr().out
    lines = {name: line for line in out.splitlines() for name in KNOWN_DATASETS
             if line.startswith(f"  {name} ")}
    assert set(lines) == set(KNOWN_DATASETS), out
    return code, lines, out


def _listing(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.lstat().st_size) for p in root.rglob("*"))


def test_versions_agree_with_the_modules_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy
    import torchvision

    versions = report.package_versions()
    assert versions["torch"] == torch.__version__.split("+")[0]
    assert versions["torchvision"] == torchvision.__version__.split("+")[0]
    assert versions["numpy"] == numpy.__version__
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    monkeypatch.setattr(report, "_PACKAGES", ("no-such-package-for-the-course",))
    assert report.package_versions()["no-such-package-for-the-course"] == "missing"


def test_report_names_every_part(env: Path) -> None:
    env.mkdir()
    text = report.environment_report()
    for needle in ("Versions: python", "Device: ", "Profile: quick", f"Data directory: {env}",
                   f"Cache directory: {env.parent / 'cache'}", "Offline: yes"):
        assert needle in text, needle


@needs_shared
def test_good_data_directory_exits_zero_and_downloads_nothing(env: Path, capsys) -> None:
    build_data_dir(env)
    before = _listing(env)
    code, lines, out = _run(capsys)
    assert code == 0, out
    for name in ("MNIST", "USPS test", "CIFAR-10", "Review sentences"):
        assert "present, checksums verified" in lines[name], lines[name]
    assert "absent (optional)" in lines["USPS train"]
    assert "missing" not in out and "corrupted" not in out
    assert _listing(env) == before  # nothing downloaded or written into the data directory


def test_empty_data_directory_is_missing_everything(env: Path, capsys) -> None:
    env.mkdir()
    code, lines, out = _run(capsys)
    assert code == 1
    assert "missing" in lines["MNIST"] and "train-images-idx3-ubyte.gz" in lines["MNIST"]
    assert KNOWN_DATASETS["MNIST"].how_to_get in lines["MNIST"]
    assert "missing" in lines["USPS test"] and "usps.t.bz2" in lines["USPS test"]
    assert "missing" in lines["CIFAR-10"] and "cifar10_jpg_train.tar.gz" in lines["CIFAR-10"]
    assert "Not ready: MNIST missing, USPS test missing, CIFAR-10 missing" in out
    assert list(env.iterdir()) == []


@needs_shared
def test_truncated_mnist_archive_is_corrupted(env: Path, capsys) -> None:
    bad = "MNIST/raw/train-images-idx3-ubyte.gz"
    build_data_dir(env, truncate={bad: 100_000})
    code, lines, out = _run(capsys)
    assert code == 1
    line = lines["MNIST"]
    assert "corrupted" in line and "train-images-idx3-ubyte.gz" in line and "100,000 bytes" in line
    assert f"rm {env / bad}" in line  # the fix: delete it, then how to get it again
    assert KNOWN_DATASETS["MNIST"].how_to_get in line
    assert "train-labels" not in line  # the intact files are not blamed
    assert "present" in lines["USPS test"] and "present" in lines["CIFAR-10"]
    assert (env / bad).stat().st_size == 100_000  # the report deletes nothing itself


@needs_shared
def test_truncated_cifar_archive_is_corrupted(env: Path, capsys) -> None:
    build_data_dir(env, truncate={"cifar10_jpg/cifar10_jpg_train.tar.gz": 300_000})
    code, lines, out = _run(capsys)
    assert code == 1
    assert "corrupted" in lines["CIFAR-10"] and "cifar10_jpg_train.tar.gz" in lines["CIFAR-10"]
    assert "cifar10_jpg_test.tar.gz" not in lines["CIFAR-10"]
    assert "present" in lines["MNIST"] and "present" in lines["USPS test"]


@needs_shared
def test_missing_usps_file(env: Path, capsys) -> None:
    build_data_dir(env, skip=("USPS/usps.t.bz2",))
    code, lines, out = _run(capsys)
    assert code == 1
    assert "missing" in lines["USPS test"] and "usps.t.bz2" in lines["USPS test"]
    assert "present" in lines["MNIST"] and "present" in lines["CIFAR-10"]


@needs_shared
def test_a_second_report_hashes_nothing(env: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    build_data_dir(env, truncate={"USPS/usps.t.bz2": 1_000})
    hashed: list[str] = []
    real = checksums.file_md5
    monkeypatch.setattr(checksums, "file_md5", lambda path, *a, **k: hashed.append(Path(path).name) or real(path))
    assert _run(capsys)[0] == 1
    assert "usps.t.bz2" in hashed and "cifar10_jpg_train.tar.gz" in hashed
    assert (env.parent / "cache" / checksums.VERIFY_CACHE_NAME).is_file()
    hashed.clear()
    monkeypatch.setattr(checksums, "_VERIFIED", {})  # as in a new process: only the file on disk
    code, lines, _ = _run(capsys)
    assert code == 1 and "corrupted" in lines["USPS test"] and hashed == []
    # a repaired file has a new size and time: it alone is hashed again
    (env / "USPS" / "usps.t.bz2").unlink()
    (env / "USPS" / "usps.t.bz2").symlink_to(SHARED / "USPS" / "usps.t.bz2")
    code, lines, _ = _run(capsys)
    assert code == 0 and hashed == ["usps.t.bz2"]


@needs_shared
def test_a_damaged_checksum_cache_is_ignored(env: Path, capsys) -> None:
    build_data_dir(env)
    cache = env.parent / "cache"
    cache.mkdir()
    (cache / checksums.VERIFY_CACHE_NAME).write_text("{ not json")
    assert _run(capsys)[0] == 0
    assert '"format": 1' in (cache / checksums.VERIFY_CACHE_NAME).read_text()


@needs_shared
def test_command_line_exit_status(tmp_path: Path) -> None:
    """``python -m transfer_utils`` itself: status 1 and the file named for a truncated archive."""
    data = build_data_dir(tmp_path / "data", truncate={"MNIST/raw/t10k-labels-idx1-ubyte.gz": 500})
    env = {**os.environ, "TL_DATA_DIR": str(data), "TL_CACHE_DIR": str(tmp_path / "cache"),
           "TL_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "transfer_utils"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "corrupted: t10k-labels-idx1-ubyte.gz" in proc.stdout
    assert "Traceback" not in proc.stderr
