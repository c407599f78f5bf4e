"""Atomic file writes, and the removal of the temporary files an interrupted write leaves behind.

A cache or checkpoint is either the old file or the new one, never half: :func:`atomic_path` writes
to a temporary file beside the target and renames it into place. A process that is killed between
the two leaves its temporary file behind; :func:`remove_stale_temp` removes such leftovers, and
:func:`clean_cache_once` runs it over the cache directory the first time a process uses the cache
(from ``python -m transfer_utils.prepare``, the CIFAR-10 extraction, and every atomic write into the
cache).

Only names the course itself creates are touched (each pattern below is matched in full):

* ``.<name>.<pid>.<random>.tmp`` files of :func:`atomic_path` (and ``.<name>.<random>.tmp`` from
  older versions of this module);
* ``.cifar10_jpg.<pid>.<random>.tmp`` / ``.cifar10_jpg.<random>.tmp`` folders of the CIFAR-10
  extraction, and ``.cifar10_jpg.old-<pid>`` folders it moves aside before deleting them; the same
  for ``all-MiniLM-L6-v2``, the sentence encoder's extraction (notebook 11);
* ``.tl-write-test-<random>`` probe files of :func:`transfer_utils.core.paths.cache_dir`.

A match is stale when it is older than :data:`STALE_AGE_S` or when its name carries the id of a
process that no longer runs on this machine; a live writer's file is neither, so it is kept.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from transfer_utils.core.paths import as_path

__all__ = ["STALE_AGE_S", "atomic_path", "temp_prefix", "remove_stale_temp", "clean_cache_once"]

STALE_AGE_S = 600.0
"""A course temporary file or folder older than this (seconds) is left over by a dead writer."""

# tempfile's random part: 8 characters of [a-z0-9_] (tempfile._RandomNameSequence).
_RAND = r"[a-z0-9_]{8}"
_TREES = r"(?:cifar10_jpg|all-MiniLM-L6-v2)"  # folders extracted atomically into the cache
_PATTERNS: tuple[tuple[re.Pattern[str], bool], ...] = (  # (full-name pattern, is a folder)
    (re.compile(rf"\.(?!tl-write-test-).+\.(?P<pid>[0-9]+)\.{_RAND}\.tmp"), False),
    (re.compile(rf"\.(?!tl-write-test-).+\.{_RAND}\.tmp"), False),
    (re.compile(rf"\.{_TREES}\.(?P<pid>[0-9]+)\.{_RAND}\.tmp"), True),
    (re.compile(rf"\.{_TREES}\.{_RAND}\.tmp"), True),
    (re.compile(rf"\.{_TREES}\.old-(?P<pid>[0-9]+)"), True),
    (re.compile(rf"\.tl-write-test-{_RAND}"), False),
)
# Folders never descended into while cleaning: the extracted CIFAR-10 tree holds 60,000 images.
_PRUNE = frozenset({"cifar10_jpg"})
_CLEANED: set[str] = set()  # cache directories already cleaned by this process


def temp_prefix(name: str) -> str:
    """The prefix of the course's temporary files and folders for a target called ``name``.

    ``.<name>.<pid>.``: the process id lets :func:`remove_stale_temp` remove the leftovers of a
    killed process without waiting for them to age.
    """
    return f".{name}.{os.getpid()}."


def _process_gone(pid: int) -> bool:
    """True when no process ``pid`` exists on this machine (a process we may not signal exists)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def _stale(entry: os.DirEntry[str], now: float, max_age_s: float) -> bool:
    """Whether ``entry`` is a course temporary file or folder left over by a dead writer."""
    for pattern, is_dir in _PATTERNS:
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        try:
            if entry.is_dir(follow_symlinks=False) != is_dir or entry.is_symlink():
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            return False
        pid = match.groupdict().get("pid")
        return age > max_age_s or (pid is not None and _process_gone(int(pid)))
    return False


def remove_stale_temp(
    directory: str | os.PathLike[str], *, max_age_s: float = STALE_AGE_S, recursive: bool = True
) -> list[Path]:
    """Remove the course's stale temporary files and folders in ``directory``.

    Args:
        directory: where to look; a missing folder is fine (nothing to do).
        max_age_s: a match older than this is stale (default :data:`STALE_AGE_S`); a match whose
            name carries the id of a process that is gone is stale at any age.
        recursive: also look in sub-folders (not inside an extracted ``cifar10_jpg`` tree).

    Returns:
        The paths removed. Names that are not the course's own are never touched, and an entry
        that cannot be removed (permissions, a race with another cleaner) is skipped.
    """
    removed: list[Path] = []
    now = time.time()
    pending = [as_path(directory, "directory")]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            if _stale(entry, now, max_age_s):
                try:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(path)
                    else:
                        path.unlink()
                except FileNotFoundError:
                    continue  # another process cleaned it first
                except OSError:
                    continue
                removed.append(path)
            elif (recursive and entry.name not in _PRUNE
                  and entry.is_dir(follow_symlinks=False)):
                pending.append(path)
    return removed


def clean_cache_once(cache: str | os.PathLike[str] | None = None) -> list[Path]:
    """Run :func:`remove_stale_temp` over the cache directory, once per process and directory.

    Args:
        cache: the cache directory; default :func:`transfer_utils.core.paths.cache_dir`.

    Returns:
        The paths removed (empty on any later call for the same directory).
    """
    if cache is None:
        from transfer_utils.core.paths import cache_dir

        cache = cache_dir()
    else:
        cache = as_path(cache, "cache")
    key = str(Path(cache).resolve())
    if key in _CLEANED:
        return []
    _CLEANED.add(key)
    return remove_stale_temp(key)


def _cache_containing(path: Path) -> Path | None:
    """The configured cache directory that holds ``path``, or None (nothing is created)."""
    from transfer_utils.core.paths import configured_cache_dirs

    resolved = path.resolve()
    for cache in configured_cache_dirs():
        if cache.is_dir() and resolved.is_relative_to(cache.resolve()):
            return cache
    return None


def _writable_target(path: object) -> Path:
    """``path`` as a Path whose folder exists (created when missing), or a clear error naming it.

    Raises:
        TypeError, ValueError: ``path`` is not a path (see :func:`~transfer_utils.core.paths.as_path`).
        IsADirectoryError: ``path`` is an existing folder.
        NotADirectoryError: a folder on the way to ``path`` is a file.
        PermissionError: the folder cannot be created.
    """
    path = as_path(path, "path")
    if path.is_dir():
        raise IsADirectoryError(f"Cannot write {path}: it is a folder. Give the path of a file, "
                                f"e.g. {path / 'model.pt'}.")
    for parent in path.parents:  # the nearest existing ancestor must be a folder
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"Cannot write {path}: {parent} is a file, not a folder. "
                                         f"Choose another path, or move that file away.")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PermissionError(f"Cannot write {path}: its folder {path.parent} cannot be created "
                              f"({err.strerror}). Choose a folder you can write to.") from err
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    The temporary file lives in the same directory, so :func:`os.replace` is an atomic rename on
    POSIX and Windows. Missing folders on the way are created; a ``path`` that is a folder, or
    whose folder is a file, is refused with an error naming it. If the block raises the temporary
    file is removed and ``path`` is left untouched; if the process is killed, the file (``.<name>.<pid>.<random>.tmp``) is removed by
    the next process that writes into the cache (:func:`clean_cache_once`).

    Example::

        with atomic_path("model.pt") as tmp:
            torch.save(state, tmp)
    """
    path = _writable_target(path)
    cache = _cache_containing(path.parent)
    if cache is not None:
        clean_cache_once(cache)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise PermissionError(f"Cannot write {path}: no file can be created in {path.parent} "
                              f"({err.strerror}). Choose a folder you can write to.") from err
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:  # flush to disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
