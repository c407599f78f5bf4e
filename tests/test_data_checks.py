"""require_data: one quick check, before a notebook starts, of every dataset it reads."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from datafixtures import build_data_dir, have_shared
from transfer_utils.data import checksums
from transfer_utils.data.checks import DataCheckError, require_data
from transfer_utils.data.checksums import cached_md5, file_md5

needs_shared = pytest.mark.skipif(not have_shared(), reason="the course's offline data copy is not here")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TL_OFFLINE", "1")
    monkeypatch.setattr(checksums, "_VERIFIED", {})
    return tmp_path / "data"


@needs_shared
def test_passes_on_good_data_and_is_fast_when_warm(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_data_dir(env)
    start = time.perf_counter()
    first = require_data("mnist", "usps", "cifar10")
    cold = time.perf_counter() - start
    assert [c.name for c in first] == ["MNIST", "USPS test", "USPS train", "CIFAR-10"]
    monkeypatch.setattr(checksums, "_VERIFIED", {})  # as in a new kernel
    monkeypatch.setattr(checksums, "file_md5", lambda *a, **k: pytest.fail("hashed a verified file"))
    start = time.perf_counter()
    require_data("mnist", "usps", "cifar10")
    warm = time.perf_counter() - start
    assert warm < 0.25, (cold, warm)  # a few stat calls and one small JSON file


@needs_shared
def test_lists_everything_missing_or_corrupted_at_once(env: Path) -> None:
    build_data_dir(env, skip=("USPS/usps.t.bz2",),
                   truncate={"MNIST/raw/t10k-images-idx3-ubyte.gz": 5_000,
                             "cifar10_jpg/cifar10_jpg_test.tar.gz": 10_000})
    with pytest.raises(DataCheckError) as err:
        require_data("mnist", "usps", "cifar10")
    text = str(err.value)
    assert str(env) in text and "TL_DATA_DIR" in text
    assert "MNIST: corrupted: t10k-images-idx3-ubyte.gz" in text
    assert f"rm {env / 'MNIST/raw/t10k-images-idx3-ubyte.gz'}" in text
    assert "USPS test: missing: USPS/usps.t.bz2" in text
    assert "CIFAR-10: corrupted: cifar10_jpg_test.tar.gz" in text
    assert [p.name for p in err.value.problems] == ["MNIST", "USPS test", "CIFAR-10"]
    require_data("reviews")  # a dataset that is intact still passes on its own


@needs_shared
def test_a_corrupted_optional_split_fails_too(env: Path) -> None:
    build_data_dir(env)
    (env / "USPS" / "usps.bz2").write_bytes(b"not the USPS train split")
    with pytest.raises(DataCheckError, match="USPS train: corrupted: usps.bz2"):
        require_data("usps")


def test_only_what_is_asked_is_checked(env: Path) -> None:
    env.mkdir()
    assert require_data() == []
    with pytest.raises(DataCheckError, match="MNIST: missing") as err:
        require_data("MNIST")
    assert "CIFAR" not in str(err.value)


def test_unknown_name(env: Path) -> None:
    env.mkdir()
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        require_data("imagenet")


def test_cached_md5_rehashes_a_changed_file(env: Path, tmp_path: Path) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc" * 1000)
    assert cached_md5(f) == file_md5(f)
    checksums._VERIFIED.clear()
    stamp = f.stat().st_mtime_ns
    f.write_bytes(b"abd" * 1000)  # same size, new contents and a later time
    os.utime(f, ns=(stamp + 1_000_000_000, stamp + 1_000_000_000))
    assert cached_md5(f) == file_md5(f)


def test_an_unwritable_cache_still_checks(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env.mkdir()

    def refuse() -> Path:
        raise PermissionError("no cache")

    monkeypatch.setattr(checksums, "cache_dir", refuse)
    with pytest.raises(DataCheckError, match="usps.t.bz2"):
        require_data("usps")
