"""Digits as domains of one task: MNIST (source), USPS (target) and scikit-learn's 8x8 digits.

All three are read through their usual loaders from the data directory
(:func:`transfer_utils.core.paths.data_dir`), checked against their checksums
(:mod:`transfer_utils.data.checks`; MNIST and USPS by :mod:`transfer_utils.data.mnist_usps`, which
says how each is transformed) and brought to one common form,

* images: ``float32`` tensors of shape ``(N, 1, 28, 28)`` with values in ``[0, 1]``, ink bright on a
  dark background (the polarity of all three datasets);
* labels: ``int64`` tensors of shape ``(N,)`` with values ``0..9``.

**USPS splits.** torchvision knows a train split (``usps.bz2``, 7,291 images) and a test split
(``usps.t.bz2``, 2,007 images). When the train split is present, :func:`digit_domains` adapts on it
and evaluates on the test split. When only the test split is present (as offline here), the test
split is divided once by a fixed rule (:func:`usps_split`): within each class the images are
shuffled with the fixed seed :data:`USPS_SPLIT_SEED` and the first ``floor(n_c / 2)`` go to the
adaptation part, the rest to the evaluation part (1,002 and 1,005 images). The rule does not depend
on the ``seed`` of :func:`digit_domains`, so every experiment evaluates on the same images, and no
image is in both parts. The adaptation part keeps its labels in the tensors, for a
target-supervised upper bound only; an adaptation method must not read them.

Introduced in notebook 04; used in notebooks 05-08 and 10.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from transfer_utils.data.mnist_usps import (IMAGE_SIZE, mnist_raw, mnist_to_float, usps_has_train_split,
                                            usps_raw, usps_to_28)

__all__ = [
    "USPS_SPLIT_SEED",
    "DigitDomains",
    "usps_split",
    "stratified_subset",
    "digit_domains",
    "load_sklearn_digits",
]


USPS_SPLIT_SEED = 0
"""The fixed seed of the USPS test-split division into adaptation and evaluation parts."""


class DigitDomains(NamedTuple):
    """Source (MNIST) and target (USPS) data for the MNIST -> USPS task.

    Every field is a ``TensorDataset(X, y)`` with ``X`` float32 ``(N, 1, 28, 28)`` in ``[0, 1]`` and
    ``y`` int64 ``(N,)``.

    Attributes:
        source_train: labelled MNIST training images.
        source_test: MNIST test images (source-domain accuracy).
        target_train: the USPS adaptation part. Its labels are kept only for a
            target-supervised upper bound; adaptation methods use the images alone.
        target_test: the USPS evaluation part (target accuracy), disjoint from ``target_train``.
    """

    source_train: TensorDataset
    source_test: TensorDataset
    target_train: TensorDataset
    target_test: TensorDataset


def _check_labels(y: object, name: str) -> None:
    """Refuse labels that are not a non-empty 1-D tensor, naming the argument."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a 1-D torch tensor of labels, got {type(y).__name__}; "
                        f"convert it with torch.as_tensor({name}).")
    if y.ndim != 1:
        raise ValueError(f"labels {name} must be 1-D, got shape {tuple(y.shape)}.")
    if y.numel() == 0:
        raise ValueError(f"labels {name} is empty: there is nothing to draw from.")


def stratified_subset(y: torch.Tensor, n: int | None, generator: torch.Generator) -> torch.Tensor:
    """Indices of a random subset of ``n`` labels with class proportions kept (as far as integers allow).

    Each class is shuffled; the items are then ordered by their within-class rank divided by the
    class size, so any prefix of the order has (up to rounding) the class proportions of ``y``.

    Args:
        y: int64 labels ``(N,)``.
        n: subset size; None or ``n >= N`` keeps all ``N`` (in shuffled order).
        generator: the draw (deterministic given its seed).

    Returns:
        int64 indices ``(min(n, N),)``.
    """
    _check_labels(y, "y")
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"subset size must be a positive int or None, got {n!r}.")
    perm = torch.randperm(len(y), generator=generator)
    yp = y[perm]
    frac = torch.empty(len(y), dtype=torch.float64)
    for c in torch.unique(yp):
        pos = (yp == c).nonzero().squeeze(1)
        frac[pos] = (torch.arange(len(pos), dtype=torch.float64) + 0.5) / len(pos)
    order = perm[torch.argsort(frac, stable=True)]
    return order if n is None else order[:n]


def usps_split(y: torch.Tensor, seed: int = USPS_SPLIT_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed stratified division of the USPS test split: (adaptation indices, evaluation indices).

    Within each class ``c`` (``n_c`` images) the indices are shuffled with ``seed`` and the first
    ``floor(n_c / 2)`` form the adaptation part; the others form the evaluation part. Both are
    returned sorted.
    """
    _check_labels(y, "y")
    g = torch.Generator().manual_seed(seed)
    adapt, evaluate = [], []
    for c in torch.unique(y):
        idx = (y == c).nonzero().squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=g)]
        half = len(idx) // 2
        adapt.append(idx[:half])
        evaluate.append(idx[half:])
    return torch.sort(torch.cat(adapt)).values, torch.sort(torch.cat(evaluate)).values


def _subset_index(y: torch.Tensor, n: int | None, seed: int) -> torch.Tensor:
    return torch.sort(stratified_subset(y, n, torch.Generator().manual_seed(seed))).values


def digit_domains(n_source: int | None = None, n_target: int | None = None, seed: int = 0) -> DigitDomains:
    """MNIST (source) and USPS (target) in the common form, as four :class:`TensorDataset` s.

    Args:
        n_source: size of ``source_train`` and of ``source_test`` (each capped at its split's size:
            60,000 and 10,000); None uses all.
        n_target: size of ``target_train`` and of ``target_test`` (each capped at its part's size);
            None uses all.
        seed: which stratified subsets are drawn (the USPS adaptation/evaluation division is fixed
            and does not depend on it; see the module docstring).

    Returns:
        :class:`DigitDomains`. Deterministic given the arguments and the files present.
    """
    for name, n in (("n_source", n_source), ("n_target", n_target)):
        if n is not None and (not isinstance(n, int) or n < 1):
            raise ValueError(f"{name} must be a positive int or None, got {n!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    parts = []
    for k, train in enumerate((True, False)):
        data, y = mnist_raw(train)
        idx = _subset_index(y, n_source, 4 * seed + k)
        parts.append(TensorDataset(mnist_to_float(data[idx]), y[idx]))
    if usps_has_train_split():
        (Da, ya), (De, ye) = usps_raw(train=True), usps_raw(train=False)
    else:
        Du, yu = usps_raw(train=False)
        ia, ie = usps_split(yu)
        Da, ya, De, ye = Du[ia], yu[ia], Du[ie], yu[ie]
    for k, (D, y) in enumerate(((Da, ya), (De, ye))):
        idx = _subset_index(y, n_target, 4 * seed + 2 + k)
        parts.append(TensorDataset(usps_to_28(D[idx]), y[idx]))
    return DigitDomains(*parts)


def load_sklearn_digits() -> TensorDataset:
    """scikit-learn's 1,797 8x8 digits (no download) in the common form.

    .. math:: x' = \\operatorname{bilinear}_{8\\to 28}(x / 16)

    Returns:
        ``TensorDataset(X, y)``: float32 ``(1797, 1, 28, 28)`` in ``[0, 1]``, int64 ``(1797,)``.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.as_tensor(bunch.images, dtype=torch.float32).div_(16.0).unsqueeze(1)
    x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
    return TensorDataset(x.clamp_(0.0, 1.0), torch.as_tensor(bunch.target, dtype=torch.int64))
