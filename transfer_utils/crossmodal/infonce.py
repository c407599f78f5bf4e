r"""The symmetric InfoNCE loss of paired embeddings (CLIP), its temperature, and its gradient by hand.

Given :math:`N` pairs, images embedded as unit vectors :math:`u_1, \dots, u_N` and their texts as
unit vectors :math:`v_1, \dots, v_N` in one space, the cosine similarities are :math:`S = U V^\top`,
:math:`S_{ij} = u_i^\top v_j`, and the logits are :math:`S/\tau` with a temperature :math:`\tau > 0`,
learned as :math:`\theta = \log\tau`. Each image must pick its own text among the :math:`N` (a row
softmax :math:`P = \operatorname{softmax}_\text{row}(S/\tau)`) and each text its own image (a column
softmax :math:`Q = \operatorname{softmax}_\text{col}(S/\tau)`):

.. math:: L(S, \tau) = \frac{1}{2N}\sum_{i=1}^N \big(-\log P_{ii} - \log Q_{ii}\big).

Its gradient, derived in notebook 14 (with :math:`\partial(-\log P_{ii})/\partial S_{ik}
= (P_{ik} - \delta_{ik})/\tau` for row :math:`i` and the same per column):

.. math:: \frac{\partial L}{\partial S} = \frac{(P - I) + (Q - I)}{2N\tau}, \qquad
   \frac{\partial L}{\partial \log\tau} = -\Big\langle \frac{\partial L}{\partial S}, S\Big\rangle_F
   = \frac{1}{2N\tau}\sum_i \Big(2 S_{ii} - \sum_k P_{ik} S_{ik} - \sum_k Q_{ki} S_{ki}\Big),

the second because :math:`S` enters only through :math:`S/\tau` and :math:`\tau\,\partial(S/\tau)/\partial\tau
= -S/\tau`. The temperature falls while a positive pair is more similar than the softmax-weighted
average of its row and column, and stops where the two agree. Uniform similarities give
:math:`L = \log N` (chance). Radford et al. (ICML 2021), "Learning transferable visual models from
natural language supervision"; van den Oord, Li and Vinyals (2018) for InfoNCE.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from transfer_utils.core.validation import check_features, check_number, check_same_dtype, check_tensor

__all__ = ["similarity", "symmetric_infonce", "symmetric_infonce_from_similarity", "infonce_grad"]


def _check_log_tau(log_tau: float | torch.Tensor) -> None:
    check_number(log_tau, "log_tau", advice="log_tau is the log of the temperature; e.g. log(0.07).")


def similarity(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""The cosine similarities :math:`S_{ij} = u_i^\top v_j / (\lVert u_i\rVert \lVert v_j\rVert)`.

    Args:
        u, v: ``(N, D)`` embeddings of the two sides of :math:`N` pairs, row ``i`` of each from pair
            ``i`` (normalised here).

    Raises:
        ValueError, TypeError: not 2-D, fewer than 2 pairs, pair counts or widths that differ,
            dtypes or devices that differ, or non-finite entries.
    """
    check_features(u, "u", min_rows=2, need="a contrastive loss (one positive and a negative)")
    check_features(v, "v", min_rows=2, need="a contrastive loss (one positive and a negative)")
    if u.shape != v.shape:
        raise ValueError(f"u and v must hold the same number of pairs and width: got {tuple(u.shape)} and "
                         f"{tuple(v.shape)}; row i of u and row i of v must be the two sides of pair i.")
    if u.device != v.device:
        raise ValueError(f"u is on {u.device} but v on {v.device}; move both to one device.")
    check_same_dtype((u, v), ("u", "v"))
    return F.normalize(u, dim=1) @ F.normalize(v, dim=1).T


def symmetric_infonce_from_similarity(S: torch.Tensor, log_tau: float | torch.Tensor) -> torch.Tensor:
    r""":math:`L(S, \tau)` of the module docstring, for a square similarity matrix ``S`` whose
    diagonal holds the positive pairs; differentiable in ``S`` and in a tensor ``log_tau``.

    Raises:
        ValueError: ``S`` not square with at least 2 rows, non-finite entries, a non-finite ``log_tau``.
    """
    check_tensor(S, "S")
    if S.ndim != 2 or S.shape[0] != S.shape[1] or S.shape[0] < 2:
        raise ValueError(f"S must be a square (N, N) similarity matrix with N >= 2 pairs, got {tuple(S.shape)}.")
    check_features(S, "S")
    _check_log_tau(log_tau)
    tau = torch.exp(log_tau) if isinstance(log_tau, torch.Tensor) else torch.tensor(log_tau, dtype=S.dtype).exp()
    logits = S / tau
    target = torch.arange(S.shape[0], device=S.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def symmetric_infonce(u: torch.Tensor, v: torch.Tensor, log_tau: float | torch.Tensor) -> torch.Tensor:
    r"""The symmetric InfoNCE loss of :math:`N` pairs ``(u[i], v[i])`` at temperature
    :math:`\tau = e^{\log\tau}`: :func:`symmetric_infonce_from_similarity` of :func:`similarity`.

    Args:
        u, v: ``(N, D)`` embeddings of the pairs' two sides (any norms; normalised here).
        log_tau: :math:`\log\tau`, a number or a one-element tensor (learnable).

    Returns:
        A scalar; :math:`\log N` when all similarities are equal.
    """
    return symmetric_infonce_from_similarity(similarity(u, v), log_tau)


def infonce_grad(S: torch.Tensor, log_tau: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The hand-derived gradient :math:`(\partial L/\partial S, \partial L/\partial\log\tau)`.

    .. math:: \frac{\partial L}{\partial S} = \frac{(P - I) + (Q - I)}{2N\tau}, \qquad
       \frac{\partial L}{\partial\log\tau} = -\sum_{ij} \frac{\partial L}{\partial S_{ij}} S_{ij}.

    Args:
        S: ``(N, N)`` similarities, positives on the diagonal. log_tau: :math:`\log\tau`.

    Returns:
        ``(G, g)``: ``G`` of the shape of ``S`` and ``g`` a 0-d tensor, both without autograd history.
    """
    log_tau = check_number(log_tau, "log_tau")  # a float, detached from any graph
    S = S.detach()
    symmetric_infonce_from_similarity(S, log_tau)  # the checks of S
    n = S.shape[0]
    tau = torch.tensor(log_tau, dtype=S.dtype, device=S.device).exp()
    logits = S / tau
    P = torch.softmax(logits, dim=1)
    Q = torch.softmax(logits, dim=0)
    eye = torch.eye(n, dtype=S.dtype, device=S.device)
    G = (P - eye + Q - eye) / (2 * n * tau)
    return G, -(G * S).sum()
