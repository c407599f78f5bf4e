"""Maximum mean discrepancy (MMD) with a mixture of Gaussian kernels, as a number and as a loss.

The squared MMD between distributions :math:`P` and :math:`Q` in the reproducing-kernel Hilbert
space of a kernel :math:`k` is the squared distance between their mean embeddings,

.. math:: \\mathrm{MMD}^2(P, Q) = \\mathbb{E}_{x,x'\\sim P}\\,k(x,x')
          + \\mathbb{E}_{y,y'\\sim Q}\\,k(y,y') - 2\\,\\mathbb{E}_{x\\sim P,\\,y\\sim Q}\\,k(x,y).

From samples :math:`X = \\{x_i\\}_{i=1}^m`, :math:`Y = \\{y_j\\}_{j=1}^n` the biased (V-statistic)
estimate averages every entry of the three kernel matrices,

.. math:: \\widehat{\\mathrm{MMD}}^2_b = \\frac{1}{m^2}\\sum_{i,i'} k(x_i,x_{i'})
          + \\frac{1}{n^2}\\sum_{j,j'} k(y_j,y_{j'}) - \\frac{2}{mn}\\sum_{i,j} k(x_i,y_j),

and the unbiased (U-statistic) estimate leaves out the diagonals :math:`i=i'` and :math:`j=j'`
(dividing by :math:`m(m-1)` and :math:`n(n-1)`). The kernel here is an equal-weight mixture of
Gaussian kernels with bandwidths :math:`\\sigma_1,\\dots,\\sigma_K`,

.. math:: k(x, y) = \\frac{1}{K}\\sum_{u=1}^{K} \\exp\\!\\Big(-\\frac{\\lVert x-y\\rVert^2}{2\\sigma_u^2}\\Big),

a characteristic kernel, so :math:`\\mathrm{MMD}=0` exactly when :math:`P=Q`. Using several
bandwidths at once is the multi-kernel MMD of DAN (Long et al. 2015); without given bandwidths they
are spread by factors of two around the median pairwise distance of the pooled sample.

References:
    Gretton, Borgwardt, Rasch, Schoelkopf and Smola, "A Kernel Two-Sample Test", JMLR 13, 2012.
    Long, Cao, Wang and Jordan, "Learning Transferable Features with Deep Adaptation Networks",
    ICML 2015.

Introduced in notebook 04 (measuring discrepancy), used as a loss in notebook 07.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from transfer_utils.adaptation.loss import AdaptationLoss
from transfer_utils.core.distances import sq_dists
from transfer_utils.core.validation import FEATURE_ADVICE, check_feature_pair, check_positive

__all__ = ["DEFAULT_BANDWIDTH_FACTORS", "median_bandwidth", "gaussian_kernel", "mmd2", "MMDLoss"]

#: Multipliers of the median distance used when no bandwidths are given.
DEFAULT_BANDWIDTH_FACTORS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)


def _check_pair(X: torch.Tensor, Y: torch.Tensor, *, min_rows: int = 1) -> None:
    check_feature_pair(X, Y, ("X", "Y"), min_rows=min_rows, need="this estimate", advice=FEATURE_ADVICE)


def median_bandwidth(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """The median heuristic: the median pairwise distance within the pooled sample ``[X; Y]``.

    .. math:: \\sigma = \\operatorname{median}_{a \\neq b}\\ \\lVert z_a - z_b \\rVert,\\qquad z = X \\cup Y.

    Each unordered pair is counted once (the upper triangle of the distance matrix): the multiset of
    all ordered pairs holds every distance twice (up to the rounding of the matrix product), and doubling every value of a sample leaves its
    midpoint median unchanged, so this is the median over :math:`a \\neq b` at half the cost of the
    sort (it runs at every training step of an MMD loss). Computed without gradient (the bandwidth is
    a setting, not a parameter). Falls back to 1 when every point coincides.

    Returns:
        A scalar tensor on the inputs' device.
    """
    _check_pair(X, Y)
    return _median_bandwidth(X, Y)


def _median_bandwidth(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        Z = torch.cat([X, Y]).detach()
        D = sq_dists(Z, Z)
        n = Z.shape[0]
        rows, cols = torch.triu_indices(n, n, offset=1, device=Z.device)
        off = D[rows, cols].sqrt()
        if off.numel() == 0:
            return torch.ones((), dtype=Z.dtype, device=Z.device)
        # the midpoint median (as NumPy's); torch.quantile has a size limit, so fall back beyond it
        med = off.quantile(0.5) if off.numel() <= 1_000_000 else off.median()
        return torch.where(med > 0, med, torch.ones_like(med))


def _as_sigmas(sigmas: float | Sequence[float] | torch.Tensor | None, X: torch.Tensor,
               Y: torch.Tensor) -> torch.Tensor:
    if sigmas is None:
        base = _median_bandwidth(X, Y)
        return base * torch.tensor(DEFAULT_BANDWIDTH_FACTORS, dtype=X.dtype, device=X.device)
    s = torch.as_tensor(sigmas, dtype=X.dtype).to(X.device).reshape(-1).detach()
    if s.numel() == 0:
        raise ValueError("sigmas is empty; pass at least one bandwidth or None for the default.")
    check_positive(s, "sigmas", advice="Every bandwidth must be positive and finite.")
    return s


def gaussian_kernel(X: torch.Tensor, Y: torch.Tensor,
                    sigmas: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """The Gaussian-mixture kernel matrix :math:`K_{ij} = \\frac1K\\sum_u e^{-\\lVert x_i-y_j\\rVert^2/(2\\sigma_u^2)}`.

    Args:
        X: shape (m, d).
        Y: shape (n, d).
        sigmas: one bandwidth or a sequence of them (all > 0).

    Returns:
        Shape (m, n), differentiable in ``X`` and ``Y``.
    """
    _check_pair(X, Y)
    return _gaussian_kernel(X, Y, _as_sigmas(sigmas, X, Y))


def _gaussian_kernel(X: torch.Tensor, Y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    D = sq_dists(X, Y)
    return torch.exp(-D.unsqueeze(0) / (2.0 * s.view(-1, 1, 1) ** 2)).mean(0)


def mmd2(
    X: torch.Tensor,
    Y: torch.Tensor,
    sigmas: float | Sequence[float] | torch.Tensor | None = None,
    unbiased: bool = False,
) -> torch.Tensor:
    """Squared MMD between samples ``X`` and ``Y`` with a Gaussian-mixture kernel (see module doc).

    Args:
        X: source sample, shape (m, d), floating point.
        Y: target sample, shape (n, d), same ``d``, dtype and device.
        sigmas: kernel bandwidths; None spreads five bandwidths (x0.25 ... x4) around the median
            pairwise distance of the pooled sample (Gretton et al. 2012; Long et al. 2015).
        unbiased: the U-statistic (diagonals left out; needs m, n >= 2; can be slightly negative)
            instead of the biased V-statistic (always >= 0, exactly 0 when ``X`` equals ``Y``).

    Returns:
        A scalar tensor, differentiable with respect to ``X`` and ``Y``.

    Raises:
        ValueError: not 2-D, different feature sizes, empty samples, NaN or inf, different
            devices, or a non-positive bandwidth. TypeError: different dtypes.
    """
    _check_pair(X, Y, min_rows=2 if unbiased else 1)
    s = _as_sigmas(sigmas, X, Y)
    Kxx = _gaussian_kernel(X, X, s)
    Kyy = _gaussian_kernel(Y, Y, s)
    Kxy = _gaussian_kernel(X, Y, s)
    m, n = X.shape[0], Y.shape[0]
    if unbiased:
        kxx = (Kxx.sum() - Kxx.diagonal().sum()) / (m * (m - 1))
        kyy = (Kyy.sum() - Kyy.diagonal().sum()) / (n * (n - 1))
    else:
        kxx, kyy = Kxx.mean(), Kyy.mean()
    return kxx + kyy - 2.0 * Kxy.mean()


class MMDLoss(AdaptationLoss):
    """Multi-kernel MMD as a domain-adaptation loss, :math:`\\mathcal{L} = \\widehat{\\mathrm{MMD}}^2(f_s, f_t)`.

    DAN (Long et al. 2015) adds this term, weighted by a trade-off :math:`\\lambda`, to the source
    classification loss so that the features of the two domains are pulled together.

    Args:
        sigmas: bandwidths, or None for the median-heuristic mixture (recomputed every batch).
        unbiased: use the unbiased estimate.

    Inputs: ``f_src`` (m, d) and ``f_tgt`` (n, d) features of a source and a target batch.
    Output: a scalar tensor.
    """

    def __init__(self, sigmas: float | Sequence[float] | None = None, unbiased: bool = False) -> None:
        super().__init__()
        self.sigmas = None if sigmas is None else tuple(float(s) for s in torch.as_tensor(sigmas).reshape(-1))
        if self.sigmas is not None:
            if len(self.sigmas) == 0:
                raise ValueError("sigmas is empty; pass at least one bandwidth or None for the default.")
            for s in self.sigmas:
                check_positive(s, "sigmas")
        self.unbiased = bool(unbiased)

    def forward(self, f_src: torch.Tensor, f_tgt: torch.Tensor) -> torch.Tensor:
        return mmd2(f_src, f_tgt, self.sigmas, self.unbiased)

    def extra_repr(self) -> str:
        return f"sigmas={self.sigmas}, unbiased={self.unbiased}"
