"""The environment report printed by notebook 00 and by ``python -m transfer_utils``.

The report checks the datasets as well as listing them: every file the course knows a checksum for
is verified (:func:`transfer_utils.data.checks.check_datasets`, cached by size and modification
time, so a second report hashes nothing), and ``python -m transfer_utils`` exits with status 1 when
a dataset the course needs is missing or a present one is corrupted, 0 when all is well.
"""

from __future__ import annotations

import importlib.metadata as md
import platform
import sys

from transfer_utils.data.checks import DatasetCheck, check_datasets
from transfer_utils.core.paths import cache_dir, data_dir, is_offline
from transfer_utils.core.device import device_report, get_device
from transfer_utils.core.profile import get_profile

__all__ = ["package_versions", "dataset_lines", "environment_report", "main"]

_PACKAGES = ("torch", "torchvision", "gpytorch", "numpy", "scikit-learn", "matplotlib",
             "ipywidgets", "tqdm", "efficientnet-lite-pytorch")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the course relies on ("missing" when absent)."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "missing"
    return out


def dataset_lines(checks: list[DatasetCheck]) -> list[str]:
    """One indented line per dataset: ``  <name padded to 17> <status and fix>``."""
    return [f"  {c.name:<17} {c.describe()}" for c in checks]


def environment_report(checks: list[DatasetCheck] | None = None) -> str:
    """A multi-line report: versions, device, profile, data and cache directories, datasets.

    Args:
        checks: the dataset checks to show (default: :func:`check_datasets` on the data directory).
    """
    lines = ["Versions: " + ", ".join(f"{k} {v}" for k, v in package_versions().items())]
    lines.append(f"Platform: {platform.platform()} ({sys.executable})")
    lines.append(device_report(get_device()))
    lines.append(str(get_profile()))
    root = data_dir()
    lines.append(f"Data directory: {root}")
    lines.append(f"Cache directory: {cache_dir()}")
    lines.append(f"Offline: {'yes' if is_offline() else 'no'} (TL_OFFLINE)")
    lines.extend(dataset_lines(check_datasets(root=root) if checks is None else checks))
    return "\n".join(lines)


def main() -> int:
    """``python -m transfer_utils``: print the report; 1 when data is missing or corrupted, else 0."""
    checks = check_datasets()
    print(environment_report(checks))
    bad = [c for c in checks if not c.ok]
    if bad:
        print(f"\nNot ready: {', '.join(f'{c.name} {c.status}' for c in bad)}. "
              f"Fix each as described above, then run `python -m transfer_utils` again.")
        return 1
    print("\nAll datasets the course needs are present and verified.")
    return 0
