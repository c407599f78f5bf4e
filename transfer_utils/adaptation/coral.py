"""CORAL: align second-order statistics, in closed form and as a differentiable loss.

**Closed form** (Sun, Feng and Saenko 2016). With source and target covariances
:math:`C_s, C_t \\in \\mathbb{R}^{d\\times d}`, the linear map :math:`A` that minimises
:math:`\\lVert A^\\top C_s A - C_t\\rVert_F` is (for full-rank covariances) whitening by
:math:`C_s^{-1/2}` followed by re-colouring with :math:`C_t^{1/2}`:

.. math:: X_s^{\\star} = X_s\\,(C_s + \\varepsilon I)^{-1/2}\\,(C_t + \\varepsilon I)^{1/2},

so that :math:`\\operatorname{Cov}(X_s^{\\star}) = C_t` exactly when :math:`\\varepsilon = 0`. The
paper adds :math:`\\varepsilon = 1` (the identity) to both covariances of standardised features as
a regulariser; square roots are taken by a symmetric eigendecomposition.

**Deep CORAL loss** (Sun and Saenko 2016) for a batch of features,

.. math:: \\mathcal{L}_{\\mathrm{CORAL}} = \\frac{1}{4d^2}\\,\\lVert C_s - C_t\\rVert_F^2,
          \\qquad C = \\frac{1}{n-1}\\Big(F^\\top F - \\frac1n (\\mathbf 1^\\top F)^\\top(\\mathbf 1^\\top F)\\Big),

differentiable in both feature batches; its gradient with respect to the source features is
:math:`\\frac{1}{d^2 (n_s-1)}\\,(F_s - \\bar F_s)(C_s - C_t)`.

References:
    Sun, Feng and Saenko, "Return of Frustratingly Easy Domain Adaptation", AAAI 2016.
    Sun and Saenko, "Deep CORAL: Correlation Alignment for Deep Domain Adaptation",
    ECCV 2016 Workshops (TASK-CV).

Introduced in notebook 07.
"""

from __future__ import annotations

import torch
from torch import nn

from transfer_utils.adaptation.loss import AdaptationLoss
from transfer_utils.core.validation import (FEATURE_ADVICE, check_feature_pair, check_features, check_finite,
                                            check_number, check_positive, check_tensor)

__all__ = ["covariance", "matrix_power_sym", "coral_transform", "coral_loss", "CORALLoss"]


def _check_pair(Fs: torch.Tensor, Ft: torch.Tensor, names: tuple[str, str]) -> None:
    check_feature_pair(Fs, Ft, names, min_rows=2, need="a covariance", advice=FEATURE_ADVICE)


def _covariance(F: torch.Tensor) -> torch.Tensor:
    Fc = F - F.mean(0, keepdim=True)
    return Fc.T @ Fc / (F.shape[0] - 1)


def covariance(F: torch.Tensor) -> torch.Tensor:
    """Unbiased sample covariance of the rows of ``F`` (shape (n, d) -> (d, d)), differentiable."""
    check_features(F, "F", min_rows=2, need="a covariance")
    return _covariance(F)


def matrix_power_sym(C: torch.Tensor, power: float, eps: float = 0.0) -> torch.Tensor:
    """:math:`(C + \\varepsilon I)^{p}` of a symmetric positive (semi-)definite matrix by ``eigh``.

    Raises:
        ValueError: a non-square ``C``, NaN or inf in it, a negative ``eps``, or a negative power of
            a matrix that is singular after adding ``eps``.
    """
    check_tensor(C, "C")
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise ValueError(f"C must be a square matrix, got shape {tuple(C.shape)}.")
    check_finite(C, "C")
    power = check_number(power, "power")
    check_positive(eps, "eps", allow_zero=True)
    Csym = 0.5 * (C + C.T) + eps * torch.eye(C.shape[0], dtype=C.dtype, device=C.device)
    evals, evecs = torch.linalg.eigh(Csym)
    tol = evals.abs().max().clamp_min(1.0) * C.shape[0] * torch.finfo(C.dtype).eps
    if power < 0 and bool((evals <= tol).any()):
        raise ValueError(
            "The covariance is singular (fewer samples than features, or constant features); "
            "pass eps > 0 (Sun et al. 2016 use eps=1 on standardised features)."
        )
    evals = evals.clamp_min(0.0)
    return (evecs * evals.pow(power)) @ evecs.T


def coral_transform(
    X_src: torch.Tensor, X_tgt: torch.Tensor, eps: float = 1.0, *, center: bool = False
) -> torch.Tensor:
    """Re-colour the source so its covariance becomes the target's (closed-form CORAL).

    .. math:: X_s^{\\star} = X_s (C_s + \\varepsilon I)^{-1/2} (C_t + \\varepsilon I)^{1/2}

    Args:
        X_src: source features, shape (n_s, d).
        X_tgt: target features, shape (n_t, d) (unlabelled; only their covariance is used).
        eps: ridge added to both covariances; 1 as in Sun et al. (2016), 0 for an exact match
            (then :math:`\\mathrm{Cov}(X_s^\\star) = C_t` exactly; needs full-rank :math:`C_s`).
        center: subtract the source mean before the map and add the target mean after it
            (the paper's version leaves means alone; covariances are unaffected either way).

    Returns:
        The transformed source features, shape (n_s, d), same dtype (computed in float64).
        A classifier trained on them is then applied to the untouched target.
    """
    _check_pair(X_src, X_tgt, ("X_src", "X_tgt"))
    check_positive(eps, "eps", allow_zero=True)
    Xs, Xt = X_src.double(), X_tgt.double()
    A = matrix_power_sym(_covariance(Xs), -0.5, eps) @ matrix_power_sym(_covariance(Xt), 0.5, eps)
    if center:
        out = (Xs - Xs.mean(0)) @ A + Xt.mean(0)
    else:
        out = Xs @ A
    return out.to(X_src.dtype)


def coral_loss(f_src: torch.Tensor, f_tgt: torch.Tensor) -> torch.Tensor:
    """Deep CORAL loss :math:`\\frac{1}{4d^2}\\lVert C_s - C_t\\rVert_F^2` (Sun and Saenko 2016).

    Args:
        f_src: source features, shape (n_s, d), n_s >= 2.
        f_tgt: target features, shape (n_t, d), n_t >= 2.

    Returns:
        A scalar tensor, differentiable in both inputs; 0 for identical batches.
    """
    _check_pair(f_src, f_tgt, ("f_src", "f_tgt"))
    d = f_src.shape[1]
    diff = _covariance(f_src) - _covariance(f_tgt)
    return (diff * diff).sum() / (4.0 * d * d)


class CORALLoss(AdaptationLoss):
    """:func:`coral_loss` as an :class:`~transfer_utils.adaptation.loss.AdaptationLoss`:
    ``CORALLoss()(f_src, f_tgt) -> scalar``.

    Inputs: ``f_src`` (n_s, d), ``f_tgt`` (n_t, d). Output: a scalar tensor.
    """

    def forward(self, f_src: torch.Tensor, f_tgt: torch.Tensor) -> torch.Tensor:
        return coral_loss(f_src, f_tgt)
