"""Low-rank adaptation (LoRA, Hu et al., ICLR 2022): a frozen linear layer plus a trainable rank-r update.

A pretrained layer :math:`y = W_0 x + b` becomes

.. math:: y = W_0 x + b + s\\, B A x, \\qquad A \\in \\mathbb R^{r \\times d_\\text{in}},\\;
          B \\in \\mathbb R^{d_\\text{out} \\times r},\\; s = \\alpha / r,

with :math:`W_0, b` frozen and only :math:`A, B` trained: :math:`r (d_\\text{in} + d_\\text{out})`
parameters instead of :math:`d_\\text{in} d_\\text{out}`. :math:`B = 0` at the start, so the adapted
model is exactly the pretrained one; :math:`A` starts random (Kaiming-uniform, as in ``peft``) so
that :math:`B` receives a gradient. With :math:`G = \\partial L / \\partial y` (one row per example)
and :math:`X` the inputs (one row per example), the chain rule through :math:`y = s B (A x)` gives

.. math:: \\frac{\\partial L}{\\partial A} = s\\, B^\\top G^\\top X, \\qquad
          \\frac{\\partial L}{\\partial B} = s\\, G^\\top X A^\\top,

for one example :math:`dL/dA = s B^\\top g x^\\top` and :math:`dL/dB = s\\, g x^\\top A^\\top`
(:func:`lora_gradients`). At :math:`B = 0` the gradient in :math:`A` is zero: only :math:`B` moves
on the first step. After training, :math:`W = W_0 + s B A` is one ordinary matrix
(:meth:`LoRALinear.merged`, :func:`merge_lora`): no extra cost at inference.

A convolution is a linear map on each patch: with :math:`W_0` of shape
``(c_out, c_in, k_h, k_w)`` flattened to :math:`c_\\text{out} \\times c_\\text{in} k_h k_w`,
:class:`LoRAConv2d` trains :math:`A` as a convolution to :math:`r` channels with the base's kernel,
stride, padding and dilation, and :math:`B` as a :math:`1 \\times 1` convolution back to
:math:`c_\\text{out}` (as ``peft`` does), so that :math:`\\Delta W = s\\, B A` in the flattened form:
:math:`r (c_\\text{in} k_h k_w + c_\\text{out})` trained numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["check_rank", "lora_scaling", "LoRALinear", "LoRAConv2d", "lora_gradients", "inject_lora", "merge_lora"]


def check_rank(rank: object, in_features: int, out_features: int) -> int:
    """Return ``rank`` when it is an integer with ``1 <= rank <= min(in_features, out_features)``.

    Raises:
        TypeError: ``rank`` is not an integer (a float such as ``4.0`` or a bool included).
        ValueError: ``rank`` is below 1 or larger than the layer's smaller dimension (then
            :math:`BA` could not have that rank and the adapter would only cost more).
    """
    if isinstance(rank, bool) or not isinstance(rank, int):
        raise TypeError(f"LoRA rank must be a positive integer, got {rank!r} ({type(rank).__name__}).")
    if rank < 1:
        raise ValueError(f"LoRA rank must be a positive integer, got {rank}.")
    limit = min(int(in_features), int(out_features))
    if rank > limit:
        raise ValueError(f"LoRA rank {rank} exceeds the layer's dimensions ({in_features} -> {out_features}): "
                         f"B A has rank at most min(d_in, d_out) = {limit}; choose a rank in 1..{limit}.")
    return rank



def lora_scaling(rank: int, alpha: float | None) -> tuple[float, float]:
    r"""``(alpha, s)`` with :math:`s = \alpha / r`; ``alpha`` defaults to the rank (``s = 1``)."""
    alpha = float(rank if alpha is None else alpha)
    if not math.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"alpha must be a positive number, got {alpha}; the default (alpha = rank) gives scaling 1.")
    return alpha, alpha / rank


class LoRALinear(nn.Module):
    """``y = base(x) + (alpha / r) * B A x``: a frozen ``nn.Linear`` and a trainable low-rank update.

    Args:
        base: the pretrained layer; its parameters are frozen (``requires_grad=False``).
        rank: :math:`r`, an integer in ``1..min(d_in, d_out)``.
        alpha: the scale numerator; :math:`s = \\alpha / r` (``peft``'s convention; default ``alpha = r``).
        generator: draws :math:`A` (Kaiming-uniform with ``a = sqrt(5)``, as ``nn.Linear`` and
            ``peft``); without it the global generator.

    Shape: ``(..., d_in) -> (..., d_out)``.
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float | None = None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}.")
        self.rank = check_rank(rank, base.in_features, base.out_features)
        self.alpha, self.scaling = lora_scaling(rank, alpha)
        self.base = base.requires_grad_(False)
        w = base.weight
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, dtype=w.dtype, device=w.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, dtype=w.dtype, device=w.device))
        bound = 1.0 / math.sqrt(base.in_features)  # kaiming_uniform_(a=sqrt(5)) on a (r, d_in) matrix
        with torch.no_grad():
            self.lora_A.uniform_(-bound, bound, generator=generator)

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def delta_weight(self) -> torch.Tensor:
        """:math:`s B A`, the update to :math:`W_0` (shape ``(d_out, d_in)``)."""
        return self.scaling * self.lora_B @ self.lora_A

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scaling * ((x @ self.lora_A.T) @ self.lora_B.T)

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` with :math:`W = W_0 + s B A` and the same bias (a new module)."""
        out = nn.Linear(self.in_features, self.out_features, bias=self.base.bias is not None,
                        device=self.base.weight.device, dtype=self.base.weight.dtype)
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.delta_weight())
            if self.base.bias is not None:
                out.bias.copy_(self.base.bias)
        return out

    def extra_repr(self) -> str:
        return f"rank={self.rank}, alpha={self.alpha:g}"


class LoRAConv2d(nn.Module):
    """``y = base(x) + s * conv_B(conv_A(x))``: a frozen ``nn.Conv2d`` and a trainable rank-r update.

    ``A`` has shape ``(r, c_in, k_h, k_w)`` (the base's kernel, stride, padding, dilation) and ``B``
    ``(c_out, r, 1, 1)``; :math:`\\Delta W = s\\, B A` on the flattened kernels (``peft``'s layout).
    Only ``groups = 1`` is supported. Args as :class:`LoRALinear`; :math:`A` is Kaiming-uniform with
    bound :math:`1/\\sqrt{c_\\text{in} k_h k_w}`, :math:`B = 0`.

    Shape: as the base convolution.
    """

    def __init__(self, base: nn.Conv2d, rank: int, alpha: float | None = None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(base, nn.Conv2d):
            raise TypeError(f"LoRAConv2d wraps an nn.Conv2d, got {type(base).__name__}.")
        if base.groups != 1 or base.padding_mode != "zeros":
            raise ValueError(f"LoRAConv2d supports groups=1 and zero padding, got groups={base.groups}, "
                             f"padding_mode={base.padding_mode!r}.")
        fan_in = base.in_channels * base.kernel_size[0] * base.kernel_size[1]
        self.rank = check_rank(rank, fan_in, base.out_channels)
        self.alpha, self.scaling = lora_scaling(rank, alpha)
        self.base = base.requires_grad_(False)
        w = base.weight
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_channels, *base.kernel_size, dtype=w.dtype, device=w.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_channels, rank, 1, 1, dtype=w.dtype, device=w.device))
        bound = 1.0 / math.sqrt(fan_in)
        with torch.no_grad():
            self.lora_A.uniform_(-bound, bound, generator=generator)

    def delta_weight(self) -> torch.Tensor:
        """:math:`s B A` as a kernel of the base's shape ``(c_out, c_in, k_h, k_w)``."""
        return (self.scaling * self.lora_B.flatten(1) @ self.lora_A.flatten(1)).view_as(self.base.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.base
        u = F.conv2d(x, self.lora_A, None, b.stride, b.padding, b.dilation)
        return b(x) + self.scaling * F.conv2d(u, self.lora_B)

    def merged(self) -> nn.Conv2d:
        """A plain ``nn.Conv2d`` with kernel :math:`W_0 + s B A` and the same bias (a new module)."""
        b = self.base
        out = nn.Conv2d(b.in_channels, b.out_channels, b.kernel_size, b.stride, b.padding, b.dilation,
                        bias=b.bias is not None, device=b.weight.device, dtype=b.weight.dtype)
        with torch.no_grad():
            out.weight.copy_(b.weight + self.delta_weight())
            if b.bias is not None:
                out.bias.copy_(b.bias)
        return out

    def extra_repr(self) -> str:
        return f"rank={self.rank}, alpha={self.alpha:g}"


def lora_gradients(x: torch.Tensor, grad_out: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
                   scaling: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """:math:`(\\partial L/\\partial A, \\partial L/\\partial B) = (s B^\\top G^\\top X,\\; s G^\\top X A^\\top)`.

    Args:
        x: inputs :math:`X`, shape ``(N, d_in)`` (or ``(d_in,)`` for one example).
        grad_out: :math:`G = \\partial L / \\partial y`, shape ``(N, d_out)`` (or ``(d_out,)``).
        A, B: ``(r, d_in)`` and ``(d_out, r)``.
        scaling: :math:`s`.
    """
    X = x.reshape(-1, x.shape[-1])
    G = grad_out.reshape(-1, grad_out.shape[-1])
    if X.shape[0] != G.shape[0] or A.shape != (B.shape[1], X.shape[1]) or B.shape[0] != G.shape[1]:
        raise ValueError(f"Shapes do not chain: x {tuple(x.shape)}, grad_out {tuple(grad_out.shape)}, "
                         f"A {tuple(A.shape)}, B {tuple(B.shape)}; need A (r, d_in), B (d_out, r).")
    GtX = G.T @ X  # (d_out, d_in): the gradient W would get
    return scaling * B.T @ GtX, scaling * GtX @ A.T


def inject_lora(model: nn.Module, targets: Sequence[str], rank: int, alpha: float | None = None,
                generator: torch.Generator | None = None) -> list[str]:
    """Replace, in place, every ``nn.Linear`` (``nn.Conv2d``) named by ``targets`` by a :class:`LoRALinear`
    (:class:`LoRAConv2d`); a name matches a target equal to it or to its last dotted parts.

    Only the replaced layers' own parameters are frozen; freeze the rest of the model yourself
    (``set_trainable(model, False)`` first) for the usual LoRA setting.

    Returns:
        The qualified names of the replaced layers, in the model's order.

    Raises:
        ValueError: no ``nn.Linear`` or ``nn.Conv2d`` matches ``targets``, or a rank that does not fit a layer.
        TypeError: a rank that is not an integer.
    """
    kinds = (nn.Linear, nn.Conv2d)
    names = [name for name, m in model.named_modules()
             if isinstance(m, kinds) and any(name == t or name.endswith("." + t) for t in targets)]
    if not names:
        raise ValueError(f"No nn.Linear or nn.Conv2d in the model is named by {list(targets)}; its linear and "
                         f"convolution layers are e.g. {[n for n, m in model.named_modules() if isinstance(m, kinds)][:6]}.")
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layer = getattr(parent, child)
        wrap = LoRAConv2d if isinstance(layer, nn.Conv2d) else LoRALinear
        setattr(parent, child, wrap(layer, rank, alpha, generator))
    return names


def merge_lora(model: nn.Module) -> int:
    """Replace, in place, every :class:`LoRALinear` / :class:`LoRAConv2d` by its merged layer; return how many."""
    names = [name for name, m in model.named_modules() if isinstance(m, (LoRALinear, LoRAConv2d))]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, getattr(parent, child).merged())
    return len(names)
