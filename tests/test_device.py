import pytest
import torch

from transfer_utils.core.device import device_report, get_device


def test_auto_picks_best_available(monkeypatch):
    mps = getattr(torch.backends, "mps", None)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if mps is not None and mps.is_available() else "cpu")
    assert get_device().type == expected
    assert get_device("auto").type == expected


def test_env_override_and_case(monkeypatch):
    monkeypatch.setenv("TL_DEVICE", "CPU")
    assert get_device() == torch.device("cpu")
    assert get_device(" cpu ") == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "cpu:0", "tpu", ""])
def test_unknown_name_is_clear(name):
    with pytest.raises(ValueError, match="Unknown device"):
        get_device(name)


def test_unknown_name_from_env_says_where(monkeypatch):
    monkeypatch.setenv("TL_DEVICE", "gpu")
    with pytest.raises(ValueError, match=r"\$TL_DEVICE"):
        get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_cuda_is_clear():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        get_device("cuda")


def test_report_is_one_line():
    line = device_report(torch.device("cpu"))
    assert line.startswith("Device: cpu (") and "\n" not in line and "threads" in line
