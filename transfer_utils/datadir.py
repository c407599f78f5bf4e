"""Where the course reads datasets and writes caches, and whether it may use the network.

* ``$TL_DATA_DIR``: the data directory, where datasets live in the layout torchvision expects
  (``MNIST/raw/...``, ``USPS/usps.t.bz2``, ...). It may be read-only (a shared copy); default:
  ``data/`` in the project checkout, or ``~/.cache/transfer-course/data`` for an installed package.
* ``$TL_CACHE_DIR``: where derived files are written (extracted archives, models the course trains
  and caches). Default: ``.cache/`` in the project checkout, else ``~/.cache/transfer-course/cache``;
  the data directory itself is written to only by a download.
* ``$TL_OFFLINE=1``: never download; a missing file is reported with what to do instead.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DATA_ENV",
    "CACHE_ENV",
    "OFFLINE_ENV",
    "KNOWN_DATASETS",
    "DatasetInfo",
    "data_dir",
    "cache_dir",
    "is_offline",
    "dataset_status",
    "project_root",
]

DATA_ENV = "TL_DATA_DIR"
CACHE_ENV = "TL_CACHE_DIR"
OFFLINE_ENV = "TL_OFFLINE"


def project_root() -> Path | None:
    """The checkout that holds this package (a folder with ``pyproject.toml``), or None."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "transfer-course"


def _writable(path: Path) -> bool:
    """True when a file can really be created in ``path`` (permission bits lie for root)."""
    if not path.is_dir():
        return False
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".tl-write-test-"):
            return True
    except OSError:
        return False


def data_dir() -> Path:
    """The data directory (see the module docstring). It exists when this returns.

    Raises:
        FileNotFoundError: ``$TL_DATA_DIR`` names a directory that does not exist.
        NotADirectoryError: ``$TL_DATA_DIR`` names a file.
    """
    env = os.environ.get(DATA_ENV, "").strip()
    if env:
        path = Path(env).expanduser().resolve()
        if not path.exists():
            raise FileNotFoundError(
                f"${DATA_ENV}={env!r} does not exist. Create it (`mkdir -p {path}`), point "
                f"${DATA_ENV} at the folder that holds the datasets, or unset it to use the default."
            )
        if not path.is_dir():
            raise NotADirectoryError(f"${DATA_ENV}={env!r} is a file, not a directory.")
        return path
    root = project_root()
    path = root / "data" if root is not None else _user_cache() / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """A writable directory for derived files (extracted archives, cached models).

    Raises:
        FileNotFoundError, NotADirectoryError, PermissionError: ``$TL_CACHE_DIR`` is unusable.
    """
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        path = Path(env).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"${CACHE_ENV}={env!r} is a file, not a directory.")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise PermissionError(
                f"Cannot create the cache directory ${CACHE_ENV}={env!r} ({err.strerror}). "
                f"Point ${CACHE_ENV} at a folder you can write to."
            ) from err
        if not _writable(path):
            raise PermissionError(
                f"The cache directory ${CACHE_ENV}={env!r} is not writable. "
                f"Point ${CACHE_ENV} at a folder you can write to, or unset it."
            )
        return path
    root = project_root()
    candidates = ([root / ".cache"] if root is not None else []) + [_user_cache() / "cache"]
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if _writable(path):
            return path
    raise PermissionError(
        f"No writable cache directory among {[str(p) for p in candidates]}. "
        f"Set ${CACHE_ENV} to a folder you can write to."
    )


def is_offline() -> bool:
    """True when ``$TL_OFFLINE`` is set to 1/true/yes: loaders must not download."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset is expected inside the data directory and how to get it."""

    name: str
    description: str
    any_of: tuple[tuple[str, ...], ...]  # present when every path of one group exists
    how_to_get: str


KNOWN_DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "MNIST",
            "handwritten digits, 60k train + 10k test (torchvision.datasets.MNIST)",
            (tuple(f"MNIST/raw/{f}" for f in (
                "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")),),
            "online: the loader downloads it; offline: copy the four idx .gz files to MNIST/raw/",
        ),
        DatasetInfo(
            "USPS test",
            "2,007 16x16 digits (torchvision.datasets.USPS, train=False)",
            (("USPS/usps.t.bz2",),),
            "online: the loader downloads it; offline: copy usps.t.bz2 to USPS/",
        ),
        DatasetInfo(
            "USPS train",
            "7,291 16x16 digits (torchvision.datasets.USPS, train=True); optional",
            (("USPS/usps.bz2",),),
            "online: the loader downloads it; offline: copy usps.bz2 to USPS/ (optional)",
        ),
        DatasetInfo(
            "CIFAR-10",
            "32x32 natural images, 50k train + 10k test",
            (("cifar-10-batches-py/data_batch_1", "cifar-10-batches-py/test_batch"),
             ("cifar10_jpg/cifar10_jpg_train.tar.gz", "cifar10_jpg/cifar10_jpg_test.tar.gz"),
             ("cifar10_jpg/train", "cifar10_jpg/test")),
            "online: the loader downloads it; offline: the python pickles in cifar-10-batches-py/ "
            "or the JPEG archives in cifar10_jpg/",
        ),
        DatasetInfo(
            "Review sentences",
            "labelled sentences from Amazon, IMDB and Yelp (UCI, Kotzias et al. 2015)",
            (("text/sentiment_labelled_sentences",),),
            "copy the UCI 'sentiment labelled sentences' folder to text/",
        ),
    )
}


def dataset_status(root: Path | None = None) -> dict[str, bool]:
    """Which known datasets are present in the data directory (name -> present)."""
    root = data_dir() if root is None else Path(root)
    return {
        name: any(all((root / p).exists() for p in group) for group in info.any_of)
        for name, info in KNOWN_DATASETS.items()
    }
