"""Input checks shared by the helpers, so that bad input gets the same clear message everywhere.

A feature matrix is a 2-D floating-point tensor of shape (n_samples, n_features); a training set
is a pair ``(X, y)`` with ``X`` of shape (n, d) and ``y`` of shape (n,) on the same device.

Every check raises from here, naming the argument and saying what to do:

* shapes and types: :func:`check_tensor`, :func:`check_features`, :func:`check_feature_pair`,
  :func:`check_xy`;
* finiteness: :func:`check_finite`, with a shape :func:`check_shaped` (one ``torch.isfinite(T).all()``, so cheap enough to run on
  every input of a helper called at every training step; the count of bad entries is only
  computed on the error path);
* dtypes: :func:`check_same_dtype` (float32 mixed with float64 is refused, never cast silently);
* label domains: :func:`check_binary_labels` (:math:`y_i \\in \\{0, 1\\}`) and
  :func:`check_class_labels` (:math:`y_i \\in \\{0, \\dots, C-1\\}`);
* scalars: :func:`check_number`, :func:`check_positive`, :func:`check_interval`, :func:`check_int`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "FINITE_ADVICE",
    "FEATURE_ADVICE",
    "check_tensor",
    "check_finite",
    "check_shaped",
    "check_same_dtype",
    "check_features",
    "check_feature_pair",
    "check_xy",
    "check_binary_labels",
    "check_class_labels",
    "check_number",
    "check_positive",
    "check_interval",
    "check_int",
]

#: What to do about NaN or inf in an input, unless the caller says better.
FINITE_ADVICE = "drop or impute those entries first (e.g. keep the rows where torch.isfinite(X).all(1))"
#: The same for features a network computes while it trains (the inputs of the adaptation losses).
FEATURE_ADVICE = (FINITE_ADVICE + "; during training this means the network diverged: lower the learning "
                  "rate or the trade-off, or clip gradients")


def check_tensor(T: object, name: str) -> None:
    """Raise ``TypeError`` unless ``T`` is a ``torch.Tensor``."""
    if not isinstance(T, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(T).__name__}; wrap it with torch.as_tensor.")


def check_finite(T: torch.Tensor, name: str, *, advice: str = FINITE_ADVICE) -> None:
    r"""Raise ``ValueError`` when ``T`` holds a NaN or an infinity (integer tensors always pass).

    Costs one reduction read back (on a GPU, one synchronisation): the sum of the entries is finite
    only if every entry is (a NaN propagates, and :math:`+\infty` and :math:`-\infty` sum to NaN),
    and ``T.sum()`` is one reduction with no boolean copy of ``T``, cheaper than
    ``torch.isfinite(T).all()``. Only when the sum is not finite (a bad entry, or a sum of huge
    finite entries that overflows) is ``torch.isfinite`` consulted, which decides.

    Args:
        name: how the argument is called in the error message.
        advice: what the caller should do, for the message.
    """
    if not T.is_floating_point() and not T.is_complex():
        return
    total = T.detach().sum()
    if bool(torch.isfinite(total)) if T.is_complex() else math.isfinite(float(total)):
        return
    if bool(torch.isfinite(T).all()):
        return
    n_nan = int(torch.isnan(T).sum())
    n_inf = int(torch.isinf(T).sum())
    raise ValueError(
        f"{name} contains {n_nan} NaN and {n_inf} infinite value(s) out of {T.numel()}; {advice}. "
        "A single NaN would make every result NaN."
    )


def check_shaped(T: object, name: str, shape: tuple[int, ...], *, what: str = "",
                 allow_none: bool = False) -> None:
    """Raise unless ``T`` is a finite tensor of exactly ``shape`` (``what`` says what it must match),
    or None when ``allow_none``."""
    if T is None and allow_none:
        return
    check_tensor(T, name)
    if tuple(T.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}{' to match ' + what if what else ''}, "
                         f"got {tuple(T.shape)}.")
    check_finite(T, name)


def check_same_dtype(tensors: Sequence[torch.Tensor], names: Sequence[str]) -> None:
    """Raise ``TypeError`` unless every tensor has the dtype of the first.

    Mixing float32 and float64 is refused rather than cast silently: convert one explicitly.
    """
    first, first_name = tensors[0], names[0]
    for T, name in zip(tensors[1:], names[1:]):
        if T.dtype != first.dtype:
            raise TypeError(
                f"{first_name} is {first.dtype} but {name} is {T.dtype}; use one dtype for both, "
                f"e.g. convert {name} with .to({first.dtype})."
            )


def check_features(T: torch.Tensor, name: str, *, min_rows: int = 1, need: str = "this",
                   advice: str = FINITE_ADVICE) -> None:
    """Raise unless ``T`` is a finite floating-point tensor of shape (n, d) with at least
    ``min_rows`` rows.

    Args:
        name: how the argument is called in the error message.
        need: what needs the rows, for the message (e.g. ``"a covariance"``).
        advice: what to do about NaN or inf, for the message.
    """
    check_tensor(T, name)
    if T.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D tensor of shape (n_samples, n_features), got shape "
            f"{tuple(T.shape)}; flatten images first, e.g. X.flatten(1)."
        )
    if T.shape[0] < min_rows:
        raise ValueError(
            f"{name} has {T.shape[0]} samples, but {need} needs at least {min_rows} "
            f"(an empty batch? check the data loaders and drop_last)."
        )
    if not T.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {T.dtype}; convert it with {name}.float().")
    check_finite(T, name, advice=advice)


def check_feature_pair(
    A: torch.Tensor,
    B: torch.Tensor,
    names: tuple[str, str] = ("X", "Y"),
    *,
    min_rows: int = 1,
    need: str = "this",
    advice: str = FINITE_ADVICE,
) -> None:
    """Check two feature matrices (:func:`check_features`) and that they can be compared:
    the same number of features, the same dtype and the same device."""
    check_features(A, names[0], min_rows=min_rows, need=need, advice=advice)
    check_features(B, names[1], min_rows=min_rows, need=need, advice=advice)
    if A.shape[1] != B.shape[1]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same number of features (the same feature "
            f"size), got {A.shape[1]} and {B.shape[1]}: were they made by the same feature extractor?"
        )
    check_same_dtype((A, B), names)
    if A.device != B.device:
        raise ValueError(f"{names[0]} is on {A.device} and {names[1]} on {B.device}; move both to one device.")


def check_xy(X: torch.Tensor, y: torch.Tensor, *, allow_1d: bool = False, floating: bool = False,
             names: tuple[str, str] = ("X", "y")) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a training set (shapes, a sample at least, one device, no NaN or inf; with
    ``floating`` a floating-point ``X``) and return it, with a 1-D ``X`` made a column when
    ``allow_1d``.

    Returns:
        ``(X, y)`` with ``X`` of shape (n, d) and ``y`` of shape (n,).
    """
    nx, ny = names
    check_tensor(X, nx)
    check_tensor(y, ny)
    if allow_1d and X.ndim == 1:
        X = X.unsqueeze(-1)
    if X.ndim != 2:
        shapes = "(n, d) or (n,)" if allow_1d else "(n, d)"
        raise ValueError(f"{nx} must have shape {shapes}, got {tuple(X.shape)}.")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"{ny} must have shape ({X.shape[0]},) to match {nx}, got {tuple(y.shape)}.")
    if X.shape[0] == 0:
        raise ValueError(f"{nx} is empty (0 samples): at least one training point is needed.")
    if X.device != y.device:
        raise ValueError(f"{nx} is on {X.device} but {ny} is on {y.device}; move both to one device.")
    if floating and not X.is_floating_point():
        raise TypeError(f"{nx} must be a floating-point tensor (float64 recommended), got {X.dtype}.")
    check_finite(X, nx)
    check_finite(y, ny)
    return X, y


def check_binary_labels(y: torch.Tensor, name: str = "y") -> torch.Tensor:
    """Return ``y`` as a float tensor after checking that it is 1-D and every entry is 0 or 1.

    Raises:
        ValueError: a label other than 0/1 (e.g. -1/+1, NaN, or class indices of a multi-class task).
    """
    check_tensor(y, name)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row), got shape {tuple(y.shape)}.")
    bad = (y != 0) & (y != 1)
    if bool(bad.any()):
        values = torch.unique(y[bad])[:5].tolist()
        raise ValueError(
            f"{name} must hold binary labels 0 and 1 (in {{0, 1}}, as a Bernoulli likelihood needs), but "
            f"{name} contains {values}. Map -1/+1 labels with (y + 1) / 2, or binarise class indices first."
        )
    return y.to(torch.get_default_dtype() if not y.is_floating_point() else y.dtype)


def check_class_labels(y: torch.Tensor, name: str = "y", num_classes: int | None = None) -> torch.Tensor:
    """Return ``y`` as int64 after checking it holds class indices ``0..num_classes-1``.

    A floating-point ``y`` is accepted only when every entry is a whole number (so 0.5 is never
    truncated to 0 silently); ``num_classes=None`` only asks for indices >= 0.

    Raises:
        ValueError: not 1-D, empty, a fractional, NaN or negative label, or one >= ``num_classes``.
    """
    check_tensor(y, name)
    if y.ndim != 1 or y.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D tensor of class indices, got shape {tuple(y.shape)}.")
    if y.is_floating_point() or y.is_complex():
        whole = torch.isfinite(y) & (y == torch.round(y))
        if not bool(whole.all()):
            raise ValueError(
                f"{name} must hold class indices (whole numbers 0, 1, ...), but it contains "
                f"{torch.unique(y[~whole])[:5].tolist()}; pass integer labels (y.long() after checking them)."
            )
    elif y.dtype == torch.bool:
        y = y.long()
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or (num_classes is not None and hi >= num_classes):
        top = "" if num_classes is None else f"..{num_classes - 1}"
        raise ValueError(f"{name}: class labels must lie in 0{top} (class indices), got labels from {lo} "
                         f"to {hi}; remap the labels (or pass the right num_classes).")
    return y.long()


def check_number(x: object, name: str, *, advice: str = "") -> float:
    """``x`` as a float after checking it is one finite real number (a Python number or a
    one-element tensor; a bool is refused); ``advice`` is added to the message."""
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got a bool.")
    if isinstance(x, torch.Tensor):
        if x.numel() != 1 or x.is_complex():
            raise TypeError(f"{name} must be one real number, got a tensor of shape {tuple(x.shape)}.")
        value = float(x.detach())
    elif isinstance(x, (int, float, np.integer, np.floating)):
        value = float(x)
    else:
        raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r:.50}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}.{' ' + advice if advice else ''}")
    return value


def check_positive(x: object, name: str, *, allow_zero: bool = False, advice: str = "") -> object:
    """Raise unless ``x`` is finite and > 0 (>= 0 with ``allow_zero``); return it unchanged.

    ``x`` is a number or a tensor (every entry is checked; a parameter being optimised is read
    without its gradient).
    """
    if isinstance(x, torch.Tensor) and x.numel() != 1:
        v = x.detach()
        if v.numel() == 0 or not bool(torch.isfinite(v).all()):
            raise ValueError(f"{name} must hold finite numbers, got {v.tolist()}.{' ' + advice if advice else ''}")
        low = float(v.min())
    else:
        low = check_number(x, name, advice=advice)
    if low < 0 or (low == 0 and not allow_zero):
        bound = ">= 0 (non-negative)" if allow_zero else "positive (> 0)"
        raise ValueError(f"{name} must be {bound}, got {low:g}.{' ' + advice if advice else ''}")
    return x


def check_interval(x: object, name: str, low: float, high: float, *, include_low: bool = True,
                   include_high: bool = True) -> float:
    """``x`` as a float after checking it is a finite number in the interval from ``low`` to ``high``."""
    value = check_number(x, name)
    above = value >= low if include_low else value > low
    below = value <= high if include_high else value < high
    if not (above and below):
        interval = f"{'[' if include_low else '('}{low:g}, {high:g}{']' if include_high else ')'}"
        raise ValueError(f"{name} must lie in {interval}, got {value:g}.")
    return value


def check_int(x: object, name: str, *, minimum: int = 0) -> int:
    """``x`` as an int after checking it is an integer (not a bool) and ``>= minimum``."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(x).__name__} {x!r:.50}.")
    if int(x) < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {int(x)}.")
    return int(x)
