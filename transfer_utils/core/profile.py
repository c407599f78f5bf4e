"""Run profiles: one switch picks the size of every experiment.

``quick``
    a laptop CPU, offline, a few minutes for the whole course: smaller subsets, fewer epochs and
    seeds, but the same code, the same real data and the same effect, asserted.
``full``
    paper-scale, meant for a GPU.

The default is ``quick`` when ``$CI`` is set or no CUDA GPU is present, otherwise ``full``;
``$TL_PROFILE`` overrides it, and ``$TL_SEEDS`` (e.g. ``TL_SEEDS=7,8,9``) replaces the profile's
seeds, so that every seeded draw of a notebook can be repeated on seeds never used in development
(the claims sweep, ``make claims``, does exactly that). A notebook reads its sizes and seeds from
the profile object::

    profile = get_profile()
    n_train = profile.pick(quick=2_000, full=60_000)
    for seed in profile.seeds: ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TypeVar

import torch

__all__ = ["PROFILE_ENV", "SEEDS_ENV", "PROFILES", "Profile", "get_profile", "parse_seeds"]

PROFILE_ENV = "TL_PROFILE"
SEEDS_ENV = "TL_SEEDS"
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

    @property
    def seed(self) -> int:
        """The first seed: the one a single-seed draw (a figure, a fixed split) uses."""
        return self.seeds[0]

    def pick(self, *, quick: T, full: T) -> T:
        """Return ``quick`` or ``full`` for this profile (keyword-only so the call reads plainly)."""
        return quick if self.is_quick else full

    def __str__(self) -> str:
        return f"Profile: {self.name} (seeds {list(self.seeds)})"


PROFILES: dict[str, Profile] = {
    "quick": Profile(name="quick", seeds=(0, 1, 2), epoch_scale=0.1),
    "full": Profile(name="full", seeds=(0, 1, 2, 3, 4), epoch_scale=1.0),
}


def parse_seeds(text: str, source: str = f"${SEEDS_ENV}") -> tuple[int, ...]:
    """Parse a comma-separated list of distinct non-negative integer seeds, e.g. ``"7,8,9"``.

    Raises:
        ValueError: an empty list, a non-integer, a negative or too large seed, or a repeat.
    """
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    example = f"e.g. `export {SEEDS_ENV}=7,8,9` (distinct integers in [0, 2**32), comma-separated)"
    if not parts:
        raise ValueError(f"{source} is set but lists no seeds ({text!r}); {example}.")
    seeds = []
    for part in parts:
        try:
            value = int(part)
        except ValueError:
            raise ValueError(f"{source}: {part!r} is not an integer seed; {example}.") from None
        if not 0 <= value < 2**32:
            raise ValueError(f"{source}: seed {value} is out of range; {example}.")
        seeds.append(value)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{source}: a seed is repeated in {text!r}; {example}.")
    return tuple(seeds)


def get_profile(name: str | None = None) -> Profile:
    """Return the run profile, with its seeds replaced by ``$TL_SEEDS`` when that is set.

    Precedence: ``name`` if given, else ``$TL_PROFILE``, else ``quick`` when ``$CI`` is set or no
    CUDA GPU is present, else ``full``.

    Raises:
        ValueError: an unknown profile name, or a malformed ``$TL_SEEDS``.
    """
    profile = _base_profile(name)
    seeds = os.environ.get(SEEDS_ENV, "")
    if seeds.strip():
        profile = replace(profile, seeds=parse_seeds(seeds))
    return profile


def _base_profile(name: str | None) -> Profile:
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
