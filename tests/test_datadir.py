import os
from pathlib import Path

import pytest

from transfer_utils import datadir
from transfer_utils.datadir import cache_dir, data_dir, dataset_status, is_offline

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_env_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path.resolve()


def test_missing_data_dir_is_clear(monkeypatch, tmp_path):
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="does not exist.*mkdir -p"):
        data_dir()


def test_data_dir_that_is_a_file(monkeypatch, tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    monkeypatch.setenv("TL_DATA_DIR", str(f))
    with pytest.raises(NotADirectoryError):
        data_dir()


def test_default_data_dir_in_checkout(monkeypatch):
    monkeypatch.delenv("TL_DATA_DIR", raising=False)
    root = datadir.project_root()
    assert root is not None and data_dir() == root / "data"


def test_cache_dir_env_created(monkeypatch, tmp_path):
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "c" / "d"))
    path = cache_dir()
    assert path.is_dir() and path == (tmp_path / "c" / "d").resolve()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_unwritable_cache_is_clear(monkeypatch, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    monkeypatch.setenv("TL_CACHE_DIR", str(ro))
    with pytest.raises(PermissionError, match="not writable"):
        cache_dir()


def test_unwritable_cache_is_clear_even_for_root(monkeypatch, tmp_path):
    monkeypatch.setattr(datadir, "_writable", lambda path: False)
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "c"))
    with pytest.raises(PermissionError, match="not writable"):
        cache_dir()


def test_cache_dir_is_a_file(monkeypatch, tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    monkeypatch.setenv("TL_CACHE_DIR", str(f))
    with pytest.raises(NotADirectoryError):
        cache_dir()


def test_writable_probe_really_writes(tmp_path):
    assert datadir._writable(tmp_path)
    assert not datadir._writable(tmp_path / "missing")
    assert list(tmp_path.iterdir()) == []  # the probe file is removed


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_offline_switch(monkeypatch, value, expected):
    monkeypatch.setenv("TL_OFFLINE", value)
    assert is_offline() is expected


def test_dataset_status_on_empty_and_partial(tmp_path):
    status = dataset_status(tmp_path)
    assert set(status) == set(datadir.KNOWN_DATASETS) and not any(status.values())
    (tmp_path / "USPS").mkdir()
    (tmp_path / "USPS" / "usps.t.bz2").write_bytes(b"")
    assert dataset_status(tmp_path)["USPS test"] is True


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared offline data is not beside the project")
def test_dataset_status_on_shared_data():
    status = dataset_status(SHARED)
    assert status["MNIST"] and status["USPS test"] and status["CIFAR-10"]
