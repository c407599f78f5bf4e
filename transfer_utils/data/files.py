"""The files a dataset loader needs: present and verified, downloaded only when allowed, or one clear error.

A loader calls :func:`ensure_files` with the files a dataset needs, their MD5 checksums and a line
that says how to get them. Present files are verified (a corrupted or truncated file fails with
:class:`~transfer_utils.data.checksums.ChecksumError`, naming the file and what to do); missing
files are downloaded only when the course is online (``$TL_OFFLINE`` unset) and a ``download``
callable is given, otherwise :class:`DatasetMissingError` names each missing file, the directory it
is expected in and how to get it, instead of a raw download traceback. Introduced with the digits in
notebook 04; the CIFAR-10 loader uses it too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from transfer_utils.core.paths import DATA_ENV, OFFLINE_ENV, as_path, is_offline
from transfer_utils.data.checksums import verify_md5

__all__ = ["DatasetMissingError", "missing_dataset_error", "ensure_files"]


class DatasetMissingError(FileNotFoundError):
    """A dataset file is not in the data directory and cannot be downloaded (offline, or it failed)."""


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
