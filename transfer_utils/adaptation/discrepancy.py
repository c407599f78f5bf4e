"""How different are two domains? The proxy A-distance from a domain classifier.

Ben-David et al. bound the target error of a classifier by its source error plus a divergence
between the two input distributions, the :math:`\\mathcal{H}`-divergence. Its empirical stand-in,
the proxy A-distance, asks how well a classifier can tell the domains apart: train a linear
*domain* classifier to separate source samples (label 0) from target samples (label 1) on half of
the pooled data, measure its error :math:`\\epsilon` on the other half, and report

.. math:: \\hat d_{\\mathcal{A}} = 2\\,(1 - 2\\epsilon).

Two domains that cannot be told apart give :math:`\\epsilon \\approx 1/2` and
:math:`\\hat d_{\\mathcal{A}} \\approx 0` (a small negative value is sampling noise); domains that
are perfectly separable give :math:`\\epsilon = 0` and :math:`\\hat d_{\\mathcal{A}} = 2`.
The kernel discrepancy MMD lives in :mod:`transfer_utils.adaptation.mmd`. Introduced in notebook 04.

References:
    S. Ben-David, J. Blitzer, K. Crammer, F. Pereira. Analysis of representations for domain
    adaptation. NeurIPS 2007.
    S. Ben-David, J. Blitzer, K. Crammer, A. Kulesza, F. Pereira, J. W. Vaughan. A theory of
    learning from different domains. Machine Learning 79, 2010.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from transfer_utils.core.validation import check_int, check_positive

__all__ = ["domain_classifier_error", "proxy_a_distance"]

ArrayLike = torch.Tensor | np.ndarray


def _as_matrix(F: ArrayLike, name: str) -> np.ndarray:
    if isinstance(F, torch.Tensor):
        F = F.detach().cpu().numpy()
    F = np.asarray(F, dtype=np.float64)
    if F.ndim < 2:
        raise ValueError(f"{name} must have one row per sample, shape (n, d); got shape {F.shape}.")
    F = F.reshape(F.shape[0], -1)
    if F.shape[0] < 4:
        raise ValueError(f"{name} has {F.shape[0]} samples; the proxy A-distance needs at least 4.")
    if not np.isfinite(F).all():
        raise ValueError(f"{name} contains NaN or inf.")
    return F


def domain_classifier_error(F_src: ArrayLike, F_tgt: ArrayLike, *, seed: int = 0, C: float = 1.0) -> float:
    """Held-out error :math:`\\epsilon` of a linear classifier that tells source from target.

    Both domains are first subsampled to the same size :math:`n = \\min(n_S, n_T)` (so chance
    level is exactly 1/2), each is split in halves, a standardised L2-regularised logistic
    regression (inverse strength ``C``) is fitted on the first halves and its error is measured
    on the second halves.

    Args:
        F_src: source samples ``(n_S, d)`` (more dimensions are flattened); tensor or array.
        F_tgt: target samples ``(n_T, d)``, same ``d``.
        seed: the subsampling and the split.
        C: inverse L2 strength of the logistic regression.

    Returns:
        :math:`\\epsilon \\in [0, 1]`.
    """
    Xs, Xt = _as_matrix(F_src, "F_src"), _as_matrix(F_tgt, "F_tgt")
    if Xs.shape[1] != Xt.shape[1]:
        raise ValueError(f"F_src and F_tgt must have the same feature dimension, got {Xs.shape[1]} "
                         f"and {Xt.shape[1]}.")
    check_positive(C, "C")
    check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    n = min(len(Xs), len(Xt))
    Xs = Xs[rng.permutation(len(Xs))[:n]]
    Xt = Xt[rng.permutation(len(Xt))[:n]]
    half = n // 2
    X_train = np.concatenate([Xs[:half], Xt[:half]])
    d_train = np.concatenate([np.zeros(half), np.ones(half)])
    X_test = np.concatenate([Xs[half:], Xt[half:]])
    d_test = np.concatenate([np.zeros(n - half), np.ones(n - half)])
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
    clf.fit(X_train, d_train)
    return float(np.mean(clf.predict(X_test) != d_test))


def proxy_a_distance(F_src: ArrayLike, F_tgt: ArrayLike, *, seed: int = 0, C: float = 1.0) -> float:
    """The proxy A-distance :math:`\\hat d_{\\mathcal{A}} = 2(1 - 2\\epsilon)` between two samples.

    :math:`\\epsilon` is the held-out error of a linear domain classifier
    (:func:`domain_classifier_error`; Ben-David et al., NeurIPS 2007 and Machine Learning 2010).

    Args:
        F_src: source features ``(n_S, d)``; tensor or array (more dimensions are flattened).
        F_tgt: target features ``(n_T, d)``.
        seed: the subsampling and the split.
        C: inverse L2 strength of the domain classifier.

    Returns:
        A float in ``[-2, 2]``; about 0 for indistinguishable domains, 2 for separable ones.
    """
    eps = domain_classifier_error(F_src, F_tgt, seed=seed, C=C)
    return 2.0 * (1.0 - 2.0 * eps)
