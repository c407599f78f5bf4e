"""Digits as domains of one task: MNIST (source), USPS (target) and scikit-learn's 8x8 digits.

All three are read through their usual loaders from the data directory
(:func:`transfer_utils.core.paths.data_dir`), checked against their checksums
(:mod:`transfer_utils.data.checks`) and brought to one common form,

* images: ``float32`` tensors of shape ``(N, 1, 28, 28)`` with values in ``[0, 1]``, ink bright on a
  dark background (the polarity of all three datasets);
* labels: ``int64`` tensors of shape ``(N,)`` with values ``0..9``.

**Transforms, and why.** MNIST is already 28x28 in ``[0, 255]``: it is divided by 255. USPS is
16x16 with values in ``[-1, 1]``, which torchvision maps to ``[0, 255]``; it is divided by 255 and
upsampled to 28x28 by bilinear interpolation (:func:`usps_to_28`), so that one network reads both
domains. Only the size is matched, not the framing: an MNIST digit sits in a 20x20 box centred in a
28x28 frame with a 4-pixel margin, a USPS digit fills its whole frame, so after resizing USPS digits
look larger and thicker than MNIST ones. That difference is part of the domain shift that notebooks
04-08 measure and reduce, and it is the usual protocol of the MNIST -> USPS benchmark (both resized
to a common size, no re-centring). scikit-learn's 8x8 digits (values ``0..16``, 1,797 images, shipped
with the package) are divided by 16 and upsampled the same way (:func:`load_sklearn_digits`).

**USPS splits.** torchvision knows a train split (``usps.bz2``, 7,291 images) and a test split
(``usps.t.bz2``, 2,007 images). When the train split is present, :func:`digit_domains` adapts on it
and evaluates on the test split. When only the test split is present (as offline here), the test
split is divided once by a fixed rule (:func:`usps_split`): within each class the images are
shuffled with the fixed seed :data:`USPS_SPLIT_SEED` and the first ``floor(n_c / 2)`` go to the
adaptation part, the rest to the evaluation part (1,002 and 1,005 images). The rule does not depend
on the ``seed`` of :func:`digit_domains`, so every experiment evaluates on the same images, and no
image is in both parts. The adaptation part keeps its labels in the tensors, for a
target-supervised upper bound only; an adaptation method must not read them.

Introduced in notebook 04; used in notebooks 05-08 and 10.
"""

from __future__ import annotations

import gzip
import pickle
import shutil
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset
from torchvision.datasets import MNIST, USPS

from transfer_utils.core.atomic import atomic_path
from transfer_utils.data.checks import ensure_files, verify_md5
from transfer_utils.core.paths import KNOWN_DATASETS, cache_dir, data_dir

__all__ = [
    "USPS_SPLIT_SEED",
    "IMAGE_SIZE",
    "DigitDomains",
    "load_mnist",
    "load_usps",
    "usps_has_train_split",
    "mnist_tensors",
    "usps_tensors",
    "usps_to_28",
    "usps_split",
    "stratified_subset",
    "digit_domains",
    "load_sklearn_digits",
]

USPS_SPLIT_SEED = 0
"""The fixed seed of the USPS test-split division into adaptation and evaluation parts."""

IMAGE_SIZE = 28
"""The common side length of every digit image (MNIST's)."""

# torchvision's own file names and MD5s, so the checks agree with its classes by construction.
_MNIST_GZ: dict[str, str] = dict(MNIST.resources)
# Size in bytes of each extracted idx file: the 16/8-byte header plus the pixels or labels.
_MNIST_SIZES = {
    "train-images-idx3-ubyte": 16 + 60_000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60_000,
    "t10k-images-idx3-ubyte": 16 + 10_000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10_000,
}
_USPS_FILES = {split: (name, md5) for split, (_url, name, md5) in USPS.split_list.items()}


class DigitDomains(NamedTuple):
    """Source (MNIST) and target (USPS) data for the MNIST -> USPS task.

    Every field is a ``TensorDataset(X, y)`` with ``X`` float32 ``(N, 1, 28, 28)`` in ``[0, 1]`` and
    ``y`` int64 ``(N,)``.

    Attributes:
        source_train: labelled MNIST training images.
        source_test: MNIST test images (source-domain accuracy).
        target_train: the USPS adaptation part. Its labels are kept only for a
            target-supervised upper bound; adaptation methods use the images alone.
        target_test: the USPS evaluation part (target accuracy), disjoint from ``target_train``.
    """

    source_train: TensorDataset
    source_test: TensorDataset
    target_train: TensorDataset
    target_test: TensorDataset


def _extracted_ok(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == _MNIST_SIZES[path.name]


def load_mnist(train: bool = True) -> MNIST:
    """MNIST's train (60,000) or test (10,000) split as a ``torchvision.datasets.MNIST``.

    The four original ``.gz`` files are expected in ``data_dir()/MNIST/raw`` and are checked against
    torchvision's MD5s. torchvision reads the decompressed files: when they are not beside the
    ``.gz`` files (a read-only data directory), they are decompressed once into
    ``cache_dir()/data/MNIST/raw`` (atomically) and the dataset is rooted there. Online and missing,
    torchvision downloads the files into the data directory.

    Raises:
        DatasetMissingError: files missing offline (the message names them, the directory and how
            to get them), or the download failed.
        ChecksumError: a ``.gz`` file is corrupted.
    """
    root = data_dir()
    raw = root / "MNIST" / "raw"
    if all(_extracted_ok(raw / name) for name in _MNIST_SIZES):
        return MNIST(str(root), train=train)
    ensure_files(
        raw,
        _MNIST_GZ,
        dataset="MNIST",
        how_to_get=KNOWN_DATASETS["MNIST"].how_to_get,
        download=lambda: MNIST(str(root), train=train, download=True),
    )
    if all(_extracted_ok(raw / name) for name in _MNIST_SIZES):  # the download extracted them
        return MNIST(str(root), train=train)
    cached_root = cache_dir() / "data"
    cached_raw = cached_root / "MNIST" / "raw"
    for gz_name in _MNIST_GZ:
        target = cached_raw / gz_name.removesuffix(".gz")
        if not _extracted_ok(target):
            with atomic_path(target) as tmp, gzip.open(raw / gz_name, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            if not _extracted_ok(target):
                target.unlink(missing_ok=True)
                raise RuntimeError(f"Decompressing {raw / gz_name} gave a file of the wrong size.")
    return MNIST(str(cached_root), train=train)


def usps_has_train_split() -> bool:
    """True when the USPS train split (``usps.bz2``) is in ``data_dir()/USPS``."""
    return (data_dir() / "USPS" / _USPS_FILES["train"][0]).is_file()


def load_usps(train: bool = False) -> USPS:
    """USPS's train (7,291; optional) or test (2,007) split as a ``torchvision.datasets.USPS``.

    The file is read from ``data_dir()/USPS`` and checked against torchvision's MD5 (torchvision
    itself checks it only when it downloads). Online and missing, torchvision downloads it there.

    Raises:
        DatasetMissingError: the file is missing offline, or the download failed.
        ChecksumError: the file is corrupted.
    """
    split = "train" if train else "test"
    name, md5 = _USPS_FILES[split]
    root = data_dir() / "USPS"
    info = KNOWN_DATASETS["USPS train" if train else "USPS test"]

    def download() -> None:
        root.mkdir(parents=True, exist_ok=True)
        USPS(str(root), train=train, download=True)

    ensure_files(root, {name: md5}, dataset=f"USPS {split} split", how_to_get=info.how_to_get,
                 download=download)
    return USPS(str(root), train=train)


def _mnist_raw(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_mnist(train)
    return ds.data, ds.targets.to(torch.int64)


def _mnist_float(data: torch.Tensor) -> torch.Tensor:
    return data.unsqueeze(1).to(torch.float32).div_(255.0)


def mnist_tensors(train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """All of an MNIST split as ``(X, y)``: float32 ``(N, 1, 28, 28)`` in ``[0, 1]``, int64 ``(N,)``."""
    data, y = _mnist_raw(train)
    return _mnist_float(data), y


def usps_to_28(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """USPS 16x16 ``uint8`` images to float32 ``(N, 1, 28, 28)`` in ``[0, 1]``.

    .. math:: x' = \\operatorname{bilinear}_{16\\to 28}(x / 255)

    Args:
        images: ``(N, 16, 16)`` uint8 (torchvision's ``USPS.data``) or float in ``[0, 1]``.

    Returns:
        ``(N, 1, 28, 28)`` float32, clamped to ``[0, 1]``.
    """
    x = torch.as_tensor(images)
    if x.ndim != 3 or tuple(x.shape[1:]) != (16, 16):
        raise ValueError(f"usps_to_28 expects images of shape (N, 16, 16), got {tuple(x.shape)}.")
    x = x.to(torch.float32)
    if not torch.is_floating_point(torch.as_tensor(images)):
        x = x / 255.0
    x = F.interpolate(x.unsqueeze(1), size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear",
                      align_corners=False)
    return x.clamp_(0.0, 1.0)


def _usps_raw(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """USPS as uint8 ``(N, 16, 16)`` and int64 labels, parsed once and cached.

    torchvision parses the bzip2-compressed text file on every construction (seconds); the parsed
    arrays are cached in ``cache_dir()/data/USPS`` under a name holding the source file's MD5, so a
    changed source file is parsed again.
    """
    split = "train" if train else "test"
    name, md5 = _USPS_FILES[split]
    source = data_dir() / "USPS" / name
    if source.is_file():
        cached = cache_dir() / "data" / "USPS" / f"{split}-{md5}.pt"
        if cached.is_file():
            try:
                state = torch.load(cached, map_location="cpu", weights_only=True)
                verify_md5(source, md5, how_to_get=KNOWN_DATASETS[f"USPS {split}"].how_to_get)
                return state["data"], state["targets"]
            except (RuntimeError, EOFError, KeyError, ValueError, pickle.UnpicklingError):
                cached.unlink(missing_ok=True)  # corrupted cache: parse the source again
    ds = load_usps(train)
    data = torch.as_tensor(ds.data, dtype=torch.uint8)
    targets = torch.as_tensor(ds.targets, dtype=torch.int64)
    cached = cache_dir() / "data" / "USPS" / f"{split}-{md5}.pt"
    with atomic_path(cached) as tmp:
        torch.save({"data": data, "targets": targets}, tmp)
    return data, targets


def usps_tensors(train: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """All of a USPS split as ``(X, y)`` in the common form (see :func:`usps_to_28`)."""
    data, y = _usps_raw(train)
    return usps_to_28(data), y


def _check_labels(y: object, name: str) -> None:
    """Refuse labels that are not a non-empty 1-D tensor, naming the argument."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a 1-D torch tensor of labels, got {type(y).__name__}; "
                        f"convert it with torch.as_tensor({name}).")
    if y.ndim != 1:
        raise ValueError(f"labels {name} must be 1-D, got shape {tuple(y.shape)}.")
    if y.numel() == 0:
        raise ValueError(f"labels {name} is empty: there is nothing to draw from.")


def stratified_subset(y: torch.Tensor, n: int | None, generator: torch.Generator) -> torch.Tensor:
    """Indices of a random subset of ``n`` labels with class proportions kept (as far as integers allow).

    Each class is shuffled; the items are then ordered by their within-class rank divided by the
    class size, so any prefix of the order has (up to rounding) the class proportions of ``y``.

    Args:
        y: int64 labels ``(N,)``.
        n: subset size; None or ``n >= N`` keeps all ``N`` (in shuffled order).
        generator: the draw (deterministic given its seed).

    Returns:
        int64 indices ``(min(n, N),)``.
    """
    _check_labels(y, "y")
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"subset size must be a positive int or None, got {n!r}.")
    perm = torch.randperm(len(y), generator=generator)
    yp = y[perm]
    frac = torch.empty(len(y), dtype=torch.float64)
    for c in torch.unique(yp):
        pos = (yp == c).nonzero().squeeze(1)
        frac[pos] = (torch.arange(len(pos), dtype=torch.float64) + 0.5) / len(pos)
    order = perm[torch.argsort(frac, stable=True)]
    return order if n is None else order[:n]


def usps_split(y: torch.Tensor, seed: int = USPS_SPLIT_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed stratified division of the USPS test split: (adaptation indices, evaluation indices).

    Within each class ``c`` (``n_c`` images) the indices are shuffled with ``seed`` and the first
    ``floor(n_c / 2)`` form the adaptation part; the others form the evaluation part. Both are
    returned sorted.
    """
    _check_labels(y, "y")
    g = torch.Generator().manual_seed(seed)
    adapt, evaluate = [], []
    for c in torch.unique(y):
        idx = (y == c).nonzero().squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=g)]
        half = len(idx) // 2
        adapt.append(idx[:half])
        evaluate.append(idx[half:])
    return torch.sort(torch.cat(adapt)).values, torch.sort(torch.cat(evaluate)).values


def _subset_index(y: torch.Tensor, n: int | None, seed: int) -> torch.Tensor:
    return torch.sort(stratified_subset(y, n, torch.Generator().manual_seed(seed))).values


def digit_domains(n_source: int | None = None, n_target: int | None = None, seed: int = 0) -> DigitDomains:
    """MNIST (source) and USPS (target) in the common form, as four :class:`TensorDataset` s.

    Args:
        n_source: size of ``source_train`` and of ``source_test`` (each capped at its split's size:
            60,000 and 10,000); None uses all.
        n_target: size of ``target_train`` and of ``target_test`` (each capped at its part's size);
            None uses all.
        seed: which stratified subsets are drawn (the USPS adaptation/evaluation division is fixed
            and does not depend on it; see the module docstring).

    Returns:
        :class:`DigitDomains`. Deterministic given the arguments and the files present.
    """
    for name, n in (("n_source", n_source), ("n_target", n_target)):
        if n is not None and (not isinstance(n, int) or n < 1):
            raise ValueError(f"{name} must be a positive int or None, got {n!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    parts = []
    for k, train in enumerate((True, False)):
        data, y = _mnist_raw(train)
        idx = _subset_index(y, n_source, 4 * seed + k)
        parts.append(TensorDataset(_mnist_float(data[idx]), y[idx]))
    if usps_has_train_split():
        (Da, ya), (De, ye) = _usps_raw(train=True), _usps_raw(train=False)
    else:
        Du, yu = _usps_raw(train=False)
        ia, ie = usps_split(yu)
        Da, ya, De, ye = Du[ia], yu[ia], Du[ie], yu[ie]
    for k, (D, y) in enumerate(((Da, ya), (De, ye))):
        idx = _subset_index(y, n_target, 4 * seed + 2 + k)
        parts.append(TensorDataset(usps_to_28(D[idx]), y[idx]))
    return DigitDomains(*parts)


def load_sklearn_digits() -> TensorDataset:
    """scikit-learn's 1,797 8x8 digits (no download) in the common form.

    .. math:: x' = \\operatorname{bilinear}_{8\\to 28}(x / 16)

    Returns:
        ``TensorDataset(X, y)``: float32 ``(1797, 1, 28, 28)`` in ``[0, 1]``, int64 ``(1797,)``.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.as_tensor(bunch.images, dtype=torch.float32).div_(16.0).unsqueeze(1)
    x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
    return TensorDataset(x.clamp_(0.0, 1.0), torch.as_tensor(bunch.target, dtype=torch.int64))
