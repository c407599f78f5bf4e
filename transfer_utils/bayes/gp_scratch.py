"""Gaussian-process regression from scratch: kernel, Cholesky posterior, log marginal likelihood.

A teaching implementation in plain torch (float64 recommended), checked against GPyTorch's exact GP
in ``tests/test_gp_scratch.py``. The model is

.. math:: f \\sim \\mathcal{GP}(m, k), \\quad y_i = f(x_i) + \\varepsilon_i,\\;
          \\varepsilon_i \\sim \\mathcal{N}(0, \\sigma_n^2),\\quad
          k(x, x') = \\sigma_f^2 \\exp\\!\\Big(-\\tfrac{\\lVert x - x'\\rVert^2}{2\\ell^2}\\Big),

with a constant prior mean :math:`m`. With :math:`K_y = K + \\sigma_n^2 I = LL^\\top` and
:math:`\\alpha = K_y^{-1}(y - m)` (Rasmussen and Williams 2006, Algorithm 2.1):

.. math:: \\mu_* = m + K_{*n}\\alpha, \\qquad
          \\Sigma_* = K_{**} - V^\\top V,\\; V = L^{-1} K_{n*},

.. math:: \\log p(y \\mid X) = -\\tfrac12 (y-m)^\\top \\alpha - \\sum_i \\log L_{ii}
          - \\tfrac{n}{2}\\log 2\\pi .

The hyperparameters are fitted by :func:`transfer_utils.bayes.gp_fit.fit_hyperparameters`.
Introduced in notebook 09.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from transfer_utils.core.distances import sq_dists
from transfer_utils.core.validation import (check_finite, check_int, check_number, check_positive,
                                            check_same_dtype, check_tensor)

__all__ = [
    "GPHyperparameters",
    "rbf_kernel",
    "safe_cholesky",
    "gp_posterior",
    "log_marginal_likelihood",
    "lml_gradient_analytic",
]


@dataclass
class GPHyperparameters:
    """RBF-kernel GP hyperparameters (all positive except ``mean``).

    Attributes:
        lengthscale: :math:`\\ell`.
        outputscale: the signal variance :math:`\\sigma_f^2`.
        noise: the noise variance :math:`\\sigma_n^2`.
        mean: the constant prior mean :math:`m`.
    """

    lengthscale: float = 1.0
    outputscale: float = 1.0
    noise: float = 0.1
    mean: float = 0.0

    def __post_init__(self) -> None:
        for name in ("lengthscale", "outputscale", "noise"):
            check_positive(getattr(self, name), f"GPHyperparameters.{name}")
        check_number(self.mean, "GPHyperparameters.mean")


def _as_2d(X: torch.Tensor, name: str) -> torch.Tensor:
    """``X`` as (n, d) after checking it is a finite floating-point tensor of shape (n, d) or (n,)."""
    check_tensor(X, name)
    if X.ndim == 1:
        X = X.unsqueeze(-1)
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d) or (n,), got {tuple(X.shape)}.")
    if not X.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (float64 recommended), got {X.dtype}.")
    check_finite(X, name)
    return X


def _check_hyper(lengthscale: object, outputscale: object, noise: object = None) -> None:
    advice = "Pass positive hyperparameters (optimise their logarithms to keep them positive)."
    check_positive(lengthscale, "lengthscale", advice=advice)
    check_positive(outputscale, "outputscale", advice=advice)
    if noise is not None:
        check_positive(noise, "noise", advice=advice)


def rbf_kernel(
    X1: torch.Tensor,
    X2: torch.Tensor,
    lengthscale: float | torch.Tensor = 1.0,
    outputscale: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    """The squared-exponential (RBF) kernel matrix.

    .. math:: K_{ij} = \\sigma_f^2 \\exp\\!\\big(-\\lVert x_i - x'_j\\rVert^2 / (2\\ell^2)\\big)

    Args:
        X1: inputs, shape (n, d) or (n,).
        X2: inputs, shape (m, d) or (m,); same ``d`` as ``X1``.
        lengthscale: :math:`\\ell` (a scalar, or a tensor of shape (d,) for one per input dimension).
        outputscale: :math:`\\sigma_f^2`.

    Returns:
        The (n, m) kernel matrix.

    Raises:
        ValueError: mismatched input dimensions, NaN or inf inputs, or a lengthscale or outputscale
            that is not positive and finite. TypeError: inputs of different dtypes.
    """
    X1, X2 = _as_2d(X1, "X1"), _as_2d(X2, "X2")
    if X1.shape[1] != X2.shape[1]:
        raise ValueError(
            f"Input dimensions differ: X1 has d={X1.shape[1]}, X2 has d={X2.shape[1]}; "
            "both must have the same number of columns."
        )
    check_same_dtype((X1, X2), ("X1", "X2"))
    _check_hyper(lengthscale, outputscale)
    return _rbf(X1, X2, lengthscale, outputscale)


def _rbf(X1: torch.Tensor, X2: torch.Tensor, lengthscale: float | torch.Tensor,
         outputscale: float | torch.Tensor) -> torch.Tensor:
    return outputscale * torch.exp(-0.5 * sq_dists(X1 / lengthscale, X2 / lengthscale))


def safe_cholesky(K: torch.Tensor, jitter: float = 0.0, max_tries: int = 3) -> torch.Tensor:
    """Cholesky factor of a symmetric matrix, adding growing diagonal jitter if it fails.

    Tries ``K + jitter * I`` first (``jitter=0`` means exactly ``K``), then jitter 1e-8, 1e-7, ...
    scaled by the mean diagonal, up to ``max_tries`` extra attempts.

    Raises:
        ValueError: ``K`` is not square, or it stays non-positive-definite after the jitter.
    """
    check_tensor(K, "K")
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"Cholesky needs a square matrix, got shape {tuple(K.shape)}.")
    check_finite(K, "K", advice="check the inputs and hyperparameters that built it")
    check_positive(jitter, "jitter", allow_zero=True)
    check_int(max_tries, "max_tries", minimum=0)
    eye = torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
    scale = float(K.detach().diagonal().abs().mean().clamp_min(1e-12))
    jitters = [jitter] + [float(scale) * 10.0 ** (-8 + i) for i in range(max_tries)]
    for j in jitters:
        L, info = torch.linalg.cholesky_ex(K + j * eye)
        if int(info) == 0 and torch.isfinite(L).all():
            return L
    raise ValueError(
        f"Kernel matrix of size {K.shape[0]} is not positive definite even with diagonal jitter "
        f"up to {jitters[-1]:.1e}. Check for NaN inputs, duplicate points with zero noise, or a "
        "negative noise/outputscale; increase the noise variance or use float64."
    )


def _check_xy(X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    X = _as_2d(X, "X")
    if not isinstance(y, torch.Tensor) or y.ndim != 1:
        raise ValueError(f"y must be a 1-D tensor, got {getattr(y, 'shape', type(y))}.")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} entries.")
    if X.shape[0] == 0:
        raise ValueError("Empty training data: need at least one point.")
    check_same_dtype((X, y), ("X", "y"))
    check_finite(y, "y")
    return X, y


def gp_posterior(
    X: torch.Tensor,
    y: torch.Tensor,
    X_star: torch.Tensor,
    hp: GPHyperparameters,
    *,
    include_noise: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and covariance of :math:`f(X_*)` given noisy observations ``y`` at ``X``.

    Args:
        X: training inputs, shape (n, d) or (n,).
        y: training targets, shape (n,).
        X_star: test inputs, shape (m, d) or (m,).
        hp: the hyperparameters.
        include_noise: add :math:`\\sigma_n^2 I` (the predictive distribution of a new ``y``).

    Returns:
        ``(mean, cov)`` of shapes (m,) and (m, m).
    """
    X, y = _check_xy(X, y)
    X_star = _as_2d(X_star, "X_star")
    if X_star.shape[1] != X.shape[1]:
        raise ValueError(f"Input dimensions differ: X has d={X.shape[1]}, X_star has d={X_star.shape[1]}.")
    check_same_dtype((X, X_star), ("X", "X_star"))
    K = _rbf(X, X, hp.lengthscale, hp.outputscale)
    K_y = K + hp.noise * torch.eye(len(X), dtype=K.dtype, device=K.device)
    L = safe_cholesky(K_y)
    K_sn = _rbf(X_star, X, hp.lengthscale, hp.outputscale)
    alpha = torch.cholesky_solve((y - hp.mean).unsqueeze(-1), L).squeeze(-1)
    mean = hp.mean + K_sn @ alpha
    V = torch.linalg.solve_triangular(L, K_sn.T, upper=False)
    cov = _rbf(X_star, X_star, hp.lengthscale, hp.outputscale) - V.T @ V
    if include_noise:
        cov = cov + hp.noise * torch.eye(len(X_star), dtype=cov.dtype, device=cov.device)
    return mean, cov


def log_marginal_likelihood(
    X: torch.Tensor,
    y: torch.Tensor,
    lengthscale: float | torch.Tensor,
    outputscale: float | torch.Tensor,
    noise: float | torch.Tensor,
    mean: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """The exact log marginal likelihood :math:`\\log p(y \\mid X, \\theta)` (differentiable).

    .. math:: \\log p(y\\mid X) = -\\tfrac12 (y-m)^\\top K_y^{-1}(y-m) - \\tfrac12\\log\\lvert K_y\\rvert
              - \\tfrac{n}{2}\\log 2\\pi,\\qquad K_y = K + \\sigma_n^2 I.

    Hyperparameters may be tensors with ``requires_grad=True``; autograd then gives the gradient.

    Returns:
        A scalar tensor (the sum over the ``n`` points, not the mean).

    Raises:
        ValueError: bad shapes, NaN or inf data, or a lengthscale, outputscale or noise that is not
            positive and finite (or a non-finite mean).
    """
    X, y = _check_xy(X, y)
    _check_hyper(lengthscale, outputscale, noise)
    check_number(mean, "mean")
    K = _rbf(X, X, lengthscale, outputscale)
    K_y = K + noise * torch.eye(len(X), dtype=K.dtype, device=K.device)
    L = safe_cholesky(K_y)
    r = (y - mean).unsqueeze(-1)
    alpha = torch.cholesky_solve(r, L)
    n = len(X)
    return (-0.5 * (r * alpha).sum() - torch.log(torch.diagonal(L)).sum()
            - 0.5 * n * math.log(2 * math.pi))


def lml_gradient_analytic(X: torch.Tensor, y: torch.Tensor, hp: GPHyperparameters) -> dict[str, torch.Tensor]:
    """The analytic gradient of the log marginal likelihood (scalar lengthscale).

    .. math:: \\frac{\\partial \\log p}{\\partial \\theta_j}
              = \\tfrac12 \\operatorname{tr}\\!\\big((\\alpha\\alpha^\\top - K_y^{-1})
              \\tfrac{\\partial K_y}{\\partial \\theta_j}\\big),

    with :math:`\\partial K_y/\\partial\\ell = K \\odot D/\\ell^3` (:math:`D_{ij}=\\lVert x_i-x_j\\rVert^2`),
    :math:`\\partial K_y/\\partial\\sigma_f^2 = K/\\sigma_f^2`, :math:`\\partial K_y/\\partial\\sigma_n^2 = I`
    and :math:`\\partial\\log p/\\partial m = \\mathbf 1^\\top\\alpha`
    (Rasmussen and Williams 2006, eq. 5.9).

    Returns:
        ``{"lengthscale", "outputscale", "noise", "mean"}`` -> scalar tensors.
    """
    X, y = _check_xy(X, y)
    n = len(X)
    K = _rbf(X, X, hp.lengthscale, hp.outputscale)
    eye = torch.eye(n, dtype=K.dtype, device=K.device)
    L = safe_cholesky(K + hp.noise * eye)
    alpha = torch.cholesky_solve((y - hp.mean).unsqueeze(-1), L)
    K_inv = torch.cholesky_solve(eye, L)
    W = alpha @ alpha.T - K_inv
    D = sq_dists(X, X)
    dK = {
        "lengthscale": K * D / hp.lengthscale**3,
        "outputscale": K / hp.outputscale,
        "noise": eye,
    }
    grads = {name: 0.5 * (W * d).sum() for name, d in dK.items()}  # tr(W dK) for symmetric dK
    grads["mean"] = alpha.sum()
    return grads
