import pytest
import torch

from transfer_utils.device import check_same_device, device_report, get_device, has_gpu


def test_auto_picks_best_available(monkeypatch):
    expected = "cuda" if torch.cuda.is_available() else ("mps" if has_gpu() else "cpu")
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


def test_check_same_device():
    a, b = torch.zeros(2), torch.ones(2)
    assert check_same_device(a, b) == torch.device("cpu")
    with pytest.raises(ValueError, match="at least one"):
        check_same_device()
    if has_gpu():
        other = b.to(get_device())
        with pytest.raises(ValueError, match="different devices"):
            check_same_device(a, other, names=("a", "b"))
