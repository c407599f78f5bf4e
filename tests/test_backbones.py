"""Tests for transfer_utils.nets.backbones: real weights, honest labels, stages, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from transfer_utils.nets.backbones import (
    LITE_MEAN,
    LITE_STD,
    WeightsUnavailableError,
    efficientnet_lite0_weights_path,
    load_backbone,
)
from transfer_utils.nets.scratch import SmallCNN, train_scratch


@pytest.fixture(scope="module")
def lite() -> torch.nn.Module:
    return load_backbone("efficientnet_lite0", image_size=64)


def test_lite0_loads_the_wheel_weights(lite) -> None:
    state = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    assert lite.pretrained and "ImageNet" in lite.weights
    # the stem convolution holds exactly the shipped tensor (independent read of the file)
    torch.testing.assert_close(lite.body[0][0].weight, state["_conv_stem.weight"], rtol=0, atol=0)
    torch.testing.assert_close(lite.body[-1][1].running_var, state["_bn1.running_var"], rtol=0, atol=0)


def test_random_init_is_labelled_as_such() -> None:
    rand = load_backbone("efficientnet_lite0", pretrained=False, image_size=32)
    assert not rand.pretrained and "NOT pretrained" in rand.weights


def test_matches_the_reference_network(lite) -> None:
    """Our re-grouped stages compute exactly the package's own forward pass (features before _fc)."""
    from efficientnet_lite_pytorch import EfficientNet

    ref = EfficientNet.from_name("efficientnet-lite0", image_size=64)
    ref.load_state_dict(torch.load(efficientnet_lite0_weights_path(), weights_only=True))
    ref.eval()
    x = torch.rand(2, 3, 64, 64)
    mean, std = torch.tensor(LITE_MEAN).view(1, 3, 1, 1), torch.tensor(LITE_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = ref.extract_features((x - mean) / std).mean(dim=(2, 3))
        torch.testing.assert_close(lite(x), expected)
        stages = lite.forward_stages(x)
    assert list(stages) == list(lite.stages) and lite.stages[-1] == "head"
    torch.testing.assert_close(stages["head"], expected)
    assert all(v.shape[0] == 2 and v.ndim == 2 for v in stages.values())


def test_resizes_any_input(lite) -> None:
    with torch.no_grad():
        assert lite(torch.rand(3, 3, 32, 32)).shape == (3, lite.feature_dim)


def test_bad_inputs(lite) -> None:
    with pytest.raises(ValueError, match="RGB"):
        lite(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="Unknown backbone"):
        load_backbone("vgg16")
    with pytest.raises(ValueError, match="multiple of 32"):
        load_backbone("efficientnet_lite0", image_size=50)


def test_resnet_offline_without_weights_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TL_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(WeightsUnavailableError) as err:
        load_backbone("resnet50")
    msg = str(err.value)
    assert "resnet50-" in msg and str(tmp_path / "checkpoints") in msg and "efficientnet_lite0" in msg
    rand = load_backbone("resnet18", pretrained=False, image_size=64)  # no weights needed
    assert not rand.pretrained and rand.feature_dim == 512
    assert rand(torch.rand(1, 3, 64, 64)).shape == (1, 512)


def test_train_scratch_budget_schedule_and_fit() -> None:
    g = torch.Generator().manual_seed(0)
    X = torch.rand(20, 3, 32, 32, generator=g)
    y = torch.arange(10).repeat(2)
    model, history = train_scratch(SmallCNN, X, y, seed=3, steps=60, min_epochs=5, lr=1e-2, batch_size=8)
    assert len(history["epoch"]) == 20  # 3 batches per epoch: max(60 steps, 5 epochs) = 20 epochs
    # one cycle: the rate peaks at lr about 30 % of the way (epoch 6 of 20) and ends far below it
    assert max(history["lr"]) == pytest.approx(1e-2, rel=1e-2)
    assert history["lr"].index(max(history["lr"])) == 5 and history["lr"][-1] < 1e-2 / 100
    model.eval()
    with torch.no_grad():
        assert (model(X).argmax(1) == y).float().mean() == 1.0  # it fits its labels
    again, _ = train_scratch(SmallCNN, X, y, seed=3, steps=60, min_epochs=5, lr=1e-2, batch_size=8)
    for a, b in zip(model.parameters(), again.parameters()):  # the seed fixes the whole run
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ValueError, match="Need X"):
        train_scratch(SmallCNN, X, y[:-1], seed=0)
    with pytest.raises(ValueError, match="positive"):
        train_scratch(SmallCNN, X, y, seed=0, steps=0)
    with pytest.raises(ValueError, match="positive"):
        train_scratch(SmallCNN, X, y, seed=0, lr=float("nan"))
