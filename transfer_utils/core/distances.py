"""Pairwise squared Euclidean distances: the one place the kernels of the course compute them.

Used by the MMD's Gaussian kernels (:mod:`transfer_utils.adaptation.mmd`, notebook 04) and the GP's RBF kernel
(:mod:`transfer_utils.bayes.gp_scratch`, notebook 09).
"""

from __future__ import annotations

import torch

__all__ = ["sq_dists"]


def sq_dists(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """The matrix of squared distances between the rows of ``A`` and the rows of ``B``.

    .. math:: D_{ij} = \\lVert a_i - b_j \\rVert^2 = \\lVert a_i\\rVert^2 + \\lVert b_j\\rVert^2 - 2\\,a_i^\\top b_j,

    computed by that expansion (one matrix product, differentiable) and clamped at 0, since
    rounding can push a distance near zero slightly below it.

    Shape: ``A`` ``(m, d)``, ``B`` ``(n, d)``; the result is ``(m, n)``.

    Raises:
        ValueError: ``A`` or ``B`` is not 2-D, or their numbers of columns differ.
    """
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ValueError(f"sq_dists needs A (m, d) and B (n, d) with the same d, got {tuple(A.shape)} "
                         f"and {tuple(B.shape)}; reshape 1-D inputs with x.unsqueeze(-1).")
    d = (A * A).sum(1, keepdim=True) + (B * B).sum(1) - 2.0 * A @ B.T
    return d.clamp_min(0.0)
