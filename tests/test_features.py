"""Tests for transfer_utils.nets.features: batching, dict outputs and the atomic cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from transfer_utils.nets.features import extract_features, feature_cache_path


def test_batched_equals_one_pass() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    X = torch.randn(10, 3, 2, 2)
    Z = extract_features(model, X, batch_size=3, progress=False)
    with torch.no_grad():
        torch.testing.assert_close(Z, model(X))
    assert not Z.requires_grad


def test_dict_outputs() -> None:
    X = torch.randn(7, 5)
    out = extract_features(lambda x: {"a": x * 2, "b": x[:, :2]}, X, batch_size=2, progress=False)
    torch.testing.assert_close(out["a"], X * 2)
    torch.testing.assert_close(out["b"], X[:, :2])


def test_cache_is_written_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path))
    calls = []

    def model(x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return x + 1

    X = torch.randn(6, 3)
    first = extract_features(model, X, batch_size=4, progress=False, cache_key="toy-v1")
    assert feature_cache_path("toy-v1").is_file() and calls == [4, 2]
    second = extract_features(model, X, batch_size=4, progress=False, cache_key="toy-v1")
    assert calls == [4, 2]  # read from the cache
    torch.testing.assert_close(first, second)
    feature_cache_path("toy-v1").write_bytes(b"garbage")  # corrupted: recomputed
    torch.testing.assert_close(extract_features(model, X, progress=False, cache_key="toy-v1"), X + 1)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        extract_features(nn.Identity(), torch.empty(0, 3), progress=False)
    with pytest.raises(ValueError, match="expected \\(B, D\\)"):
        extract_features(nn.Identity(), torch.randn(2, 3, 4), progress=False)
    with pytest.raises(ValueError, match="cache_key"):
        feature_cache_path("../evil")


def test_loader_input_gives_the_tensor_result_and_the_labels():
    """A loader of (x, y) batches gives the same features as the tensor path, and the labels."""
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(10, 4, generator=g), torch.arange(10)
    model = nn.Linear(4, 3)
    Z, labels = extract_features(model, DataLoader(TensorDataset(X, y), batch_size=3), progress=False)
    torch.testing.assert_close(Z, extract_features(model, X, batch_size=4, progress=False))
    torch.testing.assert_close(Z, model(X).detach())
    assert torch.equal(labels, y)
    Z2, none = extract_features(model, [X[:5], X[5:]], progress=False)  # batches without labels
    torch.testing.assert_close(Z2, Z)
    assert none is None
    with pytest.raises(ValueError, match="cache_key"):
        extract_features(model, [X], progress=False, cache_key="k")
    with pytest.raises(ValueError, match="no batches"):
        extract_features(model, [], progress=False)
