"""Tests for transfer_utils.crossmodal.zeroshot and .descriptions: prototypes and predictions against
loops, the class sentences, and clear errors for bad input."""

from __future__ import annotations

import re

import torch

from tests.badinput import expect_clear_error
from transfer_utils.crossmodal.descriptions import CIFAR10_DESCRIPTIONS, NAME_TEMPLATES
from transfer_utils.crossmodal.zeroshot import (class_prototypes, class_sentences, zero_shot_accuracy,
                                                zero_shot_predict)
from transfer_utils.data.cifar import CIFAR10_CLASSES


def test_class_sentences_order_and_labels() -> None:
    sentences, labels = class_sentences(["cat", "dog"], {"cat": ["a", "b"], "dog": ["c"]}, ("x {}.", "{} y"))
    assert sentences == ["x cat.", "cat y", "a", "b", "x dog.", "dog y", "c"]
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1]
    names_only, lab = class_sentences(["ship"])
    assert names_only == ["a photo of a ship."] and lab.tolist() == [0]


def test_prototypes_match_a_loop() -> None:
    g = torch.Generator().manual_seed(0)
    V = torch.randn(9, 4, generator=g, dtype=torch.float64)
    labels = torch.tensor([2, 0, 2, 1, 0, 2, 1, 1, 0])
    P = class_prototypes(V, labels, [1, 2])
    for row, c in enumerate([1, 2]):
        total = torch.zeros(4, dtype=torch.float64)
        for k in range(9):
            if int(labels[k]) == c:
                total += V[k] / V[k].norm()
        torch.testing.assert_close(P[row], total / total.norm())


def test_predict_matches_a_loop_and_accuracy_counts() -> None:
    g = torch.Generator().manual_seed(1)
    U, P = torch.randn(12, 3, generator=g), torch.nn.functional.normalize(torch.randn(3, 3, generator=g), dim=1)
    classes = [7, 4, 9]
    pred = zero_shot_predict(U, P, classes)
    for i in range(12):
        u = U[i] / U[i].norm()
        best = max(range(3), key=lambda k: float(u @ P[k]))
        assert int(pred[i]) == classes[best]
    assert zero_shot_accuracy(U, pred, P, classes) == 1.0
    wrong = pred.clone()
    wrong[0] = [c for c in classes if c != int(pred[0])][0]
    assert abs(zero_shot_accuracy(U, wrong, P, classes) - 11 / 12) < 1e-12


def test_the_prototype_of_an_image_is_its_own_class() -> None:
    # hand case: images equal to the prototypes are classified as their classes
    P = torch.eye(4)[:3]
    assert zero_shot_predict(2 * P, P, [5, 6, 8]).tolist() == [5, 6, 8]


def test_descriptions_cover_every_class_and_name_no_other() -> None:
    assert set(CIFAR10_DESCRIPTIONS) == set(CIFAR10_CLASSES)
    for name, sentences in CIFAR10_DESCRIPTIONS.items():
        assert len(sentences) == 8 and len(set(sentences)) == 8
        others = [c for c in CIFAR10_CLASSES if c != name]
        for s in sentences:
            found = [c for c in others if re.search(rf"\b{c}s?\b", s.lower())]
            assert not found, (name, s, found)
    assert all(t.count("{}") == 1 for t in NAME_TEMPLATES)


def test_bad_inputs_are_refused_clearly() -> None:
    expect_clear_error(lambda: class_sentences([]), "empty")
    expect_clear_error(lambda: class_sentences(["cat", "cat"]), "distinct")
    expect_clear_error(lambda: class_sentences(["cat"], {"dog": ["x"]}), "cat")
    expect_clear_error(lambda: class_sentences(["cat"], {"cat": []}), "empty")
    expect_clear_error(lambda: class_sentences(["cat"], None, ("no placeholder",)), "template")
    V = torch.randn(4, 3)
    expect_clear_error(lambda: class_prototypes(V, torch.tensor([0, 1, 1]), [0, 1]), "one label per row")
    expect_clear_error(lambda: class_prototypes(V, torch.tensor([0, 1, 1, 0]), [0, 2]), "[2]")
    expect_clear_error(lambda: class_prototypes(V, torch.tensor([0, 1, 1, 0]), []), "non-empty")
    P = class_prototypes(V, torch.tensor([0, 1, 1, 0]), [0, 1])
    expect_clear_error(lambda: zero_shot_predict(torch.randn(5, 2), P, [0, 1]), "width")
    expect_clear_error(lambda: zero_shot_predict(torch.randn(5, 3), P, [0, 1, 2]), "prototypes")
    expect_clear_error(lambda: zero_shot_accuracy(torch.randn(5, 3), torch.zeros(4, dtype=torch.long), P, [0, 1]),
                       "one label per image")
    expect_clear_error(lambda: zero_shot_accuracy(torch.randn(2, 3), torch.tensor([0, 3]), P, [0, 1]), "[3]")
