"""CIFAR-10 (Krizhevsky 2009): the natural-image target task of notebooks 05 and 06.

Where the images come from, in order of preference:

1. ``cifar-10-batches-py/`` in :func:`~transfer_utils.core.paths.data_dir` (the Python pickles that
   :class:`torchvision.datasets.CIFAR10` reads; downloaded there when online and absent);
2. an ImageFolder tree ``cifar10_jpg/{train,test}/<class>/*.jpg``, either already extracted in the
   data directory or extracted once from the archives ``cifar10_jpg/cifar10_jpg_{train,test}.tar.gz``
   into :func:`~transfer_utils.core.paths.cache_dir` (the data directory may be read-only).
   Extraction is atomic: into a temporary folder beside the target, then one rename, with a marker
   file that records the format version and, for each archive, its MD5, size and modification
   time. The cached tree is used only while it matches the archives actually present: the size
   and modification time are compared first (cheap), and the MD5 when they differ; an archive
   that changed is extracted again. Folders left by a killed extraction are removed on the next
   one (:func:`transfer_utils.core.atomic.clean_cache_once`).

Subsets are class-balanced and deterministic (:func:`balanced_subset_indices`): for one seed, the
first ``k`` images of every class are the same for every ``k``, so label-efficiency curves are nested.
Introduced in notebook 05.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from transfer_utils.core.atomic import atomic_path, clean_cache_once, temp_prefix
from transfer_utils.data.checks import cached_md5
from transfer_utils.core.paths import as_path, cache_dir, data_dir, is_offline

__all__ = [
    "CIFAR10_CLASSES",
    "EXTRACT_VERSION",
    "CifarSourceError",
    "cifar10_source",
    "extract_cifar10_jpg",
    "prepare_cifar10",
    "load_cifar10",
    "balanced_subset_indices",
    "cifar10_tensors",
]

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
#: Bump when the extracted layout changes; an old extraction is then redone.
EXTRACT_VERSION = 1
_ARCHIVE_DIR = "cifar10_jpg"
_MARKER = ".tl-extracted.json"
_SPLITS = ("train", "test")
_HOW_TO_GET = (
    "Get CIFAR-10 in one of these forms: (a) online, unset TL_OFFLINE and the loader downloads the "
    "python version into {data}/cifar-10-batches-py; (b) copy the python pickles "
    "(https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz, extracted) to "
    "{data}/cifar-10-batches-py/; (c) copy cifar10_jpg_train.tar.gz and cifar10_jpg_test.tar.gz "
    "to {data}/cifar10_jpg/."
)


class CifarSourceError(FileNotFoundError):
    """CIFAR-10 cannot be found (or an archive is unusable); the message says what to do."""


def _check_split(split: str) -> str:
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    return split


def _has_pickles(root: Path) -> bool:
    folder = root / "cifar-10-batches-py"
    return (folder / "data_batch_1").is_file() and (folder / "test_batch").is_file()


def _tree_complete(root: Path) -> bool:
    """An ImageFolder tree with both splits and all ten class folders."""
    return all((root / s / c).is_dir() for s in _SPLITS for c in CIFAR10_CLASSES)


def _read_marker(folder: Path) -> dict | None:
    try:
        marker = json.loads((folder / _MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _archive_stamp(archive: Path) -> dict[str, int]:
    stat = archive.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _archives(archive_dir: Path) -> dict[str, Path]:
    return {s: archive_dir / f"cifar10_jpg_{s}.tar.gz" for s in _SPLITS}


def _extraction_current(target: Path, archives: dict[str, Path]) -> bool:
    """Whether ``target`` is a complete extraction of exactly these ``archives``.

    The marker must have the current :data:`EXTRACT_VERSION`; each archive must have the size and
    modification time recorded in it or, when those differ (a copy, a touch, an older marker
    without them), the recorded MD5 (hashed through the checksum cache, so at most once per
    change of the file).
    """
    marker = _read_marker(target)
    if marker is None or marker.get("version") != EXTRACT_VERSION or not _tree_complete(target):
        return False
    md5s, stamps = marker.get("md5"), marker.get("archives") or {}
    if not isinstance(md5s, dict) or not isinstance(stamps, dict):
        return False
    for split, archive in archives.items():
        try:
            if stamps.get(split) == _archive_stamp(archive):
                continue
            if md5s.get(split) != cached_md5(archive):
                return False
        except OSError:
            return False
    return True


def extract_cifar10_jpg(
    archive_dir: str | os.PathLike[str] | None = None,
    target: str | os.PathLike[str] | None = None,
) -> Path:
    """Extract the CIFAR-10 JPEG archives once, atomically; return the ImageFolder root.

    The root holds ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``. A present extraction with a
    marker of the current :data:`EXTRACT_VERSION` whose archives are the ones present (same size
    and modification time, else same MD5) is reused; anything else (no marker, an old version,
    changed archives, a half-written folder) is extracted again, atomically.

    Args:
        archive_dir: the folder with ``cifar10_jpg_{train,test}.tar.gz``; default
            ``data_dir()/cifar10_jpg``.
        target: where the tree goes; default ``cache_dir()/cifar10_jpg``.

    Raises:
        CifarSourceError: an archive is missing, unreadable or lacks the expected layout.
    """
    archive_dir = (as_path(archive_dir, "archive_dir") if archive_dir is not None
                   else data_dir() / _ARCHIVE_DIR)
    target = as_path(target, "target") if target is not None else cache_dir() / _ARCHIVE_DIR
    archives = _archives(archive_dir)
    missing = [str(p) for p in archives.values() if not p.is_file()]
    if missing:
        raise CifarSourceError(
            f"CIFAR-10 JPEG archive(s) not found: {', '.join(missing)} (looked in {archive_dir}). "
            + _HOW_TO_GET.format(data=data_dir())
        )
    if _extraction_current(target, archives):
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    clean_cache_once(target.parent)  # folders a killed extraction left behind
    stamps = {s: _archive_stamp(p) for s, p in archives.items()}  # before reading: a later change
    checksums = {s: cached_md5(p) for s, p in archives.items()}   # makes the stamp disagree
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=target.parent))
    try:
        for split, archive in archives.items():
            try:
                with tarfile.open(archive, "r:gz") as tar:
                    members = [m for m in tar.getmembers()
                               if m.isfile() and m.name.startswith(f"cifar10_jpg/{split}/")
                               and m.name.lower().endswith((".jpg", ".jpeg", ".png"))]
                    tar.extractall(tmp, members=members, filter="data")
            except (tarfile.TarError, EOFError, OSError) as err:
                raise CifarSourceError(
                    f"Cannot read the archive {archive} ({err}); it may be truncated or corrupted. "
                    f"Replace it with a good copy. " + _HOW_TO_GET.format(data=data_dir())
                ) from err
        tree = tmp / "cifar10_jpg"
        if not _tree_complete(tree):
            raise CifarSourceError(
                f"The archives in {archive_dir} do not hold the layout "
                f"cifar10_jpg/{{train,test}}/<class>/*.jpg with the ten CIFAR-10 classes."
            )
        with atomic_path(tree / _MARKER) as marker_tmp:
            marker_tmp.write_text(json.dumps(
                {"version": EXTRACT_VERSION, "md5": checksums, "archives": stamps}))
        if target.exists():  # stale or incomplete: move it aside, then swap in the new tree
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tree, target)
        except OSError:  # another process finished first: use its tree if it is current
            if not _extraction_current(target, archives):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def cifar10_source() -> tuple[str, Path]:
    """Where CIFAR-10 will be read from, without extracting or downloading anything.

    Returns:
        ``("pickles", data_dir())``, ``("imagefolder", root)`` for an extracted tree,
        ``("archives", archive_dir)`` when the JPEG archives still need extracting, or
        ``("download", data_dir())`` when online and nothing is present.

    Raises:
        CifarSourceError: offline and no form of CIFAR-10 is present.
    """
    root = data_dir()
    if _has_pickles(root):
        return "pickles", root
    if _tree_complete(root / _ARCHIVE_DIR):  # a tree someone extracted into the data directory
        return "imagefolder", root / _ARCHIVE_DIR
    cached = cache_dir() / _ARCHIVE_DIR
    archives = _archives(root / _ARCHIVE_DIR)
    if all(p.is_file() for p in archives.values()):
        # the cached tree only while it is the extraction of these archives; else extract again
        if _extraction_current(cached, archives):
            return "imagefolder", cached
        return "archives", root / _ARCHIVE_DIR
    marker = _read_marker(cached)  # the archives are gone: the extraction is all there is
    if marker and marker.get("version") == EXTRACT_VERSION and _tree_complete(cached):
        return "imagefolder", cached
    if not is_offline():
        return "download", root
    raise CifarSourceError(
        f"CIFAR-10 is not in the data directory {root} and TL_OFFLINE is set, so nothing is "
        f"downloaded. Expected {root / 'cifar-10-batches-py'} or "
        f"{root / _ARCHIVE_DIR / 'cifar10_jpg_train.tar.gz'} (+ _test). "
        + _HOW_TO_GET.format(data=root)
    )


def prepare_cifar10() -> str:
    """``python -m transfer_utils.prepare`` step: make CIFAR-10 readable (extract once if needed)."""
    kind, path = cifar10_source()
    if kind == "archives":
        return f"JPEG tree extracted to {extract_cifar10_jpg(path)}"
    if kind == "download":
        return "not present; the first load downloads it"
    return f"{kind} at {path}"


def load_cifar10(split: str = "train", transform=None) -> Dataset:
    """CIFAR-10 ``split`` as a torchvision dataset (``CIFAR10`` or ``ImageFolder``).

    Both expose ``.targets`` (a list of ints in the order of :data:`CIFAR10_CLASSES`) and return
    ``(PIL image, label)`` pairs, or ``(transform(image), label)``.

    Raises:
        CifarSourceError: offline with no copy present (the message says where to put one).
        ValueError: an unknown split.
    """
    from torchvision import datasets  # imported here: torchvision is only needed for loading

    _check_split(split)
    kind, path = cifar10_source()
    if kind in ("pickles", "download"):
        try:
            return datasets.CIFAR10(str(path), train=(split == "train"), transform=transform,
                                    download=(kind == "download"))
        except (OSError, RuntimeError) as err:  # a failed download: say what to do instead
            raise CifarSourceError(
                f"Could not load or download CIFAR-10 into {path} ({type(err).__name__}: {err}). "
                + _HOW_TO_GET.format(data=path)
            ) from None
    if kind == "archives":
        path = extract_cifar10_jpg(path)
    ds = datasets.ImageFolder(str(path / split), transform=transform)
    if tuple(ds.classes) != CIFAR10_CLASSES:
        raise CifarSourceError(
            f"{path / split} has class folders {ds.classes}, expected {list(CIFAR10_CLASSES)}."
        )
    return ds


def balanced_subset_indices(
    targets: Sequence[int] | torch.Tensor | np.ndarray,
    n_per_class: int,
    seed: int = 0,
    classes: Sequence[int] | None = None,
) -> torch.Tensor:
    """Indices of ``n_per_class`` examples of every class, drawn without replacement.

    Each class's examples are shuffled by a generator seeded with ``seed`` and the first
    ``n_per_class`` are kept, so for a fixed seed the subset for ``k`` is contained in the subset
    for every ``k' > k`` (nested subsets for label-efficiency curves).

    Args:
        targets: the label of every example, shape ``(N,)``.
        n_per_class: a positive count, at most the size of the smallest class used.
        seed: the draw.
        classes: the classes to use (default: every label present).

    Returns:
        A sorted-by-class ``LongTensor`` of ``len(classes) * n_per_class`` indices.

    Raises:
        TypeError: targets that are not integer labels, or a seed that is not an int.
        ValueError: empty targets, a non-positive count or a class with too few examples.
    """
    array = np.asarray(targets)
    if array.dtype.kind not in "iub":
        raise TypeError(f"targets must be integer class labels, got an array of dtype {array.dtype}; "
                        f"map the labels to 0..K-1 first.")
    y = torch.as_tensor(array).long().reshape(-1)
    if y.numel() == 0:
        raise ValueError("targets is empty.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} ({seed!r}).")
    if not isinstance(n_per_class, (int, np.integer)) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive int, got {n_per_class!r}.")
    classes = sorted(torch.unique(y).tolist()) if classes is None else list(classes)
    out = []
    for c in classes:
        idx = torch.nonzero(y == c).flatten()
        if idx.numel() < n_per_class:
            raise ValueError(
                f"class {c} has {idx.numel()} examples, fewer than n_per_class={n_per_class}."
            )
        g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(c))
        out.append(idx[torch.randperm(idx.numel(), generator=g)[:n_per_class]])
    return torch.cat(out)


def cifar10_tensors(split: str = "train", n_per_class: int | None = None, seed: int = 0) -> TensorDataset:
    """A class-balanced CIFAR-10 subset decoded into tensors.

    Returns:
        ``TensorDataset(X, y)`` with ``X`` float32 of shape ``(N, 3, 32, 32)`` in ``[0, 1]`` and
        ``y`` int64; ``N = 10 * n_per_class`` (or the whole split when ``n_per_class`` is None).
    """
    ds = load_cifar10(split)
    targets = torch.as_tensor(ds.targets)
    idx = (torch.arange(len(targets)) if n_per_class is None
           else balanced_subset_indices(targets, n_per_class, seed))
    if hasattr(ds, "data"):  # torchvision CIFAR10: a uint8 array (N, 32, 32, 3) in memory
        X = torch.from_numpy(np.ascontiguousarray(ds.data[idx.numpy()])).permute(0, 3, 1, 2)
    else:
        X = torch.stack([
            torch.from_numpy(np.array(ds.loader(ds.samples[i][0]).convert("RGB"), dtype=np.uint8))
            for i in idx.tolist()
        ]).permute(0, 3, 1, 2)
    if X.shape[-2:] != (32, 32):
        raise CifarSourceError(f"Expected 32x32 CIFAR-10 images, got {tuple(X.shape[-2:])}.")
    return TensorDataset(X.float().div_(255.0).contiguous(), targets[idx].clone())
