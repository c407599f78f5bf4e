r"""The interface between a domain-adaptation loss and the training loop.

:func:`transfer_utils.adaptation.training.train_da` minimises
:math:`\mathcal L_{\text{cls}} + \alpha\,\mathcal L_{\text{da}}`, and :math:`\mathcal L_{\text{da}}`
is any :class:`AdaptationLoss`: CORAL (:mod:`transfer_utils.adaptation.coral`), MMD
(:mod:`transfer_utils.adaptation.mmd`), DANN and CDAN (:mod:`transfer_utils.adaptation.adversarial`). The loop talks to
it only through what this class declares, so a new method is a subclass that sets these.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AdaptationLoss"]


class AdaptationLoss(nn.Module):
    """Base class of the adaptation losses that :func:`~transfer_utils.adaptation.training.train_da` takes.

    A subclass implements ``forward(f_src, f_tgt)`` (features of a source and a target batch,
    shapes (n_s, d) and (n_t, d)) returning a scalar tensor, or, with ``uses_logits = True``,
    ``forward(f_src, f_tgt, logits_src, logits_tgt)`` (CDAN conditions on the predictions).

    Attributes:
        uses_logits: the loop passes the classifier's logits too (class attribute, default False).
        last_domain_accuracy: the domain discriminator's accuracy on the last batch (a detached
            0-d tensor), or None for a loss without a discriminator; the loop averages it into
            the history's ``domain_acc``.
    """

    uses_logits: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.last_domain_accuracy: torch.Tensor | None = None

    def set_progress(self, progress: float) -> None:
        """Told the training progress :math:`p = (\\text{step} - 1)/\\text{num\\_steps} \\in [0, 1)`
        before every step (a schedule such as DANN's :math:`\\lambda_p` follows it); by default
        nothing follows it."""

    @property
    def grl_lambda(self) -> float | None:
        r"""The current gradient-reversal coefficient :math:`\lambda` (recorded in the history's
        ``lambda``), or None for a loss without a gradient reversal layer."""
        return None
