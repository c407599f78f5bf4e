"""Bad input to the I/O helpers (checkpoints, devices, paths, data, nets) fails clearly.

Each row of :data:`CASES` is a call that must fail and the words its message must contain; it is
checked with :func:`badinput.expect_clear_error` (the error is raised by the course, not by torch
or pathlib, and names the argument and the cause). CUDA and MPS are made unavailable for every
test here, so the device cases mean the same on a machine with a GPU as on a CPU-only one.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from badinput import expect_clear_error  # noqa: E402
from transfer_utils.adaptation.plots import plot_decision_boundary  # noqa: E402
from transfer_utils.adaptation.training import train_da  # noqa: E402
from transfer_utils.core.atomic import atomic_path, remove_stale_temp  # noqa: E402
from transfer_utils.core.checkpoint import (CheckpointError, UnsafeCheckpointError,  # noqa: E402
                                            load_checkpoint, save_checkpoint)
from transfer_utils.bayes.laplace import GaussianPrior  # noqa: E402
from transfer_utils.core.device import (DeviceUnavailableError, device_report, get_device,  # noqa: E402
                                        resolve_device)
from transfer_utils.core.paths import dataset_status  # noqa: E402
from transfer_utils.core.plotting import plot_history  # noqa: E402
from transfer_utils.core.profile import get_profile  # noqa: E402
from transfer_utils.data.checks import check_datasets, require_data  # noqa: E402
from transfer_utils.data.files import ensure_files  # noqa: E402
from transfer_utils.data.checksums import cached_md5, file_md5, verify_md5  # noqa: E402
from transfer_utils.data.cifar import balanced_subset_indices  # noqa: E402
from transfer_utils.data.cifar_archive import extract_cifar10_jpg  # noqa: E402
from transfer_utils.data.digits import digit_domains, stratified_subset, usps_split  # noqa: E402
from transfer_utils.data.moons import make_moons_domains, rotate  # noqa: E402
from transfer_utils.nets.backbones import load_backbone  # noqa: E402
from transfer_utils.nets.scratch import SmallCNN, train_scratch  # noqa: E402
from transfer_utils.nets.features import extract_features, feature_cache_path  # noqa: E402
from transfer_utils.nets.source_models import get_digit_source_model  # noqa: E402
from transfer_utils.nets.batches import autocast_dtype, to_device  # noqa: E402
from transfer_utils.nets.training import evaluate, fit  # noqa: E402


@pytest.fixture(autouse=True)
def _no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine as a CPU-only one, whatever it really has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    mps = getattr(torch.backends, "mps", None)
    if mps is not None:
        monkeypatch.setattr(mps, "is_available", lambda: False)


class _Evil:
    """Unpickling this runs ``os.system``: what a malicious checkpoint does."""

    def __reduce__(self):
        return (os.system, ("echo this must never run",))


CALLS: list[tuple[Any, ...]] = []


def _record(*args: Any) -> None:
    CALLS.append(args)


class _Recorder:
    """Unpickling this calls :func:`_record`: shows whether a load ran pickled code."""

    def __reduce__(self):
        return (_record, ("ran",))


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))


def _good(tmp: Path) -> Path:
    return save_checkpoint(tmp / "good.pt", _net(), epoch=3)


def _loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(8, 2, generator=g)
    return DataLoader(TensorDataset(X, (X[:, 0] > 0).long()), batch_size=4)


def _fit(**changes: Any) -> Any:
    net = _net()
    kwargs: dict[str, Any] = dict(loss_fn=nn.CrossEntropyLoss(), num_epochs=1, device="cpu",
                                  optimizer=torch.optim.SGD(net.parameters(), lr=0.1), progress=False)
    model, loader = changes.pop("model", net), changes.pop("train_loader", _loader())
    kwargs.update(changes)
    return fit(model, loader, **kwargs)


def _train_da(device: Any) -> Any:
    G, C = nn.Linear(2, 3), nn.Linear(3, 2)
    opt = torch.optim.SGD([*G.parameters(), *C.parameters()], lr=0.1)
    return train_da(G, C, _loader(), None, optimizer=opt, num_steps=1, device=device, progress=False)


def _torch_file(tmp: Path, obj: Any, **kw: Any) -> Path:
    path = tmp / "foreign.pt"
    torch.save(obj, path, **kw)
    return path


def _plain_pickle(tmp: Path, obj: Any) -> Path:
    path = tmp / "plain.pkl"
    path.write_bytes(pickle.dumps(obj))
    return path


def _truncated(tmp: Path) -> Path:
    path = _good(tmp)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.pt"
    path.write_bytes(b"")
    return path


def _file(tmp: Path, name: str = "a-file") -> Path:
    path = tmp / name
    path.write_text("not a folder")
    return path


N, X8, Y8 = float("nan"), torch.zeros(8, 2), torch.zeros(8, dtype=torch.long)

# (id, call(tmp_path), words the message must contain, expected exception type)
CASES: list[tuple[str, Callable[[Path], Any], tuple[str, ...], type[BaseException]]] = [
    # --- load_checkpoint: a good file on a device this machine lacks (issue 11 regression) ---
    ("load-map-location-cuda", lambda t: load_checkpoint(_good(t), _net(), map_location="cuda"),
     ("map_location", "cuda", "not available", "available: 'cpu'", "get_device"), DeviceUnavailableError),
    ("load-map-location-device", lambda t: load_checkpoint(_good(t), _net(),
                                                           map_location=torch.device("cuda", 0)),
     ("map_location", "cuda", "available"), DeviceUnavailableError),
    ("load-map-location-gpu0", lambda t: load_checkpoint(_good(t), _net(), map_location="gpu0"),
     ("unknown device", "gpu0", "map_location"), ValueError),
    ("load-map-location-mps", lambda t: load_checkpoint(_good(t), _net(), map_location="mps"),
     ("map_location", "mps", "not available"), DeviceUnavailableError),
    # --- metadata save_checkpoint cannot load back: refused before writing ---
    ("save-numpy-int", lambda t: save_checkpoint(t / "m.pt", _net(), epoch=np.int64(3)),
     ("'epoch'", "numpy.int64", "int(", "nothing was written"), TypeError),
    ("save-numpy-nested", lambda t: save_checkpoint(t / "m.pt", _net(), history={"loss": [1.0, np.float32(2)]}),
     ("'history'['loss'][1]", "numpy.float32", "float("), TypeError),
    ("save-object", lambda t: save_checkpoint(t / "m.pt", _net(), note=object()),
     ("'note'", "builtins.object", "plain values"), TypeError),
    ("save-tuple-key", lambda t: save_checkpoint(t / "m.pt", _net(), table={(1, 2): 3}),
     ("'table'", "key", "str or int"), TypeError),
    ("save-optimizer-type", lambda t: save_checkpoint(t / "m.pt", _net(), optimizer="adam"),
     ("optimizer", "torch.optim.optimizer"), TypeError),
    # --- files whose content is not weights: refused, never loaded ---
    ("load-old-numpy-metadata", lambda t: load_checkpoint(_torch_file(t, {"extra": {"epoch": np.int64(3)}}),
                                                          _net()),
     ("not weights", "numpy", "will not be loaded", "int("), UnsafeCheckpointError),
    ("load-malicious-torch", lambda t: load_checkpoint(_torch_file(t, {"x": _Evil()}), _net()),
     ("not weights", "system", "will not be loaded", "trust"), UnsafeCheckpointError),
    ("load-malicious-legacy", lambda t: load_checkpoint(
        _torch_file(t, {"x": _Evil()}, _use_new_zipfile_serialization=False), _net()),
     ("not weights", "system", "will not be loaded"), UnsafeCheckpointError),
    ("load-malicious-pickle", lambda t: load_checkpoint(_plain_pickle(t, _Evil()), _net()),
     ("not weights", "system", "will not be loaded"), UnsafeCheckpointError),
    # --- truncated or corrupted files: the old advice ---
    ("load-truncated", lambda t: load_checkpoint(_truncated(t), _net()),
     ("corrupted or truncated", "delete it"), CheckpointError),
    ("load-garbage", lambda t: load_checkpoint(_file(t, "garbage.pt"), _net()),
     ("corrupted or truncated", "delete it"), CheckpointError),
    ("load-empty", lambda t: load_checkpoint(_empty(t), _net()), ("corrupted or truncated",), CheckpointError),
    # --- paths ---
    ("save-parent-is-file", lambda t: save_checkpoint(_file(t) / "m.pt", _net()),
     ("a-file", "m.pt", "is a file, not a folder"), NotADirectoryError),
    ("save-grandparent-is-file", lambda t: save_checkpoint(_file(t) / "sub" / "m.pt", _net()),
     ("a-file", "m.pt", "is a file, not a folder"), NotADirectoryError),
    ("save-into-folder", lambda t: save_checkpoint(t, _net()), ("is a folder", "model.pt"), IsADirectoryError),
    ("save-path-type", lambda t: save_checkpoint(3, _net()), ("path", "int"), TypeError),
    ("save-path-empty", lambda t: save_checkpoint("", _net()), ("path", "empty"), ValueError),
    ("load-folder", lambda t: load_checkpoint(t, _net()), ("is a folder", "checkpoint"), IsADirectoryError),
    ("load-missing", lambda t: load_checkpoint(t / "none.pt", _net()), ("no checkpoint", "none.pt"),
     FileNotFoundError),
    ("load-model-type", lambda t: load_checkpoint(_good(t), "net"), ("nn.module", "model"), TypeError),
    ("atomic-into-folder", lambda t: atomic_path(t).__enter__(), ("is a folder",), IsADirectoryError),
    ("stale-temp-type", lambda t: remove_stale_temp(3), ("directory", "int"), TypeError),
    # --- devices: every helper that takes one goes through resolve_device ---
    ("train-da-cuda", lambda t: _train_da("cuda"), ("device", "cuda", "not available", "available"),
     DeviceUnavailableError),
    ("train-da-device-object", lambda t: _train_da(torch.device("cuda")), ("device", "cuda"),
     DeviceUnavailableError),
    ("source-model-cuda", lambda t: get_digit_source_model(device="cuda", progress=False),
     ("device", "cuda", "not available", "get_device"), DeviceUnavailableError),
    ("source-model-gpu0", lambda t: get_digit_source_model(device="gpu0", progress=False),
     ("unknown device", "gpu0", "available"), ValueError),
    ("fit-gpu0", lambda t: _fit(device="gpu0"), ("unknown device", "gpu0", "device"), ValueError),
    ("prior-cuda", lambda t: GaussianPrior.isotropic(3, device="cuda"), ("cuda", "not available"),
     DeviceUnavailableError),
    ("evaluate-cuda1", lambda t: evaluate(_net(), _loader(), device="cuda:1"), ("cuda:1", "not available"),
     DeviceUnavailableError),
    ("features-cuda", lambda t: extract_features(_net(), X8, device="cuda", progress=False),
     ("device", "cuda", "available"), DeviceUnavailableError),
    ("scratch-cuda", lambda t: train_scratch(SmallCNN, torch.zeros(2, 3, 8, 8), Y8[:2], seed=0, device="cuda"),
     ("device", "cuda"), DeviceUnavailableError),
    ("to-device-mps", lambda t: to_device(X8, "mps"), ("mps", "not available"), DeviceUnavailableError),
    ("autocast-tpu", lambda t: autocast_dtype("tpu"), ("unknown device", "tpu"), ValueError),
    ("report-cuda", lambda t: device_report("cuda"), ("cuda", "not available"), DeviceUnavailableError),
    ("plot-boundary-cuda", lambda t: plot_decision_boundary(_net(), X8, Y8, device="cuda"), ("device", "cuda"),
     DeviceUnavailableError),
    ("resolve-int", lambda t: resolve_device(0), ("device", "int", "torch.device"), TypeError),
    ("get-device-object", lambda t: get_device(torch.device("cuda")), ("cuda", "not available"),
     DeviceUnavailableError),
    # --- core: profiles, plotting ---
    ("profile-unknown", lambda t: get_profile("fast"), ("unknown profile", "fast", "quick"), ValueError),
    ("plot-history-empty", lambda t: plot_history({"epoch": [1], "acc": [0.5]}), ("history", "keys"), ValueError),
    # --- data ---
    ("moons-noise-nan", lambda t: make_moons_domains(10, noise=N), ("noise", "finite"), ValueError),
    ("moons-rotation-inf", lambda t: make_moons_domains(10, rotation_deg=float("inf")), ("rotation_deg",),
     ValueError),
    ("moons-generator", lambda t: make_moons_domains(10, generator=3), ("generator", "torch.generator"), TypeError),
    ("rotate-numpy", lambda t: rotate(np.zeros((3, 2)), 10.0), ("x", "tensor", "torch.as_tensor"), TypeError),
    ("rotate-nan", lambda t: rotate(torch.zeros(3, 2), N), ("degrees", "finite"), ValueError),
    ("subset-numpy", lambda t: stratified_subset(np.zeros(5), 2, torch.Generator()), ("y", "tensor"), TypeError),
    ("subset-empty", lambda t: stratified_subset(torch.zeros(0, dtype=torch.long), 2, torch.Generator()),
     ("y", "empty"), ValueError),
    ("usps-split-empty", lambda t: usps_split(torch.zeros(0, dtype=torch.long)), ("y", "empty"), ValueError),
    ("digit-domains-seed", lambda t: digit_domains(10, 10, seed=1.5), ("seed", "int"), ValueError),
    ("balanced-seed", lambda t: balanced_subset_indices([0, 1, 0, 1], 1, seed=0.5), ("seed", "int"), TypeError),
    ("balanced-str-labels", lambda t: balanced_subset_indices(["a", "b"], 1), ("targets", "integer"), TypeError),
    ("cifar-archive-type", lambda t: extract_cifar10_jpg(3), ("archive_dir", "int"), TypeError),
    ("md5-folder", lambda t: file_md5(t), ("path", "is a folder"), IsADirectoryError),
    ("md5-missing", lambda t: file_md5(t / "none.bin"), ("none.bin", "does not exist"), FileNotFoundError),
    ("cached-md5-missing", lambda t: cached_md5(t / "none.bin"), ("none.bin", "does not exist"),
     FileNotFoundError),
    ("verify-folder", lambda t: verify_md5(t, "0" * 32), ("is a folder",), IsADirectoryError),
    ("verify-md5-type", lambda t: verify_md5(_file(t), 123), ("md5", "str"), TypeError),
    ("ensure-dir-type", lambda t: ensure_files(None, {"a": None}, dataset="x", how_to_get="y"),
     ("directory", "nonetype"), TypeError),
    ("check-names-str", lambda t: check_datasets("MNIST", root=t), ("names", "['mnist']"), TypeError),
    ("check-root-missing", lambda t: check_datasets(["MNIST"], root=t / "nope"), ("root", "nope", "does not exist"),
     FileNotFoundError),
    ("check-root-file", lambda t: check_datasets(["MNIST"], root=_file(t)), ("root", "is a file"),
     NotADirectoryError),
    ("status-root-missing", lambda t: dataset_status(t / "nope"), ("root", "does not exist"), FileNotFoundError),
    ("require-unknown", lambda t: require_data("imagenet"), ("unknown dataset", "imagenet", "mnist"), ValueError),
    ("require-type", lambda t: require_data(123), ("require_data", "int", "mnist"), TypeError),
    # --- nets ---
    ("backbone-unknown", lambda t: load_backbone("vgg16"), ("unknown backbone", "vgg16", "resnet18"), ValueError),
    ("fit-dataset", lambda t: _fit(train_loader=TensorDataset(X8, Y8)), ("train_loader", "dataloader"), TypeError),
    ("fit-model-type", lambda t: _fit(model="net"), ("model", "nn.module"), TypeError),
    ("fit-loss-type", lambda t: _fit(loss_fn="cross-entropy"), ("loss_fn", "callable"), TypeError),
    ("fit-no-optimizer", lambda t: _fit(optimizer=None), ("optimizer", "torch.optim"), TypeError),
    ("evaluate-dataset", lambda t: evaluate(_net(), TensorDataset(X8, Y8), device="cpu"), ("loader", "dataloader"),
     TypeError),
    ("features-numpy", lambda t: extract_features(_net(), np.zeros((4, 2)), progress=False), ("x", "numpy"),
     TypeError),
    ("features-model", lambda t: extract_features("net", X8, progress=False), ("model",), TypeError),
    ("features-key-type", lambda t: feature_cache_path(5), ("cache_key", "int"), TypeError),
    ("scratch-model", lambda t: train_scratch(None, X8, Y8, seed=0), ("make_model", "callable"), TypeError),
    ("scratch-numpy", lambda t: train_scratch(SmallCNN, np.zeros((8, 2)), Y8, seed=0), ("x", "tensor"), TypeError),
    ("scratch-seed", lambda t: train_scratch(SmallCNN, X8, Y8, seed=0.5), ("seed", "int"), TypeError),
]


def test_the_table_is_large_enough():
    assert len(CASES) >= 35
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("call,words,exc", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_fails_clearly(call, words, exc, tmp_path):
    expect_clear_error(lambda: call(tmp_path), *words, exc=exc)


@pytest.mark.parametrize("make", [
    lambda t: _torch_file(t, {"x": _Evil()}),
    lambda t: _torch_file(t, {"extra": {"epoch": np.int64(3)}}),
    lambda t: _plain_pickle(t, _Evil()),
    lambda t: _file(t, "garbage.pt"),
    _truncated,
], ids=["malicious", "numpy-metadata", "malicious-pickle", "garbage", "truncated"])
def test_load_never_suggests_unsafe_loading(make, tmp_path):
    """torch's own hint ("re-running with weights_only=False will likely succeed") is never passed on,
    neither in the message nor in a chained exception that a traceback would print."""
    err = expect_clear_error(lambda: load_checkpoint(make(tmp_path), _net()), exc=CheckpointError)
    text = str(err).lower()
    assert "weights_only" not in text and "false" not in text, text
    assert err.__cause__ is None and err.__suppress_context__


def test_malicious_file_is_not_executed(tmp_path):
    path = _torch_file(tmp_path, {"x": _Recorder()})
    CALLS.clear()
    torch.load(path, weights_only=False)  # what an unsafe load does: the pickled call runs
    assert CALLS == [("ran",)]
    CALLS.clear()
    with pytest.raises(UnsafeCheckpointError, match="_record"):
        load_checkpoint(path, _net())
    assert CALLS == []


def test_refused_metadata_writes_nothing(tmp_path):
    good = _good(tmp_path)
    before = good.read_bytes()
    with pytest.raises(TypeError):
        save_checkpoint(good, _net(), epoch=np.int64(4))
    assert good.read_bytes() == before  # the old checkpoint is untouched
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "new.pt", _net(), epoch=np.int64(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.pt"]  # no file, no temporary file


def test_accepted_metadata_loads_back(tmp_path):
    extra = dict(epoch=3, lr=0.5, ok=True, none=None, name="x", t=torch.arange(3), seq=(1, [2.0, "a"]),
                 nested={"a": {1: [None]}})
    path = save_checkpoint(tmp_path / "m.pt", _net(), **extra)
    back = load_checkpoint(path, _net())
    torch.testing.assert_close(back.pop("t"), extra.pop("t"))
    assert back == extra


def test_device_objects_are_accepted(tmp_path):
    cpu = torch.device("cpu")
    assert resolve_device(cpu) == cpu and get_device(cpu) == cpu
    assert resolve_device(None) == cpu  # no GPU here: get_device() picks the CPU
    load_checkpoint(_good(tmp_path), _net(), map_location=cpu)
    assert to_device(X8, cpu).device == cpu and autocast_dtype(cpu) is None
    assert "accuracy" in evaluate(_net(), _loader(), device=cpu)
    assert extract_features(_net(), X8, device=cpu, progress=False).shape == (8, 2)
