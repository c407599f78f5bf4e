"""Tests for transfer_utils.data.cifar: deterministic balanced subsets and atomic extraction."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from transfer_utils.core import atomic
from transfer_utils.data import checksums, cifar, cifar_archive
from transfer_utils.data.checksums import file_md5
from transfer_utils.data.cifar import (
    CIFAR10_CLASSES,
    CifarSourceError,
    balanced_subset_indices,
    cifar10_source,
    cifar10_tensors,
)
from transfer_utils.data.cifar_archive import extract_cifar10_jpg


def _make_archives(folder: Path, per_class: int = 3) -> dict[str, np.ndarray]:
    """Tiny CIFAR-like archives in the shared layout; returns the colour of every class."""
    folder.mkdir(parents=True, exist_ok=True)
    colours = {c: np.array([20 * i, 255 - 20 * i, 100], dtype=np.uint8) for i, c in enumerate(CIFAR10_CLASSES)}
    for split in ("train", "test"):
        with tarfile.open(folder / f"cifar10_jpg_{split}.tar.gz", "w:gz") as tar:
            readme = b"# readme"
            info = tarfile.TarInfo("cifar10_jpg/README.md")
            info.size = len(readme)
            tar.addfile(info, io.BytesIO(readme))
            for c in CIFAR10_CLASSES:
                for k in range(per_class):
                    buf = io.BytesIO()
                    Image.fromarray(np.tile(colours[c], (32, 32, 1))).save(buf, format="JPEG", quality=95)
                    info = tarfile.TarInfo(f"cifar10_jpg/{split}/{c}/{k:04d}.jpg")
                    info.size = buf.tell()
                    buf.seek(0)
                    tar.addfile(info, buf)
    return colours


@pytest.fixture
def fake_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, dict]:
    data, cache = tmp_path / "data", tmp_path / "cache"
    colours = _make_archives(data / "cifar10_jpg")
    monkeypatch.setenv("TL_DATA_DIR", str(data))
    monkeypatch.setenv("TL_CACHE_DIR", str(cache))
    monkeypatch.setenv("TL_OFFLINE", "1")
    monkeypatch.setattr(atomic, "_CLEANED", set())
    monkeypatch.setattr(checksums, "_VERIFIED", {})
    return data, cache, colours


def test_balanced_subsets_are_balanced_nested_and_deterministic() -> None:
    y = torch.arange(10).repeat_interleave(30)[torch.randperm(300)]
    small = balanced_subset_indices(y, 3, seed=1)
    large = balanced_subset_indices(y, 10, seed=1)
    assert torch.equal(torch.bincount(y[small]), torch.full((10,), 3))
    assert set(small.tolist()) <= set(large.tolist())  # nested for one seed
    assert torch.equal(small, balanced_subset_indices(y, 3, seed=1))  # deterministic
    assert not torch.equal(small, balanced_subset_indices(y, 3, seed=2))
    assert len(set(large.tolist())) == large.numel()  # no repeats


def test_balanced_subset_errors() -> None:
    y = torch.tensor([0, 0, 1])
    with pytest.raises(ValueError, match="class 1 has 1 examples"):
        balanced_subset_indices(y, 2)
    with pytest.raises(ValueError, match="positive"):
        balanced_subset_indices(y, 0)


def test_extraction_is_atomic_marked_and_reused(fake_data) -> None:
    data, cache, colours = fake_data
    assert cifar10_source()[0] == "archives"
    root = extract_cifar10_jpg()
    assert root == cache / "cifar10_jpg"
    marker = json.loads((root / ".tl-extracted.json").read_text())
    assert marker["version"] == cifar_archive.EXTRACT_VERSION and set(marker["md5"]) == {"train", "test"}
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]  # no temp folder left
    assert cifar10_source() == ("imagefolder", root)
    stamp = (root / "train" / "cat" / "0000.jpg").stat().st_mtime_ns
    assert extract_cifar10_jpg() == root  # reused, not redone
    assert (root / "train" / "cat" / "0000.jpg").stat().st_mtime_ns == stamp
    # an extraction from an older format version is redone
    (root / ".tl-extracted.json").write_text(json.dumps({**marker, "version": -1}))
    extract_cifar10_jpg()
    assert json.loads((root / ".tl-extracted.json").read_text())["version"] == cifar_archive.EXTRACT_VERSION


def test_tensors_match_the_images(fake_data) -> None:
    _, _, colours = fake_data
    ds = cifar10_tensors("test", n_per_class=2, seed=0)
    X, y = ds.tensors
    assert X.shape == (20, 3, 32, 32) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0
    assert torch.equal(torch.bincount(y), torch.full((10,), 2))
    for img, label in zip(X, y):  # JPEG is lossy: compare the mean colour, within a few levels
        expected = torch.tensor(colours[CIFAR10_CLASSES[int(label)]], dtype=torch.float32) / 255
        torch.testing.assert_close(img.mean(dim=(1, 2)), expected, atol=4 / 255, rtol=0)


def test_missing_offline_names_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TL_OFFLINE", "1")
    with pytest.raises(CifarSourceError, match="cifar10_jpg_train.tar.gz") as err:
        cifar10_tensors("train", 1)
    assert "cifar-10-batches-py" in str(err.value) and str(tmp_path / "empty") in str(err.value)


def test_corrupted_archive_is_reported(fake_data) -> None:
    data, cache, _ = fake_data
    path = data / "cifar10_jpg" / "cifar10_jpg_train.tar.gz"
    path.write_bytes(path.read_bytes()[:200])  # truncated
    with pytest.raises(CifarSourceError, match="truncated or corrupted"):
        extract_cifar10_jpg()
    assert not (cache / "cifar10_jpg").exists()
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


def test_bad_split() -> None:
    with pytest.raises(ValueError, match="split"):
        cifar.load_cifar10("validation")


def _n_images(root: Path) -> int:
    return sum(1 for _ in (root / "train").rglob("*.jpg"))


def test_a_changed_archive_is_extracted_again(fake_data, tmp_path) -> None:
    data, cache, _ = fake_data
    root = extract_cifar10_jpg()
    assert _n_images(root) == 30
    # replace the train archive by a modified copy (4 images per class instead of 3)
    other = tmp_path / "other"
    _make_archives(other, per_class=4)
    shutil.copyfile(other / "cifar10_jpg_train.tar.gz", data / "cifar10_jpg" / "cifar10_jpg_train.tar.gz")
    assert cifar10_source()[0] == "archives"  # the stale tree is no longer offered
    assert extract_cifar10_jpg() == root
    assert _n_images(root) == 40
    marker = json.loads((root / ".tl-extracted.json").read_text())
    archive = data / "cifar10_jpg" / "cifar10_jpg_train.tar.gz"
    assert marker["md5"]["train"] == file_md5(archive)
    assert marker["archives"]["train"] == {"size": archive.stat().st_size,
                                           "mtime_ns": archive.stat().st_mtime_ns}
    assert cifar10_source() == ("imagefolder", root)
    assert not [p for p in cache.iterdir() if p.name.startswith(".cifar10_jpg.")]


def test_same_contents_with_a_new_time_is_reused(fake_data, monkeypatch) -> None:
    data, cache, _ = fake_data
    root = extract_cifar10_jpg()
    stamp = (root / "train" / "cat" / "0000.jpg").stat().st_mtime_ns
    archive = data / "cifar10_jpg" / "cifar10_jpg_test.tar.gz"
    os.utime(archive, (1_000_000, 1_000_000))  # touched (or copied): only the time differs
    assert cifar10_source() == ("imagefolder", root)
    assert extract_cifar10_jpg() == root
    assert (root / "train" / "cat" / "0000.jpg").stat().st_mtime_ns == stamp  # not redone
    # a marker written before sizes and times were recorded is checked by MD5 alone
    marker = json.loads((root / ".tl-extracted.json").read_text())
    (root / ".tl-extracted.json").write_text(json.dumps({"version": marker["version"], "md5": marker["md5"]}))
    assert cifar10_source() == ("imagefolder", root)
    (root / ".tl-extracted.json").write_text(json.dumps({**marker, "md5": {"train": "0" * 32, "test": "0" * 32},
                                                         "archives": {}}))
    assert cifar10_source()[0] == "archives"


def test_a_killed_extraction_s_folder_is_removed(fake_data) -> None:
    data, cache, _ = fake_data
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    leftover = cache / f".cifar10_jpg.{int(proc.stdout)}.k3j5h7g9.tmp"
    (leftover / "cifar10_jpg" / "train" / "cat").mkdir(parents=True)
    (leftover / "cifar10_jpg" / "train" / "cat" / "0000.jpg").write_bytes(b"half")
    unrelated = cache / "notes.tmp"
    unrelated.write_text("mine")
    extract_cifar10_jpg()
    assert not leftover.exists() and unrelated.exists()
