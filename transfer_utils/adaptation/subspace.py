"""Subspace alignment: map the source's PCA basis onto the target's (Fernando et al. 2013).

Let :math:`P_s, P_t \\in \\mathbb{R}^{D\\times d}` hold the top-:math:`d` principal directions of the
centred source and target data (orthonormal columns). Subspace alignment looks for the
:math:`d\\times d` matrix :math:`M` that brings the source basis closest to the target's,

.. math:: M^\\star = \\arg\\min_M \\lVert P_s M - P_t\\rVert_F^2 = P_s^\\top P_t,

(the closed form follows from :math:`P_s^\\top P_s = I`), and then compares

.. math:: Z_s = (X_s - \\bar x_s)\\,P_s M^\\star, \\qquad Z_t = (X_t - \\bar x_t)\\,P_t .

A classifier trained on :math:`Z_s` is applied to :math:`Z_t`. Because :math:`P_s M^\\star =
P_s P_s^\\top P_t` the result does not depend on the signs or the rotation of the basis that an
eigensolver returns.

Reference:
    Fernando, Habrard, Sebban and Tuytelaars, "Unsupervised Visual Domain Adaptation Using
    Subspace Alignment", ICCV 2013.

Introduced in notebook 07.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from transfer_utils.core.validation import check_feature_pair, check_features

__all__ = ["pca_basis", "SubspaceAlignment", "subspace_alignment"]


def _check(X: torch.Tensor, name: str) -> None:
    check_features(X, name, min_rows=2, need="PCA")


def pca_basis(X: torch.Tensor, d: int) -> torch.Tensor:
    """The top-``d`` principal directions of ``X`` as orthonormal columns, shape (D, d).

    Computed by an SVD of the centred data (float64); columns in order of decreasing variance.
    """
    _check(X, "X")
    D = X.shape[1]
    if not isinstance(d, int) or not 1 <= d <= min(D, X.shape[0]):
        raise ValueError(f"d must be an int in [1, min(n_features, n_samples)] = "
                         f"[1, {min(D, X.shape[0])}], got {d!r}.")
    Xc = X.double() - X.double().mean(0)
    _, _, Vh = torch.linalg.svd(Xc, full_matrices=False)
    return Vh[:d].T.to(X.dtype)


class SubspaceAlignment(NamedTuple):
    """Aligned coordinates ``Z_src`` (n_s, d), ``Z_tgt`` (n_t, d), and ``P_src``, ``P_tgt``, ``M``."""

    Z_src: torch.Tensor
    Z_tgt: torch.Tensor
    P_src: torch.Tensor
    P_tgt: torch.Tensor
    M: torch.Tensor


def subspace_alignment(X_src: torch.Tensor, X_tgt: torch.Tensor, d: int) -> SubspaceAlignment:
    """Subspace alignment of Fernando et al. (2013); see the module docstring for the formulas.

    Args:
        X_src: source data, shape (n_s, D).
        X_tgt: target data, shape (n_t, D) (unlabelled).
        d: the subspace dimension, 1 <= d <= D.

    Returns:
        :class:`SubspaceAlignment` with :math:`Z_s = (X_s-\\bar x_s) P_s M`, :math:`Z_t = (X_t-\\bar x_t) P_t`
        and :math:`M = P_s^\\top P_t`.
    """
    check_feature_pair(X_src, X_tgt, ("X_src", "X_tgt"), min_rows=2, need="PCA")
    P_s, P_t = pca_basis(X_src, d), pca_basis(X_tgt, d)
    M = P_s.T @ P_t
    Z_src = (X_src - X_src.mean(0)) @ (P_s @ M)
    Z_tgt = (X_tgt - X_tgt.mean(0)) @ P_t
    return SubspaceAlignment(Z_src, Z_tgt, P_s, P_t, M)
