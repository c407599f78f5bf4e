r"""From token vectors to a sentence vector: mean pooling, its gradient, and batched embedding.

A transformer maps a sentence of :math:`T` tokens to token vectors :math:`h_1, \dots, h_T \in
\mathbb{R}^d`. Sentences in a batch are padded to one length; the attention mask :math:`m_t \in
\{0, 1\}` marks the real tokens. Mean pooling averages the real ones:

.. math:: z = \frac{\sum_t m_t h_t}{\sum_t m_t},

so padding (:math:`m_t = 0`) changes nothing. It is linear in the :math:`h_t`, so a loss
:math:`L(z)` sends back to each token vector the same share of the gradient:

.. math:: \frac{\partial L}{\partial h_t} = \frac{m_t}{\sum_s m_s} \, \frac{\partial L}{\partial z}
   \quad (\text{zero for padding}),

which :func:`mean_pool_vjp` computes; from there the chain rule runs into every layer of the encoder,
which is what fine-tuning follows.
"""

from __future__ import annotations

import hashlib
import pickle
from typing import Any

import torch

from transfer_utils.core.atomic import atomic_path
from transfer_utils.core.paths import cache_dir
from transfer_utils.core.progress import progress_bar
from transfer_utils.core.validation import check_finite, check_int, check_tensor
from transfer_utils.language.reviews import check_sentences

__all__ = ["mean_pool", "mean_pool_vjp", "encode_batch", "embed_sentences", "cached_embeddings"]


def _check_mask(hidden: torch.Tensor, mask: torch.Tensor) -> None:
    check_tensor(hidden, "hidden")
    check_tensor(mask, "mask")
    if hidden.ndim != 3 or mask.shape != hidden.shape[:2]:
        raise ValueError(f"hidden must have shape (batch, tokens, d) and mask (batch, tokens); got "
                         f"{tuple(hidden.shape)} and {tuple(mask.shape)}.")
    if bool(((mask != 0) & (mask != 1)).any()):
        raise ValueError("mask must hold 0 (padding) and 1 (a real token) only.")
    if bool((mask.sum(1) == 0).any()):
        raise ValueError("a row of mask has no real token: every sentence needs at least one.")
    check_finite(hidden, "hidden")


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""Masked mean of token vectors: :math:`z_b = \sum_t m_{bt} h_{bt} / \sum_t m_{bt}`.

    Args:
        hidden: (batch, tokens, d) token vectors. mask: (batch, tokens), 1 for a real token.

    Returns:
        (batch, d) sentence vectors, differentiable in ``hidden``.
    """
    _check_mask(hidden, mask)
    m = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * m).sum(1) / m.sum(1)


def mean_pool_vjp(grad_z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""The gradient through mean pooling: :math:`\partial L/\partial h_{bt} = m_{bt} \, g_b /
    \sum_s m_{bs}` for :math:`g_b = \partial L/\partial z_b`.

    Args:
        grad_z: (batch, d) gradient of the loss with respect to the pooled vectors.
        mask: (batch, tokens) attention mask.

    Returns:
        (batch, tokens, d), zero at padding.
    """
    check_tensor(grad_z, "grad_z")
    if grad_z.ndim != 2:
        raise ValueError(f"grad_z must have shape (batch, d), got {tuple(grad_z.shape)}.")
    _check_mask(grad_z.new_zeros(*mask.shape, grad_z.shape[1]), mask)
    if mask.shape[0] != grad_z.shape[0]:
        raise ValueError(f"grad_z has {grad_z.shape[0]} rows but mask {mask.shape[0]}.")
    m = mask.to(grad_z.dtype)
    return (m / m.sum(1, keepdim=True)).unsqueeze(-1) * grad_z.unsqueeze(1)


def encode_batch(tokenizer: Any, model: Any, sentences: list[str], max_length: int = 48) -> torch.Tensor:
    """Mean-pooled sentence vectors of one batch, differentiable in the model's parameters.

    Tokenised with padding to the longest sentence of the batch and truncation to ``max_length``
    tokens (``[CLS]`` and ``[SEP]`` included); the tensors go to the model's device.
    """
    sentences = check_sentences(sentences)
    check_int(max_length, "max_length", minimum=3)
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=max_length,
                      return_tensors="pt")
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    hidden = model(**batch).last_hidden_state
    return mean_pool(hidden, batch["attention_mask"])


def embed_sentences(tokenizer: Any, model: Any, sentences: list[str], *, batch_size: int = 64,
                    max_length: int = 48, progress: bool = True) -> torch.Tensor:
    """Sentence embeddings (n, d) in float32 on the CPU, in the order of ``sentences``.

    The sentences are sorted by length before batching (less padding, the same result: padding
    does not change a mean-pooled vector) and computed without gradients.

    Raises:
        TypeError, ValueError: an empty list, a sentence that is not a non-empty string, a
            ``batch_size`` or ``max_length`` that is not a positive integer.
    """
    sentences = check_sentences(sentences)
    check_int(batch_size, "batch_size", minimum=1)
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    out: list[torch.Tensor] = []
    starts = range(0, len(order), batch_size)
    with torch.no_grad():
        for start in progress_bar(starts, desc="embedding", disable=not progress):
            chunk = [sentences[i] for i in order[start:start + batch_size]]
            out.append(encode_batch(tokenizer, model, chunk, max_length).float().cpu())
    Z = torch.cat(out)
    result = torch.empty_like(Z)
    result[torch.tensor(order)] = Z
    return result


def cached_embeddings(tokenizer: Any, model: Any, sentences: list[str], *, tag: str,
                      max_length: int = 48, batch_size: int = 64, progress: bool = True) -> torch.Tensor:
    """:func:`embed_sentences`, remembered in ``cache_dir()/embeddings/`` (written atomically).

    The file name is a SHA-256 of ``tag`` (name the model and its weights' digest), ``max_length``,
    the CPU kernel in use (``torch.backends.cpu.get_cpu_capability()``) and the sentences, so that a
    change of any of them computes afresh. A damaged file is recomputed.
    """
    sentences = check_sentences(sentences)
    if not isinstance(tag, str) or not tag:
        raise ValueError("tag must be a non-empty string naming the model, e.g. its weights' digest.")
    key = hashlib.sha256("\n".join([tag, str(max_length), torch.backends.cpu.get_cpu_capability(),
                                    str(model.device), *sentences]).encode()).hexdigest()[:32]
    path = cache_dir() / "embeddings" / f"{key}.pt"
    if path.is_file():
        try:
            Z = torch.load(path, weights_only=True)
            if isinstance(Z, torch.Tensor) and Z.shape[0] == len(sentences):
                return Z
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
            pass  # damaged: compute again
    Z = embed_sentences(tokenizer, model, sentences, batch_size=batch_size, max_length=max_length,
                        progress=progress)
    with atomic_path(path) as tmp:
        torch.save(Z, tmp)
    return Z
