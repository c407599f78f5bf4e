"""Checksums of dataset files: MD5 digests, verified against the course's, remembered across runs.

:func:`verify_md5` checks one file against its expected digest (a wrong one raises
:class:`ChecksumError`, naming the file and what to do). :class:`Md5Store` and :func:`cached_md5`
remember digests in ``cache_dir()/verified-md5.json`` keyed by each file's resolved path, size,
modification time and inode change time, so that only a new or changed file is hashed again: the
environment report and every notebook's :func:`~transfer_utils.data.checks.require_data` call share
them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from transfer_utils.core.atomic import atomic_path
from transfer_utils.core.paths import as_path, cache_dir, existing_file

__all__ = ["ChecksumError", "Md5Store", "VERIFY_CACHE_NAME", "cached_md5", "file_md5", "verify_md5"]


VERIFY_CACHE_NAME = "verified-md5.json"
"""The file in the cache directory that remembers checksums: path -> size, mtime and MD5."""
_VERIFY_FORMAT = 1

# (resolved path, size, mtime) -> MD5 of files already verified in this process: a notebook that
# loads a dataset once per seed hashes it once. A rewritten file has a new mtime and is hashed again.
_VERIFIED: dict[tuple[str, int, int], str] = {}


class ChecksumError(RuntimeError):
    """A dataset file exists but its checksum is wrong: corrupted, truncated or another file."""


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


class Md5Store:
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
    store = Md5Store()
    try:
        return store.md5(path)
    finally:
        store.save()
