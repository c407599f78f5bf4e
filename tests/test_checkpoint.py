import os

import pytest
import torch
from torch import nn

from transfer_utils.core import atomic
from transfer_utils.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def _model(hidden: int = 4) -> nn.Module:
    return nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, 2))


def test_round_trip_with_optimizer_and_extra(tmp_path):
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path / "m.pt", model, opt, epoch=3, note="hi", history={"loss": [1.0, 0.5]})
    fresh, fresh_opt = _model(), torch.optim.Adam(_model().parameters(), lr=0.1)
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=0.1)
    extra = load_checkpoint(path, fresh, fresh_opt)
    assert extra == {"epoch": 3, "note": "hi", "history": {"loss": [1.0, 0.5]}}
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert fresh_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        load_checkpoint(tmp_path / "none.pt", _model())


def test_truncated_file_is_clear(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _model())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupted or truncated.*Delete it"):
        load_checkpoint(path, _model())


def test_garbage_file_is_clear(tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        load_checkpoint(path, _model())


def test_foreign_torch_file_is_clear(tmp_path):
    path = tmp_path / "m.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a checkpoint written by"):
        load_checkpoint(path, _model())


def test_other_model_class_is_clear(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))
    with pytest.raises(CheckpointError, match="holds a torch.nn.modules.linear.Linear"):
        load_checkpoint(path, _model())


def test_other_shape_is_clear(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _model(hidden=4))
    with pytest.raises(CheckpointError, match="differently shaped.*shape of"):
        load_checkpoint(path, _model(hidden=5))


def test_loads_with_weights_only(tmp_path, monkeypatch):
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    load_checkpoint(save_checkpoint(tmp_path / "m.pt", _model()), _model())
    assert seen.get("weights_only") is True


def test_save_rejects_non_module(tmp_path):
    with pytest.raises(TypeError, match="nn.Module"):
        save_checkpoint(tmp_path / "m.pt", {"w": torch.zeros(1)})


def test_a_save_into_the_cache_removes_a_killed_save_s_leftover(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    leftover = cache / "models" / ".digit_cnn_mnist.pt.k2j4h6g8.tmp"  # the old naming, no pid
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a checkpoint")
    os.utime(leftover, (0, 0))  # long ago
    young = cache / "models" / ".other.pt.q1w2e3r4.tmp"  # perhaps a live writer: kept
    young.write_bytes(b"being written")
    monkeypatch.setenv("TL_CACHE_DIR", str(cache))
    monkeypatch.setattr(atomic, "_CLEANED", set())
    save_checkpoint(cache / "models" / "m.pt", _model())
    assert not leftover.exists() and young.exists()
    assert sorted(p.name for p in (cache / "models").iterdir()) == [".other.pt.q1w2e3r4.tmp", "m.pt"]
