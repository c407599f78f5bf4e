"""Shared test setup: every test starts from a clean course environment and a fixed seed."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _seeded(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    for var in ("TL_DEVICE", "TL_PROFILE", "TL_SEEDS"):
        monkeypatch.delenv(var, raising=False)
