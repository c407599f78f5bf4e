import os
from pathlib import Path

import pytest

from transfer_utils.core import paths as datadir
from transfer_utils.core.paths import cache_dir, data_dir, dataset_status, is_offline

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


def test_known_checksums_agree_with_torchvision():
    """The course's MD5 table against an independent source: torchvision's own classes."""
    from torchvision.datasets import CIFAR10, MNIST, USPS

    md5 = {path.split("/", 1)[1]: value for info in datadir.KNOWN_DATASETS.values()
           for path, value in info.md5.items()}
    for name, value in MNIST.resources:
        assert md5[f"raw/{name}"] == value
    for _url, name, value in USPS.split_list.values():
        assert md5[name] == value
    for name, value in CIFAR10.train_list + CIFAR10.test_list + [[CIFAR10.meta["filename"], CIFAR10.meta["md5"]]]:
        assert md5[name] == value


@pytest.mark.skipif(not (SHARED / "MD5SUMS").is_file(), reason="the shared offline data is not here")
def test_known_checksums_agree_with_the_offline_copy():
    listed = {}
    for line in (SHARED / "MD5SUMS").read_text().splitlines():
        value, path = line.split(maxsplit=1)
        listed[path.removeprefix("./")] = value
    known = {p: v for info in datadir.KNOWN_DATASETS.values() for p, v in info.md5.items()}
    shared_known = {p: v for p, v in known.items() if p in listed}
    assert len(shared_known) == 10  # 4 MNIST, 1 USPS, 2 CIFAR-10 archives, 3 review files
    assert all(listed[p] == v for p, v in shared_known.items())
