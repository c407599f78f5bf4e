"""Input checks shared by the helpers, so that bad input gets the same clear message everywhere.

A feature matrix is a 2-D floating-point tensor of shape (n_samples, n_features); a training set
is a pair ``(X, y)`` with ``X`` of shape (n, d) and ``y`` of shape (n,) on the same device.
"""

from __future__ import annotations

import torch

__all__ = ["check_features", "check_feature_pair", "check_xy"]


def check_features(T: torch.Tensor, name: str, *, min_rows: int = 1, need: str = "this") -> None:
    """Raise unless ``T`` is a floating-point tensor of shape (n, d) with at least ``min_rows`` rows.

    Args:
        name: how the argument is called in the error message.
        need: what needs the rows, for the message (e.g. ``"a covariance"``).
    """
    if not isinstance(T, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(T).__name__}.")
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
        raise TypeError(f"{name} must be a floating-point tensor, got {T.dtype}.")


def check_feature_pair(
    A: torch.Tensor,
    B: torch.Tensor,
    names: tuple[str, str] = ("X", "Y"),
    *,
    min_rows: int = 1,
    need: str = "this",
) -> None:
    """Check two feature matrices (:func:`check_features`) and that they can be compared:
    the same number of features and the same device."""
    check_features(A, names[0], min_rows=min_rows, need=need)
    check_features(B, names[1], min_rows=min_rows, need=need)
    if A.shape[1] != B.shape[1]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same number of features (the same feature "
            f"size), got {A.shape[1]} and {B.shape[1]}: were they made by the same feature extractor?"
        )
    if A.device != B.device:
        raise ValueError(f"{names[0]} is on {A.device} and {names[1]} on {B.device}; move both to one device.")


def check_xy(X: torch.Tensor, y: torch.Tensor, *, allow_1d: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a training set and return it, with a 1-D ``X`` made a column when ``allow_1d``.

    Returns:
        ``(X, y)`` with ``X`` of shape (n, d) and ``y`` of shape (n,).
    """
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"X and y must be torch tensors, got {type(X).__name__} and {type(y).__name__}.")
    if allow_1d and X.ndim == 1:
        X = X.unsqueeze(-1)
    if X.ndim != 2:
        shapes = "(n, d) or (n,)" if allow_1d else "(n, d)"
        raise ValueError(f"X must have shape {shapes}, got {tuple(X.shape)}.")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {tuple(y.shape)}.")
    if X.shape[0] == 0:
        raise ValueError("X is empty (0 samples): at least one training point is needed.")
    if X.device != y.device:
        raise ValueError(f"X is on {X.device} but y is on {y.device}; move both to one device.")
    return X, y
