"""Adversarial domain adaptation as losses: a domain discriminator, DANN and CDAN.

**DANN** (Ganin and Lempitsky 2015; Ganin et al. 2016). A discriminator :math:`D` labels
source features 1 and target features 0; the features reach it through a gradient reversal layer
:math:`R_\\lambda` (:mod:`transfer_utils.adaptation.grl`), so one backward pass trains :math:`D` to separate
the domains and the feature extractor :math:`G` to make them inseparable:

.. math:: \\mathcal L_{\\mathrm{DANN}} = -\\frac{1}{n_s}\\sum_{i=1}^{n_s}\\log \\sigma\\big(D(R_\\lambda(f_i^s))\\big)
          - \\frac{1}{n_t}\\sum_{j=1}^{n_t}\\log\\big(1-\\sigma(D(R_\\lambda(f_j^t)))\\big).

**CDAN** (Long et al. 2018) conditions the discriminator on the classifier's prediction
:math:`g = \\mathrm{softmax}(\\text{logits}) \\in \\Delta^{C-1}` through the multilinear map

.. math:: T_\\otimes(f, g) = \\operatorname{vec}(g \\otimes f) = \\operatorname{vec}(g f^\\top)
          \\in \\mathbb{R}^{C d},

so that the discriminator sees which class a feature is predicted to belong to and aligns the
class-conditional distributions, not only the marginals. CDAN+E weights each example by the
certainty of its prediction, :math:`w(H(g)) = 1 + e^{-H(g)}` with :math:`H(g) = -\\sum_c g_c\\log g_c`,
normalised to mean one within each domain, so that confidently classified examples count more.
Here the prediction :math:`g` and the weights are treated as constants (detached), as in the
authors' code for :math:`g`.

Both losses keep the accuracy of the discriminator on the last batch in
``last_domain_accuracy`` (a detached 0-d tensor): near 1 when the domains are easy to tell apart,
near 0.5 (chance) when the features are aligned.

References:
    Ganin and Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015.
    Ganin, Ustinova, Ajakan, Germain, Larochelle, Laviolette, Marchand and Lempitsky,
    "Domain-Adversarial Training of Neural Networks", JMLR 17(59), 2016.
    Long, Cao, Wang and Jordan, "Conditional Adversarial Domain Adaptation", NeurIPS 2018.

Introduced in notebook 08.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from transfer_utils.adaptation.loss import AdaptationLoss
from transfer_utils.adaptation.grl import GradientReversalLayer
from transfer_utils.core.validation import (FEATURE_ADVICE, check_feature_pair, check_finite, check_interval,
                                            check_same_dtype, check_tensor)

__all__ = ["DomainDiscriminator", "multilinear_map", "entropy", "AdversarialLoss", "DANNLoss", "CDANLoss"]


class DomainDiscriminator(nn.Module):
    """An MLP that outputs one logit per example: > 0 means "source".

    Args:
        in_features: the feature size :math:`d` (for CDAN: :math:`C d`).
        hidden_size: width of the hidden layers.
        num_hidden: number of hidden layers (>= 1), each Linear -> BatchNorm (optional) -> ReLU
            -> Dropout.
        batch_norm: use BatchNorm1d in the hidden layers.
        dropout: dropout probability in the hidden layers.

    Shape: (N, in_features) -> (N,).
    """

    def __init__(self, in_features: int, hidden_size: int = 256, num_hidden: int = 2, *,
                 batch_norm: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("hidden_size", hidden_size),
                        ("num_hidden", num_hidden)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}.")
        check_interval(dropout, "dropout", 0.0, 1.0, include_high=False)
        self.in_features = in_features
        layers: list[nn.Module] = []
        width = in_features
        for _ in range(num_hidden):
            layers.append(nn.Linear(width, hidden_size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden_size))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden_size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"DomainDiscriminator expects inputs of shape (N, {self.in_features}), got "
                f"{tuple(x.shape)}. Build it with in_features equal to the feature size "
                f"(for CDAN: num_classes * feature size)."
            )
        weight = self.net[0].weight
        if x.dtype != weight.dtype:
            raise TypeError(
                f"The features are {x.dtype} but the DomainDiscriminator's weights are {weight.dtype}; "
                f"convert one, e.g. discriminator.to(features.dtype) or features.to({weight.dtype}).")
        return self.net(x).squeeze(1)


def _check_features(f_src: torch.Tensor, f_tgt: torch.Tensor) -> None:
    check_feature_pair(f_src, f_tgt, ("f_src", "f_tgt"), need="each domain's batch", advice=FEATURE_ADVICE)


def multilinear_map(g: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """CDAN's multilinear map :math:`T_\\otimes(f, g) = \\operatorname{vec}(g f^\\top)` per example.

    Entry ``[n, c * d + k]`` equals ``g[n, c] * f[n, k]``.

    Args:
        g: class probabilities, shape (N, C).
        f: features, shape (N, d).

    Returns:
        Shape (N, C * d).
    """
    check_tensor(g, "g")
    check_tensor(f, "f")
    if g.ndim != 2 or f.ndim != 2 or g.shape[0] != f.shape[0]:
        raise ValueError(f"multilinear_map expects g (N, C) and f (N, d) with the same N, got "
                         f"{tuple(g.shape)} and {tuple(f.shape)}.")
    check_same_dtype((f, g), ("f", "g"))
    check_finite(g, "g", advice=FEATURE_ADVICE)
    check_finite(f, "f", advice=FEATURE_ADVICE)
    return _multilinear_map(g, f)


def _multilinear_map(g: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return torch.einsum("nc,nd->ncd", g, f).reshape(f.shape[0], -1)


def entropy(p: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Shannon entropy :math:`-\\sum_c p_c \\log p_c` of each row of ``p`` (shape (N, C) -> (N,)).

    Raises:
        ValueError: ``p`` is not (N, C), or holds NaN, inf or a negative entry.
    """
    check_tensor(p, "p")
    if p.ndim != 2:
        raise ValueError(f"p must have shape (N, C) (one distribution per row), got {tuple(p.shape)}.")
    check_finite(p, "p")
    if bool((p < 0).any()):
        raise ValueError("p must hold probabilities (>= 0); pass softmax(logits), not the logits.")
    return _entropy(p, eps)


def _entropy(p: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return -(p * torch.log(p + eps)).sum(1)


def _domain_bce(logits: torch.Tensor, n_src: int, weights: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of the two domains' mean BCE losses (source label 1, target 0) and the domain accuracy.

    :math:`-\\frac{1}{n_s}\\sum_i w_i\\log\\sigma(z_i^s) - \\frac{1}{n_t}\\sum_j w_j\\log(1-\\sigma(z_j^t))`
    with the weights normalised to mean one within each domain (all ones unless CDAN+E): the
    domain loss :math:`\\mathcal L_d` of Ganin et al. (2016, eq. 9), one mean per domain, summed.
    """
    labels = torch.zeros_like(logits)
    labels[:n_src] = 1.0
    per_example = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    if weights is None:
        weights = torch.ones_like(per_example)
    ls, lt = per_example[:n_src], per_example[n_src:]
    ws, wt = weights[:n_src], weights[n_src:]
    loss = (ws * ls).sum() / ws.sum() + (wt * lt).sum() / wt.sum()
    acc = ((logits.detach() > 0).float() == labels).float().mean()
    return loss, acc


class AdversarialLoss(AdaptationLoss):
    """What DANN and CDAN share: a discriminator behind a gradient reversal layer.

    ``grl`` is a :class:`~transfer_utils.adaptation.grl.GradientReversalLayer` (whose :math:`\\lambda`
    follows the training progress) or any module, e.g. ``nn.Identity()`` to look at the plain
    discriminator loss; only a ``GradientReversalLayer`` has a :math:`\\lambda` to report.
    """

    def __init__(self, discriminator: nn.Module, grl: nn.Module | None = None) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.grl = GradientReversalLayer() if grl is None else grl

    def set_progress(self, progress: float) -> None:
        if isinstance(self.grl, GradientReversalLayer):
            self.grl.set_progress(progress)

    @property
    def grl_lambda(self) -> float | None:
        return float(self.grl.lambd) if isinstance(self.grl, GradientReversalLayer) else None


class DANNLoss(AdversarialLoss):
    """The DANN domain loss (see the module docstring); add it to the source classification loss.

    Args:
        discriminator: maps features (N, d) to logits (N,), e.g. :class:`DomainDiscriminator`.
        grl: the gradient reversal layer; default :class:`GradientReversalLayer` with the DANN
            schedule (:math:`\\lambda_{\\max}=1`, :math:`\\gamma=10`).

    Inputs: ``f_src`` (n_s, d), ``f_tgt`` (n_t, d). Output: a scalar tensor.
    """

    uses_logits = False

    def __init__(self, discriminator: nn.Module, grl: nn.Module | None = None) -> None:
        super().__init__(discriminator, grl)

    def forward(self, f_src: torch.Tensor, f_tgt: torch.Tensor) -> torch.Tensor:
        _check_features(f_src, f_tgt)
        logits = self.discriminator(self.grl(torch.cat([f_src, f_tgt])))
        loss, acc = _domain_bce(logits, f_src.shape[0])
        self.last_domain_accuracy = acc
        return loss


class CDANLoss(AdversarialLoss):
    """The CDAN (or CDAN+E) domain loss on the multilinear map of features and predictions.

    Args:
        discriminator: maps (N, C * d) to logits (N,); build it with ``in_features=C * d``.
        entropy_conditioning: weight examples by :math:`1 + e^{-H(g)}` (CDAN+E).
        grl: the gradient reversal layer; default as in :class:`DANNLoss`.

    Inputs: ``f_src`` (n_s, d), ``f_tgt`` (n_t, d), ``logits_src`` (n_s, C), ``logits_tgt`` (n_t, C).
    Output: a scalar tensor. The training loop passes the logits because ``uses_logits`` is True.
    """

    uses_logits = True

    def __init__(self, discriminator: nn.Module, *, entropy_conditioning: bool = False,
                 grl: nn.Module | None = None) -> None:
        super().__init__(discriminator, grl)
        self.entropy_conditioning = bool(entropy_conditioning)

    def forward(self, f_src: torch.Tensor, f_tgt: torch.Tensor, logits_src: torch.Tensor,
                logits_tgt: torch.Tensor) -> torch.Tensor:
        _check_features(f_src, f_tgt)
        for name, lg, f in (("logits_src", logits_src, f_src), ("logits_tgt", logits_tgt, f_tgt)):
            if lg.ndim != 2 or lg.shape[0] != f.shape[0]:
                raise ValueError(f"{name} must have shape ({f.shape[0]}, num_classes) to match "
                                 f"its features, got {tuple(lg.shape)}.")
        if logits_src.shape[1] != logits_tgt.shape[1]:
            raise ValueError("logits_src and logits_tgt have different numbers of classes.")
        check_same_dtype((f_src, logits_src, logits_tgt), ("f_src", "logits_src", "logits_tgt"))
        check_finite(logits_src, "logits_src", advice=FEATURE_ADVICE)
        check_finite(logits_tgt, "logits_tgt", advice=FEATURE_ADVICE)
        f = torch.cat([f_src, f_tgt])
        g = torch.softmax(torch.cat([logits_src, logits_tgt]), dim=1).detach()
        h = _multilinear_map(g, f)
        logits = self.discriminator(self.grl(h))
        weights = 1.0 + torch.exp(-_entropy(g)) if self.entropy_conditioning else None
        loss, acc = _domain_bce(logits, f_src.shape[0], weights)
        self.last_domain_accuracy = acc
        return loss

    def extra_repr(self) -> str:
        return f"entropy_conditioning={self.entropy_conditioning}"
