r"""Zero-shot classification in a shared image-text space: classes named, never seen as images.

A class :math:`c` is described by sentences (its name in a template such as "a photo of a {}.",
and descriptions); their embeddings in the shared space, unit vectors :math:`v`, are averaged and
normalised into one **class prototype** :math:`\bar v_c = \sum_{s \in c} v_s / \lVert\sum_{s\in c} v_s\rVert`
(prompt ensembling, Radford et al. 2021). An image with unit embedding :math:`u` is given the class
of the most similar prototype,

.. math:: \hat c(u) = \arg\max_{c \in \mathcal C} u^\top \bar v_c,

for any set :math:`\mathcal C` of classes, including classes of which no image was used in training:
only their names and descriptions are needed. Chance is :math:`1/|\mathcal C|`. Introduced in
notebook 14.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from transfer_utils.core.validation import check_features, check_tensor
from transfer_utils.language.reviews import check_sentences

__all__ = ["class_sentences", "class_prototypes", "zero_shot_predict", "zero_shot_accuracy"]


def class_sentences(names: Sequence[str], descriptions: Mapping[str, Sequence[str]] | None = None,
                    templates: Sequence[str] = ("a photo of a {}.",)) -> tuple[list[str], torch.Tensor]:
    """The sentences of each class and their labels: every template filled with the class name,
    then the class's descriptions (when given).

    Args:
        names: the class names; class ``k`` is ``names[k]``.
        descriptions: class name -> its sentences (every name needs a non-empty list when given).
        templates: strings with one ``{}`` for the name (may be empty when descriptions are given).

    Returns:
        ``(sentences, labels)``: a list of strings and an int64 tensor of the same length.

    Raises:
        TypeError, ValueError: no names, a repeated or empty name, a template without ``{}``, a name
            without descriptions, an empty sentence list.
    """
    names = check_sentences(list(names) if isinstance(names, (list, tuple)) else names, "names")
    if len(set(names)) != len(names):
        raise ValueError(f"names must be distinct, got {names}.")
    templates = list(templates)
    if any(not isinstance(t, str) or t.count("{}") != 1 for t in templates):
        raise ValueError(f"every template must be a string with exactly one '{{}}' for the name, got {templates}.")
    sentences: list[str] = []
    labels: list[int] = []
    for k, name in enumerate(names):
        own = [t.format(name) for t in templates]
        if descriptions is not None:
            if name not in descriptions:
                raise ValueError(f"descriptions has no entry for class {name!r}; give every class its sentences.")
            own += check_sentences(list(descriptions[name]), f"descriptions[{name!r}]")
        if not own:
            raise ValueError(f"class {name!r} has no sentence: give a template or descriptions.")
        sentences += own
        labels += [k] * len(own)
    return sentences, torch.tensor(labels, dtype=torch.int64)


def class_prototypes(text_embeddings: torch.Tensor, text_labels: torch.Tensor,
                     classes: Sequence[int]) -> torch.Tensor:
    r"""One unit vector per class: the normalised mean of its sentences' unit embeddings.

    Args:
        text_embeddings: ``(m, d)`` sentence embeddings in the shared space (normalised here).
        text_labels: ``(m,)`` the class of each sentence.
        classes: the classes wanted, in the order of the rows returned.

    Returns:
        ``(len(classes), d)`` prototypes :math:`\bar v_c`.

    Raises:
        ValueError: labels that do not match the rows, no classes, a repeated class, or a class
            without a sentence.
    """
    check_features(text_embeddings, "text_embeddings")
    check_tensor(text_labels, "text_labels")
    if text_labels.ndim != 1 or text_labels.shape[0] != text_embeddings.shape[0]:
        raise ValueError(f"text_labels must hold one label per row of text_embeddings: got shape "
                         f"{tuple(text_labels.shape)} for {text_embeddings.shape[0]} sentences.")
    classes = [int(c) for c in classes]
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be a non-empty list of distinct labels, got {classes}.")
    present = set(text_labels.tolist())
    missing = [c for c in classes if c not in present]
    if missing:
        raise ValueError(f"classes {missing} have no sentence in text_labels (labels present: "
                         f"{sorted(present)}); describe every class you want to classify.")
    V = F.normalize(text_embeddings, dim=1)
    return F.normalize(torch.stack([V[text_labels == c].mean(0) for c in classes]), dim=1)


def zero_shot_predict(image_embeddings: torch.Tensor, prototypes: torch.Tensor,
                      classes: Sequence[int]) -> torch.Tensor:
    r"""The class :math:`\arg\max_c u^\top \bar v_c` of each image, as labels taken from ``classes``.

    Raises:
        ValueError: widths that differ, or a number of classes unequal to the prototypes' rows.
    """
    check_features(image_embeddings, "image_embeddings")
    check_features(prototypes, "prototypes")
    if image_embeddings.shape[1] != prototypes.shape[1]:
        raise ValueError(f"image_embeddings have width {image_embeddings.shape[1]} but prototypes "
                         f"{prototypes.shape[1]}: embed both with the same heads.")
    classes = torch.as_tensor([int(c) for c in classes], dtype=torch.int64)
    if classes.numel() != prototypes.shape[0]:
        raise ValueError(f"{classes.numel()} classes named for {prototypes.shape[0]} prototypes.")
    scores = F.normalize(image_embeddings, dim=1) @ prototypes.T
    return classes[scores.argmax(1).cpu()]


def zero_shot_accuracy(image_embeddings: torch.Tensor, image_labels: torch.Tensor, prototypes: torch.Tensor,
                       classes: Sequence[int]) -> float:
    """The fraction of images whose :func:`zero_shot_predict` equals their label.

    Raises:
        ValueError: as :func:`zero_shot_predict`, or labels that do not match the images or lie
            outside ``classes``.
    """
    check_tensor(image_labels, "image_labels")
    if image_labels.ndim != 1 or image_labels.shape[0] != image_embeddings.shape[0]:
        raise ValueError(f"image_labels must hold one label per image: got shape {tuple(image_labels.shape)} "
                         f"for {image_embeddings.shape[0]} images.")
    outside = sorted(set(image_labels.tolist()) - {int(c) for c in classes})
    if outside:
        raise ValueError(f"image_labels holds {outside}, which are not among the classes {list(classes)}.")
    pred = zero_shot_predict(image_embeddings, prototypes, classes)
    return float((pred == image_labels.cpu()).double().mean())
