"""Bayesian logistic regression by the Laplace approximation, with a source posterior as prior.

Model: :math:`p(y_i = 1 \\mid x_i, w) = \\sigma(w^\\top x_i)`, prior :math:`w \\sim \\mathcal N(m_0, P_0^{-1})`.
The negative log posterior (up to a constant) and its derivatives are

.. math:: E(w) = -\\sum_i \\big[y_i\\log\\sigma_i + (1-y_i)\\log(1-\\sigma_i)\\big]
          + \\tfrac12 (w-m_0)^\\top P_0 (w-m_0),

.. math:: \\nabla E = X^\\top(\\sigma - y) + P_0(w - m_0), \\qquad
          H = \\nabla^2 E = X^\\top \\operatorname{diag}(\\sigma_i(1-\\sigma_i)) X + P_0 .

Newton's method :math:`w \\leftarrow w - H^{-1}\\nabla E` (:func:`transfer_utils.calculus.irls.logistic_irls`)
finds the mode :math:`\\hat w`; the Laplace
approximation is :math:`p(w \\mid \\mathcal D) \\approx \\mathcal N(\\hat w, H(\\hat w)^{-1})`
(MacKay 1992; Bishop 2006, section 4.5). The posterior of a source task, possibly widened, is the
prior of a target task (:meth:`LaplacePosterior.as_prior`). Introduced in notebook 10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from transfer_utils.calculus.landscapes import logistic_loss
from transfer_utils.calculus.irls import logistic_irls
from transfer_utils.calculus.newton import SingularHessianError
from transfer_utils.core.device import resolve_device
from transfer_utils.core.validation import (check_binary_labels, check_features, check_finite, check_int,
                                            check_positive, check_same_dtype, check_tensor)

__all__ = [
    "GaussianPrior",
    "LaplacePosterior",
    "neg_log_posterior",
    "fit_laplace_logistic",
    "predictive_proba",
]


@dataclass
class GaussianPrior:
    """A Gaussian prior :math:`\\mathcal N(m_0, P_0^{-1})` given by its mean (D,) and precision (D, D).

    Raises:
        ValueError: shapes that do not match, NaN or inf, or a precision that is not symmetric.
    """

    mean: torch.Tensor
    precision: torch.Tensor

    def __post_init__(self) -> None:
        check_tensor(self.mean, "mean")
        check_tensor(self.precision, "precision")
        D = self.mean.shape[0] if self.mean.ndim == 1 else -1
        if self.mean.ndim != 1 or self.precision.shape != (D, D):
            raise ValueError(f"A prior needs mean (D,) and precision (D, D), got {tuple(self.mean.shape)} "
                             f"and {tuple(self.precision.shape)}.")
        check_same_dtype((self.mean, self.precision), ("mean", "precision"))
        check_finite(self.mean, "mean")
        check_finite(self.precision, "precision")
        if not torch.allclose(self.precision, self.precision.T):
            raise ValueError("precision must be a symmetric matrix; symmetrise it with (P + P.T) / 2.")

    @classmethod
    def isotropic(cls, dim: int, precision: float = 1.0, *, dtype: torch.dtype = torch.float64,
                  device: torch.device | str | None = None) -> "GaussianPrior":
        """:math:`\\mathcal N(0, \\alpha^{-1} I)`; ``precision=0`` is the flat (improper) prior."""
        check_int(dim, "dim", minimum=1)
        check_positive(precision, "precision", allow_zero=True,
                       advice="0 is the flat (improper) prior.")
        device = None if device is None else resolve_device(device)
        return cls(torch.zeros(dim, dtype=dtype, device=device),
                   precision * torch.eye(dim, dtype=dtype, device=device))


@dataclass
class LaplacePosterior:
    """The Laplace approximation :math:`\\mathcal N(\\hat w, H^{-1})`.

    Attributes:
        mean: the mode :math:`\\hat w`, shape (D,).
        precision: the Hessian of the negative log posterior at the mode, shape (D, D).
        num_iters: Newton iterations used.
        log_evidence: the Laplace estimate of :math:`\\log p(y \\mid X)` (``nan`` for a flat prior).
    """

    mean: torch.Tensor
    precision: torch.Tensor
    num_iters: int
    log_evidence: float

    @property
    def covariance(self) -> torch.Tensor:
        """:math:`H^{-1}` (by Cholesky)."""
        return torch.cholesky_inverse(torch.linalg.cholesky(self.precision))

    def as_prior(self, inflate: float = 1.0) -> GaussianPrior:
        """This posterior as a prior for a new task, covariance widened by ``inflate`` >= 1:
        :math:`\\mathcal N(\\hat w, \\text{inflate}\\cdot H^{-1})` (a larger value trusts the source less)."""
        check_positive(inflate, "inflate")
        return GaussianPrior(self.mean.clone(), self.precision / inflate)


def _check_xy(X: torch.Tensor, y: torch.Tensor, prior: GaussianPrior) -> torch.Tensor:
    if not isinstance(X, torch.Tensor) or X.ndim != 2:
        raise ValueError(f"X must be a 2-D tensor (n, D), got {getattr(X, 'shape', type(X))}.")
    check_tensor(y, "y")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels.")
    check_features(X, "X")
    if not isinstance(prior, GaussianPrior):
        raise TypeError(f"prior must be a GaussianPrior, got {type(prior).__name__}.")
    check_same_dtype((X, prior.mean), ("X", "the prior's mean"))
    D = X.shape[1]
    if prior.mean.shape != (D,) or prior.precision.shape != (D, D):
        raise ValueError(
            f"Prior has mean {tuple(prior.mean.shape)} and precision {tuple(prior.precision.shape)}, "
            f"but X has D={D} features; the source and target must share one feature space."
        )
    return check_binary_labels(y).to(X.dtype)


def neg_log_posterior(w: torch.Tensor, X: torch.Tensor, y: torch.Tensor, prior: GaussianPrior) -> torch.Tensor:
    """:math:`E(w)`, the negative log posterior up to a constant (differentiable): the summed
    logistic loss of :func:`transfer_utils.calculus.landscapes.logistic_loss` plus the prior's quadratic."""
    r = w - prior.mean
    return logistic_loss(w, X, y, reduction="sum") + 0.5 * r @ prior.precision @ r


def fit_laplace_logistic(
    X: torch.Tensor,
    y: torch.Tensor,
    prior: GaussianPrior,
    *,
    max_iters: int = 100,
    tol: float = 1e-10,
    init: torch.Tensor | None = None,
) -> LaplacePosterior:
    """Newton's method to the posterior mode, then the Hessian as the posterior precision.

    The mode minimises :math:`E(w)/n`, the mean logistic loss plus the penalty
    :math:`\\tfrac12 (w-m_0)^\\top (P_0/n)(w-m_0)`: that is
    :func:`transfer_utils.calculus.irls.logistic_irls` with ``center`` :math:`m_0` and ``precision``
    :math:`P_0/n`, run with its backtracking line search (a damped Newton method, so it cannot
    overshoot) from the prior mean. The precision is :math:`H = n\\,\\nabla^2(E/n)` at the mode.

    Args:
        X: features (n, D); append a column of ones for a bias.
        y: labels in {0, 1}, shape (n,).
        prior: :class:`GaussianPrior` (e.g. :meth:`GaussianPrior.isotropic` or a source's
            :meth:`LaplacePosterior.as_prior`).
        tol: stop when :math:`\\lVert\\nabla E\\rVert \\le` ``tol`` (or when Newton can no
            longer lower it in floating point).

    Raises:
        ValueError: bad labels or shapes, NaN or inf in ``X``.
        TypeError: ``X`` and the prior of different dtypes.
        RuntimeError: no mode (a flat prior on linearly separable data sends :math:`\\lVert w\\rVert \\to \\infty`).
    """
    y = _check_xy(X, y, prior)
    check_int(max_iters, "max_iters", minimum=0)
    check_positive(tol, "tol", allow_zero=True)
    n, D = X.shape
    w0 = prior.mean if init is None else init
    try:
        res = logistic_irls(X, y, center=prior.mean, precision=prior.precision / n, init=w0,
                            line_search=True, max_iter=max_iters, tol=tol / n)
    except SingularHessianError as err:
        raise RuntimeError(
            "The Hessian is singular: with a flat (or too weak) prior and n < D or separable "
            "data the posterior has no mode. Use a proper prior (precision > 0)."
        ) from err
    w = res.x
    if not torch.isfinite(w).all() or float(w.abs().max()) > 1e6:
        raise RuntimeError(
            "Newton's iterates diverge (|w| > 1e6): the data are linearly separable and the "
            "prior is flat, so the likelihood has no maximum. Use a proper Gaussian prior."
        )
    proper = bool(torch.linalg.matrix_rank(prior.precision) == D)
    if not proper and bool((((2 * y - 1) * (X @ w)) > 0).all()):
        raise RuntimeError(
            "The data are linearly separable and the prior is flat, so the likelihood has no "
            "maximum (|w| grows without bound). Use a proper Gaussian prior (precision > 0)."
        )
    s = torch.sigmoid(X @ w)
    H = X.T @ (X * (s * (1 - s)).unsqueeze(-1)) + prior.precision
    log_evidence = float("nan")
    if proper:
        # log p(y) ~ -E(w) + 1/2 log|P0| - 1/2 log|H|  (the Gaussian normalisers)
        energy = neg_log_posterior(w, X, y, prior)
        log_evidence = float(-energy + 0.5 * torch.logdet(prior.precision) - 0.5 * torch.logdet(H))
    return LaplacePosterior(mean=w, precision=H, num_iters=res.n_iter, log_evidence=log_evidence)


def predictive_proba(posterior: LaplacePosterior, X: torch.Tensor, *, method: str = "probit") -> torch.Tensor:
    """:math:`p(y=1\\mid x, \\mathcal D)` under the Laplace posterior.

    ``"probit"`` (MacKay 1992): :math:`\\sigma\\big(\\mu_a/\\sqrt{1+\\pi s_a^2/8}\\big)` with
    :math:`\\mu_a = x^\\top\\hat w,\\ s_a^2 = x^\\top H^{-1}x`; ``"map"``: the plug-in :math:`\\sigma(x^\\top\\hat w)`.

    Returns:
        Probabilities, shape (m,).
    """
    check_tensor(X, "X")
    if X.ndim != 2 or X.shape[1] != posterior.mean.shape[0]:
        raise ValueError(f"X must have shape (m, {posterior.mean.shape[0]}), got {tuple(X.shape)}.")
    check_same_dtype((posterior.mean, X), ("the posterior's mean", "X"))
    check_finite(X, "X")
    mu = X @ posterior.mean
    if method == "map":
        return torch.sigmoid(mu)
    if method != "probit":
        raise ValueError(f"Unknown method {method!r}; use 'probit' or 'map'.")
    L = torch.linalg.cholesky(posterior.precision)
    V = torch.linalg.solve_triangular(L, X.T, upper=False)  # s_a^2 = |L^{-1} x|^2
    var = (V * V).sum(0)
    return torch.sigmoid(mu / torch.sqrt(1 + math.pi * var / 8))
