"""Contrastive representation learning: the NT-Xent (InfoNCE) loss and digit augmentations.

Two random augmentations of each of :math:`N` images give :math:`2N` embeddings, normalised to
the unit sphere, :math:`u_k = g(f(\\tilde x_k)) / \\lVert g(f(\\tilde x_k)) \\rVert`. For the positive
pair :math:`(i, j)` (two views of one image) the loss is

.. math:: \\ell_{i,j} = -\\log \\frac{\\exp(u_i^\\top u_j / \\tau)}
          {\\sum_{k \\ne i} \\exp(u_i^\\top u_k / \\tau)},

averaged over all :math:`2N` ordered positive pairs: a :math:`(2N-1)`-way classification of which
other view belongs to the same image. This is InfoNCE (van den Oord, Li and Vinyals 2018,
"Representation learning with contrastive predictive coding") in the form of SimCLR (Chen,
Kornblith, Norouzi and Hinton, ICML 2020, "A simple framework for contrastive learning of visual
representations"). Introduced in notebook 05.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from transfer_utils.core.validation import check_finite, check_interval, check_positive, check_same_dtype

__all__ = ["nt_xent_loss", "augment_digits"]


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """The NT-Xent loss of two batches of views.

    Args:
        z1, z2: embeddings of the first and second view, ``(N, D)``, row ``i`` of each from image
            ``i`` (not yet normalised; normalised here).
        temperature: :math:`\\tau > 0`.

    Returns:
        The mean loss over the :math:`2N` positive pairs (a scalar).

    Raises:
        ValueError: mismatched shapes, fewer than 2 images, devices that differ, or :math:`\\tau \\le 0`.
    """
    if z1.ndim != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise ValueError(f"z1 and z2 must both be (N, D) with N >= 2; got {tuple(z1.shape)}, {tuple(z2.shape)}.")
    if z1.device != z2.device:
        raise ValueError(f"z1 is on {z1.device} but z2 on {z2.device}.")
    check_same_dtype((z1, z2), ("z1", "z2"))
    advice = "if this happens during training, it diverged: lower the learning rate"
    check_finite(z1, "z1", advice=advice)
    check_finite(z2, "z2", advice=advice)
    check_positive(temperature, "temperature")
    n = z1.shape[0]
    u = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = u @ u.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=u.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(u.device)
    return F.cross_entropy(logits, targets)


def augment_digits(
    X: torch.Tensor,
    *,
    max_rotation_deg: float = 15.0,
    scale: tuple[float, float] = (0.8, 1.1),
    max_shift: float = 0.15,
    noise_std: float = 0.05,
    erase_prob: float = 0.3,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A random view of each digit: rotation, scaling, shift, a random erased patch, pixel noise.

    Every image gets its own random affine map (applied with ``affine_grid``/``grid_sample`` on
    the batch's device), so a batch is augmented in a few tensor operations. No horizontal flips:
    they change a digit's identity.

    Args:
        X: ``(N, C, H, W)`` images in ``[0, 1]``.
        generator: a CPU generator for reproducible views.

    Returns:
        Augmented images, same shape, clamped to ``[0, 1]``.
    """
    if X.ndim != 4 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty batch (N, C, H, W), got {tuple(X.shape)}.")
    if not X.is_floating_point():
        raise TypeError(f"X must be floating-point images in [0, 1], got {X.dtype}; use X.float() / 255.")
    check_finite(X, "X")
    check_positive(max_rotation_deg, "max_rotation_deg", allow_zero=True)
    if not (len(scale) == 2 and 0 < check_positive(scale[0], "scale[0]") <= check_positive(scale[1], "scale[1]")):
        raise ValueError(f"scale must be a pair (low, high) with 0 < low <= high, got {scale}.")
    check_positive(max_shift, "max_shift", allow_zero=True)
    check_positive(noise_std, "noise_std", allow_zero=True)
    check_interval(erase_prob, "erase_prob", 0.0, 1.0)
    n, device = X.shape[0], X.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(device)

    angle = (rand(n) * 2 - 1) * math.radians(max_rotation_deg)
    s = scale[0] + rand(n) * (scale[1] - scale[0])
    shift = (rand(n, 2) * 2 - 1) * max_shift * 2  # grid coordinates span [-1, 1]
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(X.shape), align_corners=False)
    out = F.grid_sample(X, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if erase_prob > 0:
        H, W = X.shape[-2:]
        size = max(1, H // 4)
        cy = (rand(n) * (H - size)).long()
        cx = (rand(n) * (W - size)).long()
        rows = torch.arange(H, device=device).view(1, H, 1)
        cols = torch.arange(W, device=device).view(1, 1, W)
        patch = ((rows >= cy.view(n, 1, 1)) & (rows < (cy + size).view(n, 1, 1))
                 & (cols >= cx.view(n, 1, 1)) & (cols < (cx + size).view(n, 1, 1)))
        erase = (rand(n) < erase_prob).view(n, 1, 1) & patch
        out = out.masked_fill(erase.unsqueeze(1), 0.0)
    if noise_std > 0:
        out = out + noise_std * torch.randn(out.shape, generator=generator).to(device)
    return out.clamp(0.0, 1.0)
