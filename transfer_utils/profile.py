"""Run profiles: one switch picks the size of every experiment.

``quick``
    a laptop CPU, offline, a few minutes for the whole course: smaller subsets, fewer epochs and
    seeds, but the same code, the same real data and the same effect, asserted.
``full``
    paper-scale, meant for a GPU.

The default is ``quick`` when ``$CI`` is set or no CUDA GPU is present, otherwise ``full``;
``$TL_PROFILE`` overrides it. A notebook reads its sizes from the profile object::

    profile = get_profile()
    n_train = profile.pick(quick=2_000, full=60_000)
    for seed in profile.seeds: ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import torch

__all__ = ["PROFILE_ENV", "PROFILES", "Profile", "get_profile"]

PROFILE_ENV = "TL_PROFILE"
T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    """The sizes of a run.

    Attributes:
        name: ``"quick"`` or ``"full"``.
        seeds: the seeds to average over when a result is reported as mean and spread.
        epoch_scale: a multiplier for epoch counts that a notebook does not set itself.
    """

    name: str
    seeds: tuple[int, ...]
    epoch_scale: float

    @property
    def is_quick(self) -> bool:
        return self.name == "quick"

    def pick(self, *, quick: T, full: T) -> T:
        """Return ``quick`` or ``full`` for this profile (keyword-only so the call reads plainly)."""
        return quick if self.is_quick else full

    def __str__(self) -> str:
        return f"Profile: {self.name} (seeds {list(self.seeds)})"


PROFILES: dict[str, Profile] = {
    "quick": Profile(name="quick", seeds=(0, 1, 2), epoch_scale=0.1),
    "full": Profile(name="full", seeds=(0, 1, 2, 3, 4), epoch_scale=1.0),
}


def get_profile(name: str | None = None) -> Profile:
    """Return the run profile.

    Precedence: ``name`` if given, else ``$TL_PROFILE``, else ``quick`` when ``$CI`` is set or no
    CUDA GPU is present, else ``full``.

    Raises:
        ValueError: an unknown profile name.
    """
    source = "argument"
    if name is None:
        name, source = os.environ.get(PROFILE_ENV), f"${PROFILE_ENV}"
    if name is None or str(name).strip() == "":
        ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
        return PROFILES["quick" if ci or not torch.cuda.is_available() else "full"]
    key = str(name).strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"Unknown profile {name!r} (from {source}). Known profiles: {', '.join(PROFILES)}; "
            f"e.g. `export {PROFILE_ENV}=quick`."
        )
    return PROFILES[key]
