"""Metrics for predictive uncertainty: RMSE, NLPD, interval coverage, calibration (ECE).

Regression metrics take a Gaussian predictive :math:`\\mathcal N(\\mu_i, s_i^2)` per test point;
classification metrics take predicted probabilities. Introduced in notebooks 09 and 10.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from transfer_utils.core.validation import (check_binary_labels, check_class_labels, check_finite, check_int,
                                            check_tensor)

__all__ = [
    "rmse",
    "gaussian_nlpd",
    "interval_coverage",
    "bernoulli_nll",
    "ReliabilityCurve",
    "reliability_curve",
    "expected_calibration_error",
]


def _check_same(*tensors: torch.Tensor, names: tuple[str, ...]) -> None:
    for t, name in zip(tensors, names):
        check_tensor(t, name)
    shapes = [tuple(t.shape) for t in tensors]
    if len(set(shapes)) != 1 or tensors[0].ndim != 1:
        raise ValueError(f"{', '.join(names)} must be 1-D of one length; got shapes {shapes}.")
    if tensors[0].numel() == 0:
        raise ValueError("Empty input: need at least one test point.")
    for t, name in zip(tensors, names):
        check_finite(t, name, advice="a metric of a NaN prediction is NaN: find where it came from")


def rmse(y: torch.Tensor, mean: torch.Tensor) -> float:
    """Root-mean-square error :math:`\\sqrt{\\tfrac1n\\sum_i (y_i - \\mu_i)^2}`."""
    _check_same(y, mean, names=("y", "mean"))
    return float(torch.sqrt(((y - mean) ** 2).mean()))


def gaussian_nlpd(y: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> float:
    """Mean negative log predictive density under :math:`\\mathcal N(\\mu_i, s_i^2)`:

    .. math:: \\mathrm{NLPD} = \\tfrac1n\\sum_i \\Big[\\tfrac12\\log(2\\pi s_i^2) + \\frac{(y_i-\\mu_i)^2}{2 s_i^2}\\Big]

    Raises:
        ValueError: a non-positive variance.
    """
    _check_same(y, mean, var, names=("y", "mean", "var"))
    if (var <= 0).any():
        raise ValueError("Predictive variances must be positive (did you pass a standard deviation of 0?).")
    return float((0.5 * torch.log(2 * math.pi * var) + (y - mean) ** 2 / (2 * var)).mean())


def interval_coverage(y: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, level: float = 0.95) -> float:
    """Fraction of ``y`` inside the central ``level`` interval :math:`\\mu_i \\pm z\\,s_i`,
    :math:`z = \\Phi^{-1}((1+\\text{level})/2)` (1.96 for 95%). A calibrated model gives about ``level``."""
    _check_same(y, mean, var, names=("y", "mean", "var"))
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}.")
    z = math.sqrt(2) * torch.erfinv(torch.tensor((1 + level) / 2, dtype=torch.float64) * 2 - 1).item()
    return float(((y - mean).abs() <= z * var.clamp_min(0).sqrt()).to(torch.float64).mean())


def _as_probs(probs: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(confidence, predicted class, correct) from binary p(y=1) (n,) or class probabilities (n, K)."""
    check_tensor(probs, "probs")
    check_tensor(y, "y")
    if probs.ndim == 1:
        if probs.shape != y.shape:
            raise ValueError(f"probs {tuple(probs.shape)} and y {tuple(y.shape)} must match.")
        pred = (probs >= 0.5).long()
        conf = torch.where(pred == 1, probs, 1 - probs)
    elif probs.ndim == 2:
        if probs.shape[0] != y.shape[0] or y.ndim != 1:
            raise ValueError(f"probs {tuple(probs.shape)} needs labels of shape ({probs.shape[0]},), got {tuple(y.shape)}.")
        conf, pred = probs.max(dim=1)
    else:
        raise ValueError(f"probs must be (n,) binary or (n, K), got {tuple(probs.shape)}.")
    if len(y) == 0:
        raise ValueError("Empty input: need at least one prediction.")
    check_finite(probs, "probs", advice="NaN predictions have no calibration: find where they came from")
    if (probs < 0).any() or (probs > 1).any():
        raise ValueError("probs must lie in [0, 1] (pass probabilities, not logits).")
    if probs.ndim == 1:
        check_binary_labels(y)
    else:
        check_class_labels(y, "y", probs.shape[1])
    return conf.to(torch.float64), pred, (pred == y.long()).to(torch.float64)


def bernoulli_nll(probs: torch.Tensor, y: torch.Tensor, eps: float = 1e-12) -> float:
    """Mean negative log likelihood :math:`-\\tfrac1n\\sum_i [y_i\\log p_i + (1-y_i)\\log(1-p_i)]`.

    Raises:
        ValueError: shapes that differ, NaN or inf, ``probs`` outside [0, 1] or labels other than 0/1.
    """
    _check_same(probs, y, names=("probs", "y"))
    check_binary_labels(y)
    if (probs < 0).any() or (probs > 1).any():
        raise ValueError("probs must lie in [0, 1] (pass probabilities, not logits).")
    p = probs.to(torch.float64).clamp(eps, 1 - eps)
    y = y.to(torch.float64)
    return float(-(y * torch.log(p) + (1 - y) * torch.log1p(-p)).mean())


class ReliabilityCurve(NamedTuple):
    """Per-bin mean confidence, accuracy and count (bins with no point have NaN)."""

    edges: torch.Tensor
    confidence: torch.Tensor
    accuracy: torch.Tensor
    count: torch.Tensor


def reliability_curve(probs: torch.Tensor, y: torch.Tensor, n_bins: int = 10) -> ReliabilityCurve:
    """Bin predictions by confidence (the probability of the predicted class) into ``n_bins``
    equal-width bins on [0, 1] and return each bin's mean confidence and accuracy.

    Raises:
        ValueError: ``n_bins < 1``, bad shapes, NaN or inf, or probabilities outside [0, 1].
    """
    check_int(n_bins, "n_bins", minimum=1)
    conf, _, correct = _as_probs(probs, y)
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    idx = torch.bucketize(conf, edges[1:-1], right=False)
    count = torch.bincount(idx, minlength=n_bins).to(torch.float64)
    conf_sum = torch.bincount(idx, weights=conf, minlength=n_bins)
    acc_sum = torch.bincount(idx, weights=correct, minlength=n_bins)
    nan = torch.full_like(count, float("nan"))
    return ReliabilityCurve(
        edges,
        torch.where(count > 0, conf_sum / count.clamp_min(1), nan),
        torch.where(count > 0, acc_sum / count.clamp_min(1), nan),
        count,
    )


def expected_calibration_error(probs: torch.Tensor, y: torch.Tensor, n_bins: int = 10) -> float:
    """Expected calibration error (Naeini, Cooper and Hauskrecht, AAAI 2015; Guo et al., ICML 2017):

    .. math:: \\mathrm{ECE} = \\sum_b \\frac{n_b}{n}\\,\\big\\lvert \\mathrm{acc}_b - \\mathrm{conf}_b \\big\\rvert

    over equal-width confidence bins. Binary ``probs`` (n,) are p(y=1); (n, K) are class probabilities.
    """
    curve = reliability_curve(probs, y, n_bins)
    mask = curve.count > 0
    gap = (curve.accuracy[mask] - curve.confidence[mask]).abs()
    return float((curve.count[mask] / curve.count.sum() * gap).sum())
