"""The environment report printed by notebook 00 and by ``python -m transfer_utils``."""

from __future__ import annotations

import importlib.metadata as md
import platform
import sys

from transfer_utils.datadir import KNOWN_DATASETS, cache_dir, data_dir, dataset_status, is_offline
from transfer_utils.device import device_report, get_device
from transfer_utils.profile import get_profile

__all__ = ["package_versions", "environment_report"]

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


def environment_report() -> str:
    """A multi-line report: versions, device, profile, data and cache directories, datasets."""
    lines = ["Versions: " + ", ".join(f"{k} {v}" for k, v in package_versions().items())]
    lines.append(f"Platform: {platform.platform()} ({sys.executable})")
    lines.append(device_report(get_device()))
    lines.append(str(get_profile()))
    root = data_dir()
    lines.append(f"Data directory: {root}")
    lines.append(f"Cache directory: {cache_dir()}")
    lines.append(f"Offline: {'yes' if is_offline() else 'no'} (TL_OFFLINE)")
    for name, present in dataset_status(root).items():
        mark = "present" if present else f"missing -> {KNOWN_DATASETS[name].how_to_get}"
        lines.append(f"  {name:<17} {mark}")
    return "\n".join(lines)
