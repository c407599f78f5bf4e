"""The MNIST and USPS files: read through torchvision from the data directory, checked, transformed.

MNIST's four ``.gz`` files and USPS's ``usps.t.bz2`` (and, optionally, ``usps.bz2``) are read from
:func:`~transfer_utils.core.paths.data_dir`, checked against torchvision's own MD5s and turned into
the common form of :mod:`transfer_utils.data.digits`: float32 ``(N, 1, 28, 28)`` in ``[0, 1]``.

**Transforms, and why.** MNIST is already 28x28 in ``[0, 255]``: it is divided by 255. USPS is
16x16 with values in ``[-1, 1]``, which torchvision maps to ``[0, 255]``; it is divided by 255 and
upsampled to 28x28 by bilinear interpolation (:func:`usps_to_28`), so that one network reads both
domains. Only the size is matched, not the framing: an MNIST digit sits in a 20x20 box centred in a
28x28 frame with a 4-pixel margin, a USPS digit fills its whole frame, so after resizing USPS digits
look larger and thicker than MNIST ones. That difference is part of the domain shift that notebooks
04-08 measure and reduce, and it is the usual protocol of the MNIST -> USPS benchmark (both resized
to a common size, no re-centring). scikit-learn's 8x8 digits (values ``0..16``, 1,797 images, shipped
with the package) are divided by 16 and upsampled the same way (:func:`load_sklearn_digits`).

Introduced in notebook 04.
"""

from __future__ import annotations

import gzip
import pickle
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.datasets import MNIST, USPS

from transfer_utils.core.atomic import atomic_path
from transfer_utils.core.paths import KNOWN_DATASETS, cache_dir, data_dir
from transfer_utils.data.files import ensure_files
from transfer_utils.data.checksums import verify_md5

__all__ = [
    "IMAGE_SIZE",
    "load_mnist",
    "load_usps",
    "usps_has_train_split",
    "mnist_raw",
    "mnist_to_float",
    "mnist_tensors",
    "usps_raw",
    "usps_to_28",
    "usps_tensors",
]


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


def mnist_raw(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_mnist(train)
    return ds.data, ds.targets.to(torch.int64)


def mnist_to_float(data: torch.Tensor) -> torch.Tensor:
    return data.unsqueeze(1).to(torch.float32).div_(255.0)


def mnist_tensors(train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """All of an MNIST split as ``(X, y)``: float32 ``(N, 1, 28, 28)`` in ``[0, 1]``, int64 ``(N,)``."""
    data, y = mnist_raw(train)
    return mnist_to_float(data), y


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


def usps_raw(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
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
    data, y = usps_raw(train)
    return usps_to_28(data), y
