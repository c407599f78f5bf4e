"""The CIFAR-10 JPEG archives, extracted once, atomically, into the cache: introduced in notebook 05.

The archives ``cifar10_jpg/cifar10_jpg_{train,test}.tar.gz`` in the data directory hold an
ImageFolder tree ``cifar10_jpg/{train,test}/<class>/*.jpg``. :func:`extract_cifar10_jpg` extracts
it into :func:`~transfer_utils.core.paths.cache_dir` (the data directory may be read-only): into a
temporary folder beside the target, then one rename, with a marker file that records the format
version and, for each archive, its MD5, size and modification time. The cached tree is used only
while it matches the archives actually present (:func:`extraction_current`): the size and
modification time are compared first (cheap), and the MD5 when they differ; an archive that
changed is extracted again. Folders left by a killed extraction are removed on the next one
(:func:`transfer_utils.core.atomic.clean_cache_once`). :mod:`transfer_utils.data.cifar` decides
which form of CIFAR-10 to read and loads it.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from transfer_utils.core.atomic import atomic_path, clean_cache_once, temp_prefix
from transfer_utils.core.paths import as_path, cache_dir, data_dir
from transfer_utils.data.checksums import cached_md5

__all__ = [
    "ARCHIVE_DIR",
    "CIFAR10_CLASSES",
    "EXTRACT_VERSION",
    "HOW_TO_GET",
    "SPLITS",
    "CifarSourceError",
    "archive_paths",
    "extract_cifar10_jpg",
    "extraction_current",
    "read_marker",
    "tree_complete",
]

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
#: Bump when the extracted layout changes; an old extraction is then redone.
EXTRACT_VERSION = 1
ARCHIVE_DIR = "cifar10_jpg"
MARKER = ".tl-extracted.json"
SPLITS = ("train", "test")
HOW_TO_GET = (
    "Get CIFAR-10 in one of these forms: (a) online, unset TL_OFFLINE and the loader downloads the "
    "python version into {data}/cifar-10-batches-py; (b) copy the python pickles "
    "(https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz, extracted) to "
    "{data}/cifar-10-batches-py/; (c) copy cifar10_jpg_train.tar.gz and cifar10_jpg_test.tar.gz "
    "to {data}/cifar10_jpg/."
)


class CifarSourceError(FileNotFoundError):
    """CIFAR-10 cannot be found (or an archive is unusable); the message says what to do."""


def tree_complete(root: Path) -> bool:
    """An ImageFolder tree with both splits and all ten class folders."""
    return all((root / s / c).is_dir() for s in SPLITS for c in CIFAR10_CLASSES)


def read_marker(folder: Path) -> dict | None:
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _archive_stamp(archive: Path) -> dict[str, int]:
    stat = archive.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def archive_paths(archive_dir: Path) -> dict[str, Path]:
    return {s: archive_dir / f"cifar10_jpg_{s}.tar.gz" for s in SPLITS}


def extraction_current(target: Path, archives: dict[str, Path]) -> bool:
    """Whether ``target`` is a complete extraction of exactly these ``archives``.

    The marker must have the current :data:`EXTRACT_VERSION`; each archive must have the size and
    modification time recorded in it or, when those differ (a copy, a touch, an older marker
    without them), the recorded MD5 (hashed through the checksum cache, so at most once per
    change of the file).
    """
    marker = read_marker(target)
    if marker is None or marker.get("version") != EXTRACT_VERSION or not tree_complete(target):
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
                   else data_dir() / ARCHIVE_DIR)
    target = as_path(target, "target") if target is not None else cache_dir() / ARCHIVE_DIR
    archives = archive_paths(archive_dir)
    missing = [str(p) for p in archives.values() if not p.is_file()]
    if missing:
        raise CifarSourceError(
            f"CIFAR-10 JPEG archive(s) not found: {', '.join(missing)} (looked in {archive_dir}). "
            + HOW_TO_GET.format(data=data_dir())
        )
    if extraction_current(target, archives):
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
                    f"Replace it with a good copy. " + HOW_TO_GET.format(data=data_dir())
                ) from err
        tree = tmp / "cifar10_jpg"
        if not tree_complete(tree):
            raise CifarSourceError(
                f"The archives in {archive_dir} do not hold the layout "
                f"cifar10_jpg/{{train,test}}/<class>/*.jpg with the ten CIFAR-10 classes."
            )
        with atomic_path(tree / MARKER) as marker_tmp:
            marker_tmp.write_text(json.dumps(
                {"version": EXTRACT_VERSION, "md5": checksums, "archives": stamps}))
        if target.exists():  # stale or incomplete: move it aside, then swap in the new tree
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tree, target)
        except OSError:  # another process finished first: use its tree if it is current
            if not extraction_current(target, archives):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
