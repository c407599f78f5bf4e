"""Is the data a notebook needs present and intact? One check before minutes are spent.

Before any loader runs, :func:`require_data` (the first call of every notebook that reads a dataset)
checks in one go that the datasets a notebook needs are present and intact, and raises one
:class:`DataCheckError` that lists every missing or corrupted file with its fix, instead of failing
minutes later in the middle of the notebook. It and the environment report
(``python -m transfer_utils``) share :func:`check_datasets`, whose checksums are remembered in
``cache_dir()/verified-md5.json`` keyed by each file's path, size and modification time
(:func:`~transfer_utils.data.checksums.cached_md5`), so that only a new or changed file is hashed again.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from transfer_utils.core.paths import DATA_ENV, KNOWN_DATASETS, data_dir, existing_dir
from transfer_utils.data.checksums import Md5Store

__all__ = [
    "DataCheckError",
    "DatasetCheck",
    "DATASET_ALIASES",
    "check_datasets",
    "require_data",
]

DATASET_ALIASES: dict[str, str] = {
    "mnist": "MNIST",
    "usps": "USPS test",
    "usps_train": "USPS train",
    "cifar10": "CIFAR-10",
    "reviews": "Review sentences",
}
"""Short names accepted by :func:`require_data` -> keys of :data:`~transfer_utils.core.paths.KNOWN_DATASETS`."""


class DataCheckError(RuntimeError):
    """Datasets a notebook needs are missing or corrupted; the message lists each with its fix.

    Attributes:
        problems: the :class:`DatasetCheck` of every dataset that failed.
    """

    def __init__(self, message: str, problems: list[DatasetCheck]) -> None:
        super().__init__(message)
        self.problems = problems


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


def _check_one(name: str, root: Path, store: Md5Store) -> DatasetCheck:
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
    (see :func:`~transfer_utils.data.checksums.cached_md5`), so a second check only looks at sizes and modification times. A
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
    store = Md5Store()
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
