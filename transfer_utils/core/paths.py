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
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    "configured_cache_dirs",
    "as_path",
    "existing_dir",
    "existing_file",
]

DATA_ENV = "TL_DATA_DIR"
CACHE_ENV = "TL_CACHE_DIR"
OFFLINE_ENV = "TL_OFFLINE"


def as_path(value: object, argument: str = "path") -> Path:
    """``value`` as a :class:`~pathlib.Path`, or a clear error naming ``argument``.

    Every helper that takes a file or folder argument converts it here, so that a wrong type (a
    number, None, an open file) or an empty string is refused with the argument's name, not with
    pathlib's "expected str, bytes or os.PathLike object".

    Raises:
        TypeError: ``value`` is not a ``str`` or ``os.PathLike``.
        ValueError: ``value`` is an empty string.
    """
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{argument} must be a file path (str or pathlib.Path), got "
                        f"{type(value).__name__} {value!r:.80}.")
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{argument} is an empty string; give the path of a file or folder.")
    return Path(value)


def existing_dir(value: object, argument: str = "directory") -> Path:
    """``value`` as the :class:`~pathlib.Path` of an existing folder, or a clear error naming it.

    Raises:
        TypeError, ValueError: as :func:`as_path`. FileNotFoundError: nothing is there.
        NotADirectoryError: the path is a file.
    """
    path = as_path(value, argument)
    if not path.exists():
        raise FileNotFoundError(f"{argument}={str(path)!r} does not exist; give an existing folder.")
    if not path.is_dir():
        raise NotADirectoryError(f"{argument}={str(path)!r} is a file, not a folder.")
    return path


def existing_file(value: object, argument: str = "path") -> Path:
    """``value`` as the :class:`~pathlib.Path` of an existing file, or a clear error naming it.

    Raises:
        TypeError, ValueError: as :func:`as_path`. FileNotFoundError: nothing is there.
        IsADirectoryError: the path is a folder.
    """
    path = as_path(value, argument)
    if path.is_dir():
        raise IsADirectoryError(f"{argument}={str(path)!r} is a folder; give the path of a file.")
    if not path.is_file():
        raise FileNotFoundError(f"{argument}={str(path)!r} does not exist; check the path.")
    return path


def project_root() -> Path | None:
    """The checkout that holds this package (a folder with ``pyproject.toml``), or None."""
    root = Path(__file__).resolve().parents[2]  # transfer_utils/core/paths.py -> checkout
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


def configured_cache_dirs() -> list[Path]:
    """The folders :func:`cache_dir` may return, without creating or probing any of them.

    ``[$TL_CACHE_DIR]`` when it is set, else the project's ``.cache/`` (in a checkout) and the user
    cache. Used to tell whether a path lies inside the course's cache, with no side effect.
    """
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return [Path(env).expanduser().resolve()]
    root = project_root()
    return ([root / ".cache"] if root is not None else []) + [_user_cache() / "cache"]


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
    """Where a dataset is expected inside the data directory, its checksums and how to get it.

    Attributes:
        name: the name the report shows.
        description: one line on what it is.
        any_of: alternative layouts, in the order the loader prefers them; the dataset is present
            when every path of one group exists.
        how_to_get: what a user does to obtain it.
        md5: relative path -> expected MD5 for every file the course can verify (the MD5s that
            torchvision's classes check, and those of the course's offline copies).
        required: whether a notebook needs it (a missing optional dataset is not an error).
    """

    name: str
    description: str
    any_of: tuple[tuple[str, ...], ...]
    how_to_get: str
    md5: Mapping[str, str] = field(default_factory=dict)
    required: bool = True


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
            {  # torchvision.datasets.MNIST.resources
                "MNIST/raw/train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "MNIST/raw/train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
                "MNIST/raw/t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                "MNIST/raw/t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
            },
        ),
        DatasetInfo(
            "USPS test",
            "2,007 16x16 digits (torchvision.datasets.USPS, train=False)",
            (("USPS/usps.t.bz2",),),
            "online: the loader downloads it; offline: copy usps.t.bz2 to USPS/",
            {"USPS/usps.t.bz2": "8ea070ee2aca1ac39742fdd1ef5ed118"},  # torchvision.datasets.USPS
        ),
        DatasetInfo(
            "USPS train",
            "7,291 16x16 digits (torchvision.datasets.USPS, train=True); optional",
            (("USPS/usps.bz2",),),
            "online: the loader downloads it; offline: copy usps.bz2 to USPS/ (optional)",
            {"USPS/usps.bz2": "ec16c51db3855ca6c91edd34d0e9b197"},
            required=False,
        ),
        DatasetInfo(
            "CIFAR-10",
            "32x32 natural images, 50k train + 10k test",
            (tuple(f"cifar-10-batches-py/{f}" for f in (
                "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                "test_batch", "batches.meta")),
             ("cifar10_jpg/cifar10_jpg_train.tar.gz", "cifar10_jpg/cifar10_jpg_test.tar.gz"),
             ("cifar10_jpg/train", "cifar10_jpg/test")),
            "online: the loader downloads it; offline: the python pickles in cifar-10-batches-py/ "
            "or the JPEG archives in cifar10_jpg/",
            {  # torchvision.datasets.CIFAR10's lists, then the course's JPEG archives (MD5SUMS)
                "cifar-10-batches-py/data_batch_1": "c99cafc152244af753f735de768cd75f",
                "cifar-10-batches-py/data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
                "cifar-10-batches-py/data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
                "cifar-10-batches-py/data_batch_4": "634d18415352ddfa80567beed471001a",
                "cifar-10-batches-py/data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
                "cifar-10-batches-py/test_batch": "40351d587109b95175f43aff81a1287e",
                "cifar-10-batches-py/batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
                "cifar10_jpg/cifar10_jpg_train.tar.gz": "9eb260b0b7889597050292cc55491798",
                "cifar10_jpg/cifar10_jpg_test.tar.gz": "aabf907ddd2bf6f934a22159e3bb85c0",
            },
        ),
        DatasetInfo(
            "Review sentences",
            "labelled sentences from Amazon, IMDB and Yelp (UCI, Kotzias et al. 2015)",
            (("text/sentiment_labelled_sentences",),),
            "copy the UCI 'sentiment labelled sentences' folder to text/",
            {f"text/sentiment_labelled_sentences/{name}": md5 for name, md5 in (
                ("amazon_cells_labelled.txt", "f737b1e64487b2d2518fcefdb0257e63"),
                ("imdb_labelled.txt", "ccea809cf06938e64b783737778f5ca0"),
                ("yelp_labelled.txt", "3a7fe2c38dc373d2ca8e687d6226a82e"),
            )},
            required=False,
        ),
    )
}


def dataset_status(root: Path | None = None) -> dict[str, bool]:
    """Which known datasets are present in the data directory (name -> present).

    Raises:
        FileNotFoundError, NotADirectoryError: ``root`` is given but is not an existing folder.
    """
    root = data_dir() if root is None else existing_dir(root, "root")
    return {
        name: any(all((root / p).exists() for p in group) for group in info.any_of)
        for name, info in KNOWN_DATASETS.items()
    }
