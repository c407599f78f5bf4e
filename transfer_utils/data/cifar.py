"""CIFAR-10 (Krizhevsky 2009): the natural-image target task of notebooks 05 and 06.

Where the images come from, in order of preference (:func:`cifar10_source`):

1. ``cifar-10-batches-py/`` in :func:`~transfer_utils.core.paths.data_dir` (the Python pickles that
   :class:`torchvision.datasets.CIFAR10` reads; downloaded there when online and absent);
2. an ImageFolder tree ``cifar10_jpg/{train,test}/<class>/*.jpg``, either already extracted in the
   data directory or extracted once from the archives ``cifar10_jpg/cifar10_jpg_{train,test}.tar.gz``
   into the cache directory (:mod:`transfer_utils.data.cifar_archive`, which also holds the class
   names and the error this module raises).

Subsets are class-balanced and deterministic (:func:`balanced_subset_indices`): for one seed, the
first ``k`` images of every class are the same for every ``k``, so label-efficiency curves are nested.
Introduced in notebook 05.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from transfer_utils.core.paths import cache_dir, data_dir, is_offline
from transfer_utils.data.cifar_archive import (ARCHIVE_DIR, CIFAR10_CLASSES, EXTRACT_VERSION, HOW_TO_GET,
                                               SPLITS, CifarSourceError, archive_paths,
                                               extract_cifar10_jpg, extraction_current, read_marker,
                                               tree_complete)

__all__ = [
    "CIFAR10_CLASSES",
    "CifarSourceError",
    "cifar10_source",
    "prepare_cifar10",
    "load_cifar10",
    "balanced_subset_indices",
    "cifar10_tensors",
]


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    return split


def _has_pickles(root: Path) -> bool:
    folder = root / "cifar-10-batches-py"
    return (folder / "data_batch_1").is_file() and (folder / "test_batch").is_file()


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
    if tree_complete(root / ARCHIVE_DIR):  # a tree someone extracted into the data directory
        return "imagefolder", root / ARCHIVE_DIR
    cached = cache_dir() / ARCHIVE_DIR
    archives = archive_paths(root / ARCHIVE_DIR)
    if all(p.is_file() for p in archives.values()):
        # the cached tree only while it is the extraction of these archives; else extract again
        if extraction_current(cached, archives):
            return "imagefolder", cached
        return "archives", root / ARCHIVE_DIR
    marker = read_marker(cached)  # the archives are gone: the extraction is all there is
    if marker and marker.get("version") == EXTRACT_VERSION and tree_complete(cached):
        return "imagefolder", cached
    if not is_offline():
        return "download", root
    raise CifarSourceError(
        f"CIFAR-10 is not in the data directory {root} and TL_OFFLINE is set, so nothing is "
        f"downloaded. Expected {root / 'cifar-10-batches-py'} or "
        f"{root / ARCHIVE_DIR / 'cifar10_jpg_train.tar.gz'} (+ _test). "
        + HOW_TO_GET.format(data=root)
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
                + HOW_TO_GET.format(data=path)
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
