"""Fine-tuning tools: freezing, discriminative learning rates, warm-up, batch-norm handling, L2-SP.

* :func:`set_trainable` freezes (or unfreezes) parameters; a frozen layer's gradient is never
  computed, so it also costs no backward pass below the lowest trainable layer.
* :func:`discriminative_param_groups`: layer :math:`\\ell` of :math:`L` gets the learning rate
  :math:`\\eta_\\ell = \\eta\\, \\gamma^{L - \\ell}` (:math:`0 < \\gamma \\le 1`): the head learns fastest,
  the general early layers slowest (Howard and Ruder, ACL 2018, "discriminative fine-tuning").
* :func:`warmup_cosine` multiplies the learning rate by :math:`t / T_w` for the first :math:`T_w`
  steps, then follows a half cosine down to 0 (Goyal et al. 2017 for the warm-up).
* :func:`freeze_batchnorm`: batch-norm layers keep their pretrained running statistics (they stay
  in evaluation mode even inside ``model.train()``), so small target batches cannot corrupt them.
* :class:`L2SPLoss`: the task loss plus

  .. math:: \\Omega(w) = \\frac{\\alpha}{2} \\lVert w_S - w_S^0 \\rVert_2^2 + \\frac{\\beta}{2} \\lVert w_{\\bar S} \\rVert_2^2,

  which pulls the pretrained part :math:`w_S` toward its starting point :math:`w_S^0` and applies
  plain weight decay to the new head :math:`w_{\\bar S}` (Li, Grandvalet and Davoine, ICML 2018,
  "Explicit inductive bias for transfer learning with convolutional networks"). Its gradient is
  :math:`\\alpha (w_S - w_S^0)` on the pretrained part and :math:`\\beta w_{\\bar S}` on the head,
  so one plain SGD step on it contracts :math:`w_S - w_S^0` by :math:`1 - \\eta\\alpha`.
* :func:`decoupled_l2sp`: the same pull applied as that contraction before every optimizer step,
  outside the gradient, as AdamW applies weight decay (Loshchilov and Hutter, ICLR 2019, "Decoupled
  weight decay regularization"). With plain SGD it is the same as adding :math:`\\Omega` to the
  loss; with Adam it is not, because Adam divides the penalty's gradient, like every gradient, by
  a running root mean square, which turns the contraction into steps of about :math:`\\eta` per
  coordinate whatever the distance from :math:`w^0`.

:class:`TransferModel` is a backbone plus a linear head. Introduced in notebook 06.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from transfer_utils.core.validation import check_int, check_interval, check_positive

__all__ = [
    "TransferModel",
    "set_trainable",
    "count_parameters",
    "discriminative_param_groups",
    "warmup_cosine",
    "freeze_batchnorm",
    "L2SPLoss",
    "decoupled_l2sp",
]


class TransferModel(nn.Module):
    """``x -> head(backbone(x))``: a (pretrained) feature extractor and a new linear head.

    Shape: ``(N, ...) -> (N, num_classes)``.
    """

    def __init__(self, backbone: nn.Module, feature_dim: int, num_classes: int,
                 head: nn.Linear | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head if head is not None else nn.Linear(feature_dim, num_classes)
        if self.head.in_features != feature_dim or self.head.out_features != num_classes:
            raise ValueError(f"head maps {self.head.in_features}->{self.head.out_features}, "
                             f"expected {feature_dim}->{num_classes}.")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def set_trainable(module: nn.Module, trainable: bool) -> nn.Module:
    """Set ``requires_grad`` of every parameter of ``module``; return the module."""
    for p in module.parameters():
        p.requires_grad_(trainable)
    return module


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """The number of (trainable) scalar parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def discriminative_param_groups(
    blocks: Sequence[nn.Module | Iterable[nn.Parameter]],
    lr: float,
    decay: float = 1.0,
    weight_decay: float = 0.0,
) -> list[dict]:
    """Optimizer parameter groups with learning rates that shrink toward the input.

    .. math:: \\eta_\\ell = \\eta\\, \\gamma^{L - \\ell}, \\qquad \\ell = 1, \\dots, L

    Args:
        blocks: the model in order, input side first (modules or lists of parameters); the last
            block (usually the head) gets ``lr``. Frozen parameters are left out.
        lr: the head's learning rate :math:`\\eta > 0`.
        decay: :math:`\\gamma \\in (0, 1]`; 1 gives one learning rate for all.
        weight_decay: put in every group.

    Returns:
        A list of ``{"params", "lr", "weight_decay"}`` dicts for any ``torch.optim`` optimizer
        (groups without trainable parameters are dropped).

    Raises:
        ValueError: no blocks, a non-positive lr, a decay outside (0, 1], or no trainable parameter.
    """
    if len(blocks) == 0:
        raise ValueError("blocks is empty; pass the model's blocks from input to head.")
    check_positive(lr, "lr")
    check_interval(decay, "decay", 0.0, 1.0, include_low=False)
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    groups = []
    depth = len(blocks)
    for i, block in enumerate(blocks):
        params = block.parameters() if isinstance(block, nn.Module) else block
        params = [p for p in params if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": lr * decay ** (depth - 1 - i),
                           "weight_decay": weight_decay})
    if not groups:
        raise ValueError("No trainable parameter in blocks; unfreeze something (set_trainable).")
    return groups


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int,
                  final_fraction: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_steps``, then a half cosine to ``final_fraction`` of the rate.

    .. math:: m(t) = \\begin{cases} (t+1)/T_w & t < T_w \\\\
              f + (1-f)\\,\\tfrac{1}{2}\\big(1 + \\cos \\pi \\tfrac{t - T_w}{T - T_w}\\big) & t \\ge T_w \\end{cases}

    Step it once per batch (``fit(..., step_scheduler_per_batch=True)``). Each parameter group
    keeps its own base rate, so discriminative rates are scaled together.

    Raises:
        ValueError: negative warm-up, ``total_steps <= warmup_steps`` or a fraction outside [0, 1].
    """
    check_int(warmup_steps, "warmup_steps", minimum=0)
    check_int(total_steps, "total_steps", minimum=1)
    check_interval(final_fraction, "final_fraction", 0.0, 1.0)
    if warmup_steps < 0 or total_steps <= warmup_steps or not 0 <= final_fraction <= 1:
        raise ValueError(f"Need 0 <= warmup_steps < total_steps and 0 <= final_fraction <= 1; got "
                         f"{warmup_steps}, {total_steps}, {final_fraction}.")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
        return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _always_eval(self: nn.Module, mode: bool = True) -> nn.Module:
    return nn.Module.train(self, False)


def freeze_batchnorm(module: nn.Module, affine_trainable: bool = True) -> int:
    """Keep every batch-norm layer in ``module`` on its running statistics, even in ``train()``.

    In training mode a batch-norm layer normalises with the batch's own mean and variance and
    updates its running averages; with a few small target batches both are noisy estimates that
    overwrite the statistics learned on the source. Frozen, the layer computes
    :math:`\\gamma (x - \\hat\\mu) / \\sqrt{\\hat\\sigma^2 + \\epsilon} + \\beta` with the stored
    :math:`\\hat\\mu, \\hat\\sigma^2`, like at test time.

    Args:
        affine_trainable: keep :math:`\\gamma, \\beta` trainable (else freeze them too).

    Returns:
        The number of batch-norm layers frozen.
    """
    n = 0
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train = types.MethodType(_always_eval, m)  # survives model.train() in fit()
            m.eval()
            if not affine_trainable:
                set_trainable(m, False)
            n += 1
    return n


class L2SPLoss(nn.Module):
    """Task loss plus the L2-SP penalty of Li, Grandvalet and Davoine (ICML 2018).

    .. math:: \\mathcal{L}(w) = \\ell(f_w(x), y) + \\frac{\\alpha}{2} \\lVert w_S - w_S^0 \\rVert_2^2
              + \\frac{\\beta}{2} \\lVert w_{\\bar S} \\rVert_2^2

    Args:
        task_loss: e.g. ``nn.CrossEntropyLoss()``.
        pretrained: the parameters that start from pretrained values (:math:`w_S`); their current
            values are copied now as :math:`w_S^0`.
        new: the parameters of the new head (:math:`w_{\\bar S}`).
        alpha, beta: penalty strengths (>= 0).

    Usable as ``loss_fn`` in :func:`transfer_utils.nets.training.fit`: ``loss(output, y)``.
    """

    def __init__(self, task_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 pretrained: Iterable[nn.Parameter], new: Iterable[nn.Parameter] = (),
                 alpha: float = 0.01, beta: float = 0.01) -> None:
        super().__init__()
        check_positive(alpha, "alpha", allow_zero=True)
        check_positive(beta, "beta", allow_zero=True)
        self.task_loss, self.alpha, self.beta = task_loss, float(alpha), float(beta)
        self.pretrained = [p for p in pretrained if p.requires_grad]
        self.new = [p for p in new if p.requires_grad]
        self.anchors = [p.detach().clone() for p in self.pretrained]

    def penalty(self) -> torch.Tensor:
        """:math:`\\Omega(w)` alone."""
        device = (self.pretrained or self.new or [torch.zeros(())])[0].device
        total = torch.zeros((), device=device)
        for p, p0 in zip(self.pretrained, self.anchors):
            total = total + 0.5 * self.alpha * (p - p0).pow(2).sum()
        for p in self.new:
            total = total + 0.5 * self.beta * p.pow(2).sum()
        return total

    def forward(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.task_loss(output, y) + self.penalty()


def decoupled_l2sp(optimizer: torch.optim.Optimizer, pretrained: Iterable[nn.Parameter], alpha: float,
                   new: Iterable[nn.Parameter] = (), beta: float = 0.0) -> Any:
    """L2-SP decoupled from the gradient, as AdamW decouples weight decay.

    Before every ``optimizer.step()``, each parameter is contracted with its group's current rate
    :math:`\\eta_g` (so warm-up, schedules and discriminative rates apply):

    .. math:: w_S \\leftarrow w_S^0 + (1 - \\eta_g \\alpha)(w_S - w_S^0), \\qquad
              w_{\\bar S} \\leftarrow (1 - \\eta_g \\beta)\\, w_{\\bar S},

    then the optimizer applies its own update for the task gradient (computed before the
    contraction). With plain SGD (no momentum) the result equals one SGD step on task loss plus
    :math:`\\Omega(w)` (:class:`L2SPLoss`); with Adam the penalty inside the loss would be rescaled
    per coordinate, this form is not (Loshchilov and Hutter, ICLR 2019).

    Args:
        optimizer: the optimizer that trains the parameters (any ``torch.optim`` optimizer).
        pretrained: parameters pulled toward their current values :math:`w_S^0` (copied now).
        alpha: :math:`\\alpha \\ge 0`, the pull per unit of learning rate.
        new: parameters decayed toward 0 (the new head), with ``beta``.
        beta: :math:`\\beta \\ge 0`.

    Returns:
        The hook's handle; ``handle.remove()`` stops the pull. ``handle.anchors`` holds
        :math:`w_S^0`.

    Raises:
        ValueError: a negative ``alpha`` or ``beta``, or a parameter the optimizer does not train.
    """
    if not (math.isfinite(alpha) and math.isfinite(beta)) or alpha < 0 or beta < 0:
        raise ValueError(f"alpha and beta must be finite and >= 0, got {alpha}, {beta}.")
    group_of = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    pulls = [(p, p.detach().clone(), float(alpha)) for p in pretrained if p.requires_grad]
    pulls += [(p, None, float(beta)) for p in new if p.requires_grad]
    for p, _, _ in pulls:
        if id(p) not in group_of:
            raise ValueError(f"A parameter of shape {tuple(p.shape)} is not trained by the optimizer; "
                             f"pass only parameters in optimizer.param_groups.")

    @torch.no_grad()
    def contract(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        for p, anchor, strength in pulls:
            factor = group_of[id(p)]["lr"] * strength
            if factor == 0:
                continue
            if anchor is None:
                p.mul_(1 - factor)
            else:
                p.sub_(factor * (p - anchor))

    handle = optimizer.register_step_pre_hook(contract)
    handle.anchors = [a for _, a, _ in pulls if a is not None]
    return handle
