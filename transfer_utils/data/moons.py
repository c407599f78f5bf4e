"""Two moons with a rotated target domain: the course's 2-D toy problem for domain adaptation.

The source domain is scikit-learn's two interleaving half-circles; the target domain is a fresh
draw from the same distribution rotated by an angle :math:`\\theta` about the data's centre,

.. math:: x_{\\text{tgt}} = R(\\theta)\\,(x - c) + c, \\qquad
          R(\\theta) = \\begin{pmatrix}\\cos\\theta & -\\sin\\theta\\\\ \\sin\\theta & \\cos\\theta\\end{pmatrix},

so the labelling rule moves with the inputs (covariate shift whose size grows with
:math:`\\theta`). Used in notebooks 04, 07 and 08.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from sklearn.datasets import make_moons

__all__ = ["MoonsDomains", "rotate", "make_moons_domains"]

CENTRE = (0.5, 0.25)  # the centre of scikit-learn's two moons


class MoonsDomains(NamedTuple):
    """Source and target samples: ``X_*`` float32 of shape (n, 2), ``y_*`` int64 of shape (n,)."""

    X_src: torch.Tensor
    y_src: torch.Tensor
    X_tgt: torch.Tensor
    y_tgt: torch.Tensor


def rotate(X: torch.Tensor, degrees: float, centre: tuple[float, float] = CENTRE) -> torch.Tensor:
    """Rotate 2-D points ``X`` (shape (n, 2)) by ``degrees`` counter-clockwise about ``centre``."""
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"rotate expects X as a torch tensor of shape (n, 2), got {type(X).__name__}; "
                        f"convert it with torch.as_tensor(X).")
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"rotate expects points of shape (n, 2), got {tuple(X.shape)}.")
    if not math.isfinite(degrees):
        raise ValueError(f"rotate: degrees must be a finite angle, got {degrees}.")
    t = math.radians(degrees)
    R = torch.tensor([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]], dtype=X.dtype)
    c = torch.tensor(centre, dtype=X.dtype)
    return (X - c) @ R.T + c


def make_moons_domains(
    n_per_domain: int = 500,
    *,
    rotation_deg: float = 30.0,
    noise: float = 0.1,
    generator: torch.Generator | None = None,
) -> MoonsDomains:
    """Draw a labelled source sample and a rotated target sample of two moons.

    Args:
        n_per_domain: points per domain (at least 2, split evenly between the classes).
        rotation_deg: the target's rotation in degrees; 0 gives two draws of one distribution.
        noise: standard deviation of the Gaussian noise added to each point.
        generator: seeds the two draws (reproducible when given).

    Returns:
        :class:`MoonsDomains`; the target labels are for evaluation only.
    """
    if not isinstance(n_per_domain, int) or n_per_domain < 2:
        raise ValueError(f"n_per_domain must be an int >= 2, got {n_per_domain!r}.")
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise}.")
    if not math.isfinite(rotation_deg):
        raise ValueError(f"rotation_deg must be a finite angle in degrees, got {rotation_deg}.")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}; "
                        f"e.g. generator=torch.Generator().manual_seed(0).")
    if generator is None:
        seeds = torch.randint(0, 2**31 - 1, (2,))
    else:
        seeds = torch.randint(0, 2**31 - 1, (2,), generator=generator)
    Xs, ys = make_moons(n_per_domain, noise=noise, random_state=int(seeds[0]))
    Xt, yt = make_moons(n_per_domain, noise=noise, random_state=int(seeds[1]))
    X_src = torch.as_tensor(Xs, dtype=torch.float32)
    X_tgt = rotate(torch.as_tensor(Xt, dtype=torch.float32), rotation_deg)
    return MoonsDomains(X_src, torch.as_tensor(ys, dtype=torch.long),
                        X_tgt, torch.as_tensor(yt, dtype=torch.long))
