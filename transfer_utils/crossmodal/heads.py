r"""Two linear maps into a shared space, and their training by symmetric InfoNCE on paired examples.

Frozen features :math:`x` of an image (from a pretrained image network) and :math:`t` of a sentence
(from a pretrained sentence encoder) live in different spaces of different widths. Two linear maps
send them to unit vectors of one space of width :math:`d`,

.. math:: u = \frac{A(x - \mu_x)/\sigma_x}{\lVert A(x - \mu_x)/\sigma_x\rVert}, \qquad
   v = \frac{B(t - \mu_t)/\sigma_t}{\lVert B(t - \mu_t)/\sigma_t\rVert},

(each side standardised with the statistics of the training features), and
:func:`train_projection_heads` fits :math:`A`, :math:`B` and :math:`\log\tau` by Adam on the
symmetric InfoNCE loss of :mod:`transfer_utils.crossmodal.infonce`, over minibatches of pairs
(image ``i``, one of the texts of its class drawn afresh every epoch). This is CLIP's objective
(Radford et al. 2021) with both encoders frozen (as in "locked-image tuning", Zhai et al. 2022,
with the text tower locked too). Introduced in notebook 14.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from transfer_utils.core.validation import check_features, check_int, check_positive, check_tensor
from transfer_utils.crossmodal.infonce import symmetric_infonce

__all__ = ["ProjectionHeads", "TrainingHistory", "train_projection_heads", "check_pairs"]


class ProjectionHeads(nn.Module):
    """Standardise, then map each side linearly to ``dim`` and normalise; holds :math:`\\log\\tau`.

    Args:
        image_features, text_features: the training features of each side (their mean and standard
            deviation are kept as fixed buffers).
        dim: the width :math:`d` of the shared space. tau0: the initial temperature.
        generator: for the initial weights (PyTorch's default initialisation of ``nn.Linear``).
    """

    def __init__(self, image_features: torch.Tensor, text_features: torch.Tensor, dim: int = 64,
                 tau0: float = 0.07, generator: torch.Generator | None = None) -> None:
        super().__init__()
        check_features(image_features, "image_features", min_rows=2, need="standardisation")
        check_features(text_features, "text_features", min_rows=2, need="standardisation")
        check_int(dim, "dim", minimum=1)
        check_positive(tau0, "tau0")
        for name, Z in (("image", image_features), ("text", text_features)):
            self.register_buffer(f"{name}_mean", Z.mean(0).detach().clone())
            self.register_buffer(f"{name}_scale", Z.std(0).clamp_min(1e-6).detach().clone())
        self.image = nn.Linear(image_features.shape[1], dim, bias=False, dtype=image_features.dtype)
        self.text = nn.Linear(text_features.shape[1], dim, bias=False, dtype=text_features.dtype)
        for lin in (self.image, self.text):  # the default init, drawn from ``generator``
            bound = 1.0 / math.sqrt(lin.in_features)
            with torch.no_grad():
                lin.weight.copy_(torch.rand(lin.weight.shape, generator=generator, dtype=lin.weight.dtype)
                                 * 2 * bound - bound)
        self.log_tau = nn.Parameter(torch.tensor(math.log(tau0), dtype=image_features.dtype))

    @property
    def tau(self) -> float:
        """The current temperature :math:`e^{\\log\\tau}`."""
        return float(self.log_tau.detach().exp())

    def embed_images(self, X: torch.Tensor) -> torch.Tensor:
        """Unit vectors ``(n, dim)`` of image features ``X`` ``(n, D_image)``."""
        check_features(X, "image features")
        if X.shape[1] != self.image.in_features:
            raise ValueError(f"image features have width {X.shape[1]}, the heads expect {self.image.in_features}.")
        return nn.functional.normalize(self.image((X - self.image_mean) / self.image_scale), dim=1)

    def embed_texts(self, T: torch.Tensor) -> torch.Tensor:
        """Unit vectors ``(m, dim)`` of text features ``T`` ``(m, D_text)``."""
        check_features(T, "text features")
        if T.shape[1] != self.text.in_features:
            raise ValueError(f"text features have width {T.shape[1]}, the heads expect {self.text.in_features}.")
        return nn.functional.normalize(self.text((T - self.text_mean) / self.text_scale), dim=1)


@dataclass
class TrainingHistory:
    """Per epoch: the mean training loss and the temperature at the epoch's end."""

    loss: list[float] = field(default_factory=list)
    tau: list[float] = field(default_factory=list)


def check_pairs(image_labels: torch.Tensor, text_labels: torch.Tensor, n_images: int, n_texts: int) -> None:
    """Raise unless every image has a class label, every text has one, and every image's class has a text."""
    for name, y, n in (("image_labels", image_labels, n_images), ("text_labels", text_labels, n_texts)):
        check_tensor(y, name)
        if y.ndim != 1 or y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise ValueError(f"{name} must be a 1-D integer tensor of class labels, got {y.dtype} {tuple(y.shape)}.")
        if y.shape[0] != n:
            raise ValueError(f"{name} has {y.shape[0]} labels but there are {n} "
                             f"{name.split('_')[0]}s: one label per row, in the same order.")
    missing = sorted(set(image_labels.tolist()) - set(text_labels.tolist()))
    if missing:
        raise ValueError(f"the image labels {missing} have no text with that label (text_labels); every "
                         "image's class needs at least one sentence to be paired with.")


def train_projection_heads(heads: ProjectionHeads, image_features: torch.Tensor, image_labels: torch.Tensor,
                           text_features: torch.Tensor, text_labels: torch.Tensor, *, epochs: int = 30,
                           batch_size: int = 64, lr: float = 1e-3, tau_lr: float | None = None,
                           weight_decay: float = 1e-4, generator: torch.Generator | None = None) -> TrainingHistory:
    """Fit the heads (and :math:`\\log\\tau`) by AdamW on symmetric InfoNCE over pairs.

    The maps get learning rate ``lr`` and decoupled weight decay ``weight_decay``; :math:`\\log\\tau`
    gets ``tau_lr`` (default ``lr``) and no decay (decay would pull :math:`\\tau` towards 1).

    Every epoch shuffles the images and pairs image ``i`` with a text drawn uniformly among the texts
    whose label is ``image_labels[i]``; batches of ``batch_size`` pairs (the last, smaller one kept
    when it has at least 2 pairs). Two images of a class in one batch make the other's text a
    "negative" that is as right as the positive: that is what keeps the learned temperature finite.

    Raises:
        ValueError, TypeError: labels that do not match the rows, a class without a text, bad sizes.
    """
    check_features(image_features, "image_features", min_rows=2, need="contrastive training")
    check_features(text_features, "text_features", min_rows=1, need="contrastive training")
    check_pairs(image_labels, text_labels, image_features.shape[0], text_features.shape[0])
    check_int(epochs, "epochs", minimum=1)
    check_int(batch_size, "batch_size", minimum=2)
    check_positive(lr, "lr")
    tau_lr = lr if tau_lr is None else check_positive(tau_lr, "tau_lr")
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    by_class = {c: torch.nonzero(text_labels == c).flatten() for c in set(image_labels.tolist())}
    maps = [p for name, p in heads.named_parameters() if name != "log_tau"]
    opt = torch.optim.AdamW([{"params": maps, "weight_decay": weight_decay},
                             {"params": [heads.log_tau], "weight_decay": 0.0, "lr": tau_lr}], lr=lr)
    history = TrainingHistory()
    n = image_features.shape[0]
    heads.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        draw = torch.rand(n, generator=generator)
        text_idx = torch.empty(n, dtype=torch.int64)
        for c, texts in by_class.items():  # image order[k] gets texts[floor(draw[k] * len(texts))]
            mine = image_labels[order] == c
            text_idx[mine] = texts[(draw[mine] * len(texts)).long().clamp_max(len(texts) - 1)]
        total, count = 0.0, 0
        for start in range(0, n, batch_size):
            idx, tdx = order[start:start + batch_size], text_idx[start:start + batch_size]
            if idx.numel() < 2:
                continue
            loss = symmetric_infonce(heads.embed_images(image_features[idx]),
                                     heads.embed_texts(text_features[tdx]), heads.log_tau)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
            count += idx.numel()
        history.loss.append(total / count)
        history.tau.append(heads.tau)
    heads.eval()
    return history
