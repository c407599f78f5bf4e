import pytest
import torch

from transfer_utils.nets import source_models
from transfer_utils.core.checkpoint import save_checkpoint
from transfer_utils.nets.source_models import (DIGIT_MODEL_VERSION, DigitCNN, digit_source_model_path,
                                          get_digit_source_model)


def test_shapes_and_parts():
    model = DigitCNN().eval()
    x = torch.rand(5, 1, 28, 28)
    feats = model.features(x)
    assert feats.shape == (5, 128) and (feats >= 0).all()
    torch.testing.assert_close(model(x), model.classifier(feats))
    assert model.classifier.in_features == 128 and model.classifier.out_features == 10
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        model(torch.rand(5, 1, 16, 16))


def test_gradient_matches_finite_differences():
    """Autograd's input gradient against a central difference along random directions (float64)."""
    torch.manual_seed(0)
    model = DigitCNN().double().eval()
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64, requires_grad=True)
    f = lambda z: model(z)[:, 3].sum()  # noqa: E731
    (grad,) = torch.autograd.grad(f(x), x)
    h = 1e-6
    for _ in range(3):
        v = torch.randn_like(x)
        with torch.no_grad():
            fd = (f(x + h * v) - f(x - h * v)) / (2 * h)
        torch.testing.assert_close((grad * v).sum(), fd, rtol=1e-5, atol=1e-7)


class _FakeTrainer:
    """Stands in for the minute-long MNIST training: returns a fresh model and counts calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, device, progress):
        self.calls += 1
        torch.manual_seed(self.calls)
        return DigitCNN().to(device), {"version": DIGIT_MODEL_VERSION, "mnist_test_acc": 0.5,
                                       "usps_acc": 0.4, "train_time_s": 0.0, "train_device": "cpu"}


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path))
    trainer = _FakeTrainer()
    monkeypatch.setattr(source_models, "_train", trainer)
    return trainer


def test_trains_once_then_reuses_cache(fake, tmp_path):
    first = get_digit_source_model(device="cpu", progress=False)
    assert fake.calls == 1 and not first.training
    path = digit_source_model_path()
    assert path.is_file() and tmp_path in path.parents
    second = get_digit_source_model(device="cpu", progress=False)
    assert fake.calls == 1 and not second.training
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert second.cache_info["version"] == DIGIT_MODEL_VERSION


def test_old_version_is_rebuilt_not_loaded(fake, capsys):
    save_checkpoint(digit_source_model_path(), DigitCNN(), version="digit-cnn-mnist/0")
    get_digit_source_model(device="cpu", progress=False)
    assert fake.calls == 1
    assert "rebuilding" in capsys.readouterr().out
    get_digit_source_model(device="cpu", progress=False)  # the rebuilt file is current
    assert fake.calls == 1


def test_corrupted_cache_is_rebuilt(fake, capsys):
    get_digit_source_model(device="cpu", progress=False)
    path = digit_source_model_path()
    path.write_bytes(path.read_bytes()[:500])  # truncated
    model = get_digit_source_model(device="cpu", progress=False)
    assert fake.calls == 2 and isinstance(model, DigitCNN)
    assert "corrupted" in capsys.readouterr().out


def test_real_cached_model_if_built():
    """The model prepare builds (skipped when the cache has not been built on this machine)."""
    path = digit_source_model_path()
    if not path.is_file():
        pytest.skip("run `python -m transfer_utils.prepare` to build the cached source model")
    model = get_digit_source_model(device="cpu", progress=False)
    info = model.cache_info
    assert info["mnist_test_acc"] >= 0.98
    assert 0.3 < info["usps_acc"] < info["mnist_test_acc"]  # source-only: the domain gap
