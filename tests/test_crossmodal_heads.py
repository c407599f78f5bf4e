"""Tests for transfer_utils.crossmodal.heads: the projection heads, the pairing of the training loop,
what training achieves on a synthetic pair of modalities, and clear errors for bad input."""

from __future__ import annotations

import math

import pytest
import torch

from tests.badinput import expect_clear_error
from transfer_utils.crossmodal.heads import ProjectionHeads, train_projection_heads
from transfer_utils.crossmodal.infonce import symmetric_infonce
from transfer_utils.crossmodal.zeroshot import class_prototypes, zero_shot_accuracy


def _two_modalities(n_per_class: int, classes: int, seed: int):
    """Images and texts of the same classes in two spaces of different widths: each modality is a
    random linear image of shared class codes, plus noise."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.randn(classes, 6, generator=g, dtype=torch.float64)
    A, B = torch.randn(6, 20, generator=g, dtype=torch.float64), torch.randn(6, 12, generator=g, dtype=torch.float64)
    y = torch.arange(classes).repeat_interleave(n_per_class)
    X = codes[y] @ A + 0.3 * torch.randn(len(y), 20, generator=g, dtype=torch.float64)
    t = torch.arange(classes).repeat_interleave(3)
    T = codes[t] @ B + 0.3 * torch.randn(len(t), 12, generator=g, dtype=torch.float64)
    return X, y, T, t


def test_heads_embed_to_unit_vectors_after_standardising() -> None:
    X, y, T, t = _two_modalities(10, 3, 0)
    heads = ProjectionHeads(X, T, dim=5, tau0=0.5, generator=torch.Generator().manual_seed(0))
    U, V = heads.embed_images(X), heads.embed_texts(T)
    torch.testing.assert_close(U.norm(dim=1), torch.ones(len(X), dtype=torch.float64))
    assert V.shape == (len(T), 5) and heads.tau == pytest.approx(0.5)
    manual = heads.image((X - X.mean(0)) / X.std(0))
    torch.testing.assert_close(U, manual / manual.norm(dim=1, keepdim=True))


def test_same_generator_same_heads() -> None:
    X, _, T, _ = _two_modalities(5, 2, 0)
    a = ProjectionHeads(X, T, generator=torch.Generator().manual_seed(4))
    b = ProjectionHeads(X, T, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(a.image.weight, b.image.weight)


def test_training_aligns_the_modalities_and_learns_tau() -> None:
    X, y, T, t = _two_modalities(30, 4, 1)
    heads = ProjectionHeads(X, T, dim=8, tau0=1.0, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = float(symmetric_infonce(heads.embed_images(X[::30]), heads.embed_texts(T[::3]), heads.log_tau))
    hist = train_projection_heads(heads, X, y, T, t, epochs=60, batch_size=16, lr=1e-2, tau_lr=3e-2,
                                  generator=torch.Generator().manual_seed(2))
    assert len(hist.loss) == 60 and len(hist.tau) == 60
    with torch.no_grad():
        after = float(symmetric_infonce(heads.embed_images(X[::30]), heads.embed_texts(T[::3]), heads.log_tau))
        U, V = heads.embed_images(X), heads.embed_texts(T)
        acc = zero_shot_accuracy(U, y, class_prototypes(V, t, range(4)), range(4))
    # one image and one text per class: aligned classes give a loss far below chance, log 4
    assert after < 0.2 < math.log(4) < before + 1.0
    assert acc == 1.0
    assert hist.tau[-1] < 0.5  # separable classes: the temperature falls from 1
    assert hist.loss[-1] < hist.loss[0]


def test_bad_inputs_are_refused_clearly() -> None:
    X, y, T, t = _two_modalities(5, 2, 0)
    heads = ProjectionHeads(X, T, dim=3)
    expect_clear_error(lambda: train_projection_heads(heads, X, y[:-1], T, t), "image_labels", "images")
    expect_clear_error(lambda: train_projection_heads(heads, X, y, T, t[:-1]), "text_labels", "texts")
    expect_clear_error(lambda: train_projection_heads(heads, X, y, T, torch.zeros_like(t)), "[1]", "text")
    expect_clear_error(lambda: train_projection_heads(heads, X, y.double(), T, t), "integer")
    expect_clear_error(lambda: train_projection_heads(heads, X, y, T, t, batch_size=1), "batch_size")
    expect_clear_error(lambda: heads.embed_images(T), "width")
    expect_clear_error(lambda: ProjectionHeads(X, T, tau0=0.0), "tau0")
    expect_clear_error(lambda: ProjectionHeads(X[:1], T), "image_features")
