"""File checks shared by the dataset loaders: checksums and a clear error for missing files.

A loader calls :func:`ensure_files` with the files a dataset needs, their MD5 checksums and a line
that says how to get them. Present files are verified (a corrupted or truncated file fails with
:class:`ChecksumError`, naming the file and what to do); missing files are downloaded only when the
course is online (``$TL_OFFLINE`` unset) and a ``download`` callable is given, otherwise
:class:`DatasetMissingError` names each missing file, the directory it is expected in and how to
get it, instead of a raw download traceback. Introduced with the digits in notebook 04; the
CIFAR-10 loader uses it too.

Before any of that, :func:`require_data` (the first call of every notebook that reads a dataset)
checks in one go that the datasets a notebook needs are present and intact, and raises one
:class:`DataCheckError` that lists every missing or corrupted file with its fix, instead of failing
minutes later in the middle of the notebook. It and the environment report
(``python -m transfer_utils``) share :func:`check_datasets`, whose checksums are remembered in
``cache_dir()/verified-md5.json`` keyed by each file's path, size and modification time
(:func:`cached_md5`), so that only a new or changed file is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from transfer_utils.core.atomic import atomic_path
from transfer_utils.core.paths import (DATA_ENV, KNOWN_DATASETS, OFFLINE_ENV, as_path, cache_dir, data_dir,
                                       existing_dir, existing_file, is_offline)

__all__ = [
    "DatasetMissingError",
    "ChecksumError",
    "DataCheckError",
    "DatasetCheck",
    "VERIFY_CACHE_NAME",
    "DATASET_ALIASES",
    "file_md5",
    "cached_md5",
    "verify_md5",
    "missing_dataset_error",
    "ensure_files",
    "check_dataset",
    "check_datasets",
    "require_data",
]

VERIFY_CACHE_NAME = "verified-md5.json"
"""The file in the cache directory that remembers checksums: path -> size, mtime and MD5."""
_VERIFY_FORMAT = 1

DATASET_ALIASES: dict[str, str] = {
    "mnist": "MNIST",
    "usps": "USPS test",
    "usps_train": "USPS train",
    "cifar10": "CIFAR-10",
    "reviews": "Review sentences",
}
"""Short names accepted by :func:`require_data` -> keys of :data:`~transfer_utils.core.paths.KNOWN_DATASETS`."""


# (resolved path, size, mtime) -> MD5 of files already verified in this process: a notebook that
# loads a dataset once per seed hashes it once. A rewritten file has a new mtime and is hashed again.
_VERIFIED: dict[tuple[str, int, int], str] = {}


class DatasetMissingError(FileNotFoundError):
    """A dataset file is not in the data directory and cannot be downloaded (offline, or it failed)."""


class ChecksumError(RuntimeError):
    """A dataset file exists but its checksum is wrong: corrupted, truncated or another file."""


class DataCheckError(RuntimeError):
    """Datasets a notebook needs are missing or corrupted; the message lists each with its fix.

    Attributes:
        problems: the :class:`DatasetCheck` of every dataset that failed.
    """

    def __init__(self, message: str, problems: list[DatasetCheck]) -> None:
        super().__init__(message)
        self.problems = problems


def file_md5(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """The hexadecimal MD5 digest of the file at ``path`` (read in chunks).

    Raises:
        FileNotFoundError, IsADirectoryError: ``path`` is not an existing file.
    """
    path = existing_file(path, "path")
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_md5(path: str | os.PathLike[str], md5: str, *, how_to_get: str = "") -> Path:
    """Check that the file at ``path`` has the MD5 checksum ``md5``.

    Args:
        path: an existing file.
        md5: the expected hexadecimal digest (case-insensitive).
        how_to_get: appended to the error message (where a good copy comes from).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        FileNotFoundError: no file at ``path``. IsADirectoryError: ``path`` is a folder.
        TypeError: ``md5`` is not a string.
        ChecksumError: the checksum differs.
    """
    if not isinstance(md5, str):
        raise TypeError(f"md5 must be the expected hexadecimal digest as a str, got {type(md5).__name__}.")
    path = as_path(path, "path")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; verify_md5 needs the path of a file.")
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; cannot verify its checksum.")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    actual = _VERIFIED.get(key) or file_md5(path)
    if actual.lower() != md5.lower():
        size = path.stat().st_size
        raise ChecksumError(
            f"{path.name} in {path.parent} fails its checksum (MD5 {actual}, expected {md5}; "
            f"{size:,} bytes): the file is corrupted, truncated or a different file. Delete it and "
            f"put a good copy there" + (f" ({how_to_get})." if how_to_get else ".")
        )
    _VERIFIED[key] = actual
    return path


def missing_dataset_error(
    dataset: str, directory: str | os.PathLike[str], missing: list[str], how_to_get: str
) -> DatasetMissingError:
    """Build the error a loader raises when files of ``dataset`` are absent and cannot be downloaded."""
    directory = Path(directory)
    files = ", ".join(missing)
    reason = (
        f"${OFFLINE_ENV} is set, so nothing is downloaded"
        if is_offline()
        else "the download did not succeed"
    )
    return DatasetMissingError(
        f"{dataset}: missing {files} in directory {directory} ({reason}). How to get it: "
        f"{how_to_get}. If the files are elsewhere, point ${DATA_ENV} at the data directory that "
        f"holds them; `python -m transfer_utils` lists which datasets are present."
    )


def ensure_files(
    directory: str | os.PathLike[str],
    files: Mapping[str, str | None],
    *,
    dataset: str,
    how_to_get: str,
    download: Callable[[], object] | None = None,
) -> dict[str, Path]:
    """Make sure every file of a dataset is present in ``directory`` and has the right checksum.

    Args:
        directory: where the files are expected.
        files: file name -> expected MD5 (None skips the checksum for that file).
        dataset: a human-readable name for messages ("MNIST", "USPS test split").
        how_to_get: what a user should do to obtain the files.
        download: called once when files are missing and the course is online; it must put the
            files into ``directory``. Offline (``$TL_OFFLINE=1``) it is never called.

    Returns:
        File name -> path, for every file in ``files``.

    Raises:
        DatasetMissingError: files are missing and offline, no ``download`` is given, or the
            download failed (the original error is chained, not printed as a raw traceback first).
        ChecksumError: a present file fails its checksum.
    """
    directory = as_path(directory, "directory")
    if not files:
        raise ValueError("ensure_files needs at least one file name.")
    paths = {name: directory / name for name in files}
    missing = [name for name, p in paths.items() if not p.is_file()]
    if missing:
        if download is None or is_offline():
            raise missing_dataset_error(dataset, directory, missing, how_to_get)
        try:
            download()
        except Exception as err:  # a network error of any kind becomes one clear message
            raise missing_dataset_error(dataset, directory, missing, how_to_get) from err
        still = [name for name in missing if not paths[name].is_file()]
        if still:
            raise missing_dataset_error(dataset, directory, still, how_to_get)
    for name, md5 in files.items():
        if md5 is not None:
            verify_md5(paths[name], md5, how_to_get=how_to_get)
    return paths


# ---- the checksum cache and the dataset check (the report and require_data) ---------------------


class _Md5Store:
    """Checksums remembered in ``cache_dir()/verified-md5.json`` across processes.

    An entry is used only while the file has the same resolved path, size, modification time and
    inode change time as when it was hashed; any rewrite, truncation or copy changes one of them,
    so the file is hashed again. Without a usable cache directory nothing is remembered on disk.
    """

    def __init__(self) -> None:
        try:
            self.file: Path | None = cache_dir() / VERIFY_CACHE_NAME
        except OSError:
            self.file = None
        self.entries = self._read()
        self.dirty = False

    def _read(self) -> dict[str, dict]:
        if self.file is None:
            return {}
        try:
            state = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {}  # absent or damaged: start afresh (it is only a cache)
        if not isinstance(state, dict) or state.get("format") != _VERIFY_FORMAT:
            return {}
        files = state.get("files")
        return files if isinstance(files, dict) else {}

    def md5(self, path: Path) -> str:
        """The MD5 of ``path``, from memory, from the store, or hashed now."""
        path = path.resolve()
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        entry = self.entries.get(str(path))
        if (isinstance(entry, dict) and entry.get("size") == stat.st_size
                and entry.get("mtime_ns") == stat.st_mtime_ns
                and entry.get("ctime_ns") == stat.st_ctime_ns and isinstance(entry.get("md5"), str)):
            return entry["md5"]
        actual = _VERIFIED.get(key) or file_md5(path)
        _VERIFIED[key] = actual
        self.entries[str(path)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                                   "ctime_ns": stat.st_ctime_ns, "md5": actual}
        self.dirty = True
        return actual

    def save(self) -> None:
        """Write the store atomically when it changed (merged with what another process wrote)."""
        if not self.dirty or self.file is None:
            return
        merged = {**self._read(), **self.entries}
        merged = {p: e for p, e in merged.items() if os.path.exists(p)}  # forget deleted files
        try:
            with atomic_path(self.file) as tmp:
                tmp.write_text(json.dumps({"format": _VERIFY_FORMAT, "files": merged}, indent=0))
        except OSError:
            return  # an unwritable cache only costs a re-hash next time
        self.dirty = False


def cached_md5(path: str | os.PathLike[str]) -> str:
    """The MD5 of the file at ``path``, hashed only when the cache has no current entry for it.

    The result is remembered in ``cache_dir()/verified-md5.json`` (written atomically), keyed by
    the resolved path, size, modification time and inode change time.

    Raises:
        FileNotFoundError: no file at ``path``. IsADirectoryError: ``path`` is a folder.
    """
    path = existing_file(path, "path")
    store = _Md5Store()
    try:
        return store.md5(path)
    finally:
        store.save()


@dataclass
class DatasetCheck:
    """The state of one dataset in the data directory.

    Attributes:
        name: the key in :data:`~transfer_utils.core.paths.KNOWN_DATASETS`.
        required: whether a notebook needs it.
        root: the data directory checked.
        verified: files whose checksum matched.
        unverified: present files or folders with no known checksum.
        missing: expected paths that are absent.
        corrupted: ``(path, actual MD5, expected MD5, size in bytes)`` of every file that failed.
        how_to_get: how to obtain the dataset.
    """

    name: str
    required: bool
    root: Path
    verified: list[Path]
    unverified: list[Path]
    missing: list[Path]
    corrupted: list[tuple[Path, str, str, int]]
    how_to_get: str

    @property
    def status(self) -> str:
        """``"present"``, ``"corrupted"``, ``"missing"`` or ``"absent (optional)"``."""
        if self.corrupted:
            return "corrupted"
        if self.missing:
            return "missing" if self.required or self.verified or self.unverified else "absent (optional)"
        return "present"

    @property
    def ok(self) -> bool:
        """True when the course can use it (an optional dataset may be absent, never corrupted)."""
        return self.status in ("present", "absent (optional)")

    def describe(self) -> str:
        """One line: the status, every missing or corrupted file, and the fix for each."""
        status = self.status
        if status == "present":
            n = len(self.verified)
            note = f"checksums verified ({n} file{'s' if n != 1 else ''})" if n else "no checksum known"
            return f"present, {note}"
        if status == "absent (optional)":
            return f"absent (optional) -> {self.how_to_get}"
        parts = []
        for path, actual, expected, size in self.corrupted:
            parts.append(
                f"corrupted: {path.name} in {path.parent} (MD5 {actual}, expected {expected}; "
                f"{size:,} bytes, truncated or a different file) -> delete it "
                f"(`rm {shlex.quote(str(path))}`) and put a good copy there ({self.how_to_get})"
            )
        if self.missing:
            names = ", ".join(str(p.relative_to(self.root)) for p in self.missing)
            parts.append(f"missing: {names} in {self.root} -> {self.how_to_get}")
        return "; ".join(parts)


def _under(relative: str, group: tuple[str, ...]) -> bool:
    return any(relative == g or relative.startswith(g.rstrip("/") + "/") for g in group)


def _check_one(name: str, root: Path, store: _Md5Store) -> DatasetCheck:
    info = KNOWN_DATASETS[name]
    counts = [sum((root / p).exists() for p in group) for group in info.any_of]
    complete = [i for i, group in enumerate(info.any_of) if counts[i] == len(group)]
    # the layout the loader will use: the first complete one, else the most nearly complete
    best = complete[0] if complete else max(range(len(info.any_of)), key=lambda i: (counts[i], -i))
    group = info.any_of[best]
    check = DatasetCheck(name, info.required, root, [], [], [], [], info.how_to_get)
    if not complete and counts[best] == 0 and len(info.any_of) > 1:
        # nothing of any layout: name the layout read offline (the last with files to copy)
        group = info.any_of[-2] if len(info.any_of) > 2 else info.any_of[-1]
    check.missing = [root / p for p in group if not (root / p).exists()]
    expected = {p: md5 for p, md5 in info.md5.items() if _under(p, group)}
    for relative, md5 in expected.items():
        path = root / relative
        if not path.is_file():
            if path not in check.missing:
                check.missing.append(path)
            continue
        actual = store.md5(path)
        if actual.lower() == md5.lower():
            check.verified.append(path)
        else:
            check.corrupted.append((path, actual, md5, path.stat().st_size))
    check.unverified = [root / p for p in group
                        if (root / p).exists() and p not in expected and (root / p).is_dir()
                        and not any(_under(q, (p,)) for q in expected)]
    return check


def check_datasets(names: list[str] | None = None, root: str | os.PathLike[str] | None = None
                   ) -> list[DatasetCheck]:
    """Check that datasets are present in the data directory and have the course's checksums.

    Each known file is hashed once: the digest is remembered in ``cache_dir()/verified-md5.json``
    (see :func:`cached_md5`), so a second check only looks at sizes and modification times. A
    dataset with several layouts (CIFAR-10: pickles, an extracted tree, JPEG archives) is checked
    in the layout the loader will use, the first complete one.

    Args:
        names: keys of :data:`~transfer_utils.core.paths.KNOWN_DATASETS` (default: all of them).
        root: the data directory (default :func:`~transfer_utils.core.paths.data_dir`).

    Returns:
        One :class:`DatasetCheck` per name, in order. Nothing is downloaded or changed.

    Raises:
        TypeError: ``names`` is a single string (pass a list) or holds a non-string.
        ValueError: an unknown name.
        FileNotFoundError, NotADirectoryError: ``root`` is given but is not an existing folder.
    """
    root = data_dir() if root is None else existing_dir(root, "root")
    if isinstance(names, str):
        raise TypeError(f"names must be a list of dataset names, got the string {names!r}; "
                        f"pass [{names!r}].")
    names = list(KNOWN_DATASETS) if names is None else list(names)
    if any(not isinstance(n, str) for n in names):
        raise TypeError(f"names must be dataset names (strings), got {names!r:.80}.")
    unknown = [n for n in names if n not in KNOWN_DATASETS]
    if unknown:
        raise ValueError(f"Unknown dataset(s) {unknown}; known: {list(KNOWN_DATASETS)}.")
    store = _Md5Store()
    try:
        return [_check_one(name, root, store) for name in names]
    finally:
        store.save()


def require_data(*names: str) -> list[DatasetCheck]:
    """Check, before a notebook starts, that the datasets it reads are present and intact.

    The first call of every notebook that reads a dataset (its setup cell), e.g.
    ``require_data("mnist", "usps", "cifar10")``. With the checksum cache warm it costs a few
    ``stat`` calls; a new or changed file is hashed once.

    Args:
        names: short names (:data:`DATASET_ALIASES`: ``"mnist"``, ``"usps"``, ``"cifar10"``,
            ``"reviews"``) or keys of :data:`~transfer_utils.core.paths.KNOWN_DATASETS`. ``"usps"``
            also checks the optional USPS train split when it is present (the loaders use it then).

    Returns:
        The checks, all passed.

    Raises:
        ValueError: an unknown name. TypeError: a name that is not a string.
        DataCheckError: anything needed is missing, or anything present is corrupted; the message
            lists every such file, the data directory and the fix for each.
    """
    keys: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"require_data takes dataset names as strings, got {type(name).__name__} "
                            f"({name!r:.40}); use one of {sorted(DATASET_ALIASES)}.")
        key = DATASET_ALIASES.get(name.lower(), name)
        if key not in KNOWN_DATASETS:
            raise ValueError(f"require_data: unknown dataset {name!r}; use one of "
                             f"{sorted(DATASET_ALIASES)} or {list(KNOWN_DATASETS)}.")
        keys.append(key)
        if key == "USPS test":
            keys.append("USPS train")
    checks = check_datasets(list(dict.fromkeys(keys)))
    problems = [c for c in checks if not c.ok]
    if problems:
        root = checks[0].root
        lines = "\n".join(f"  - {c.name}: {c.describe()}" for c in problems)
        raise DataCheckError(
            f"This notebook needs data that is missing or corrupted in the data directory {root} "
            f"(${DATA_ENV}):\n{lines}\nFix each as described, then run this cell again; "
            f"`python -m transfer_utils` shows the state of every dataset.",
            problems,
        )
    return checks
