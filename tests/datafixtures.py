"""Helpers that build data directories in ``tmp_path`` from the course's offline copy.

Intact files are symbolic links to the shared copy (nothing is copied or changed there); a broken
file is a real, truncated copy of the first bytes of the original.
"""

from __future__ import annotations

import shutil
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
LAYOUT = {
    "mnist": [f"MNIST/raw/{f}" for f in MNIST_FILES],
    "usps": ["USPS/usps.t.bz2"],
    "cifar10": ["cifar10_jpg/cifar10_jpg_train.tar.gz", "cifar10_jpg/cifar10_jpg_test.tar.gz"],
    "text": ["text/sentiment_labelled_sentences"],
}


def have_shared() -> bool:
    """Whether the offline copy is beside the project (the tests that need it skip otherwise)."""
    return all((SHARED / p).exists() for paths in LAYOUT.values() for p in paths)


def build_data_dir(root: Path, *, skip: tuple[str, ...] = (), truncate: dict[str, int] | None = None
                   ) -> Path:
    """A data directory at ``root`` linking every shared file except the relative paths in ``skip``.

    Args:
        root: the folder to create.
        skip: relative paths left out (missing).
        truncate: relative path -> number of leading bytes kept in a real copy (corrupted).
    """
    truncate = truncate or {}
    root.mkdir(parents=True, exist_ok=True)
    for paths in LAYOUT.values():
        for rel in paths:
            if rel in skip:
                continue
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel in truncate:
                with open(SHARED / rel, "rb") as src:
                    target.write_bytes(src.read(truncate[rel]))
            elif (SHARED / rel).is_dir():
                shutil.copytree(SHARED / rel, target)
            else:
                target.symlink_to(SHARED / rel)
    return root
