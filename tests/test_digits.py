import bz2
import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from transfer_utils.data import mnist_usps
from transfer_utils.data.files import DatasetMissingError, ensure_files
from transfer_utils.data.checksums import ChecksumError, file_md5, verify_md5
from transfer_utils.data.digits import digit_domains, load_sklearn_digits, stratified_subset, usps_split
from transfer_utils.data.mnist_usps import load_mnist, load_usps, usps_to_28

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not (SHARED / "USPS" / "usps.t.bz2").is_file(),
                                reason="the course's offline data copy is not here")


@pytest.fixture
def shared_data(monkeypatch):
    monkeypatch.setenv("TL_DATA_DIR", str(SHARED))
    monkeypatch.setenv("TL_OFFLINE", "1")


# ---- checks ---------------------------------------------------------------------------------

def test_file_md5_matches_hashlib_reference(tmp_path):
    import hashlib
    p = tmp_path / "f.bin"
    data = np.random.default_rng(0).bytes(3_000_000)
    p.write_bytes(data)
    assert file_md5(p, chunk_size=4096) == hashlib.md5(data).hexdigest()
    assert verify_md5(p, hashlib.md5(data).hexdigest().upper()) == p


def test_verify_md5_names_file_and_fix(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(b"abc")
    with pytest.raises(ChecksumError, match=r"x\.gz.*fails its checksum.*Delete it.*copy from B"):
        verify_md5(p, "0" * 32, how_to_get="copy from B")


def test_ensure_files_offline_never_downloads(monkeypatch, tmp_path):
    monkeypatch.setenv("TL_OFFLINE", "1")
    called = []
    with pytest.raises(DatasetMissingError, match=r"missing a\.txt in directory .*TL_OFFLINE.*ask Bob"):
        ensure_files(tmp_path, {"a.txt": None}, dataset="A", how_to_get="ask Bob",
                     download=lambda: called.append(1))
    assert called == []


def test_ensure_files_failed_download_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("TL_OFFLINE", raising=False)

    def download():
        raise OSError("network unreachable")

    with pytest.raises(DatasetMissingError, match="download did not succeed") as info:
        ensure_files(tmp_path, {"a.txt": None}, dataset="A", how_to_get="x", download=download)
    assert isinstance(info.value.__cause__, OSError)


def test_ensure_files_online_download_then_verify(monkeypatch, tmp_path):
    monkeypatch.delenv("TL_OFFLINE", raising=False)
    paths = ensure_files(tmp_path, {"a.txt": None}, dataset="A", how_to_get="x",
                         download=lambda: (tmp_path / "a.txt").write_text("hi"))
    assert paths["a.txt"].read_text() == "hi"


# ---- loaders' clear errors -------------------------------------------------------------------

def test_offline_empty_data_dir_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TL_OFFLINE", "1")
    with pytest.raises(DatasetMissingError) as info:
        load_mnist(train=True)
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg and str(tmp_path / "MNIST" / "raw") in msg
    assert "How to get it" in msg and "MNIST/raw" in msg


def test_offline_empty_data_dir_usps(monkeypatch, tmp_path):
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TL_OFFLINE", "1")
    with pytest.raises(DatasetMissingError, match=r"usps\.t\.bz2.*USPS.*How to get it"):
        load_usps(train=False)
    with pytest.raises(DatasetMissingError, match=r"usps\.bz2"):
        load_usps(train=True)
    with pytest.raises(DatasetMissingError):
        digit_domains(10, 10)


@needs_data
def test_corrupted_usps_fails_checksum(monkeypatch, tmp_path):
    (tmp_path / "USPS").mkdir()
    good = (SHARED / "USPS" / "usps.t.bz2").read_bytes()
    (tmp_path / "USPS" / "usps.t.bz2").write_bytes(good[: len(good) // 2])  # truncated copy
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TL_OFFLINE", "1")
    with pytest.raises(ChecksumError, match=r"usps\.t\.bz2 in .*USPS fails its checksum"):
        load_usps(train=False)


@needs_data
def test_corrupted_mnist_fails_checksum(monkeypatch, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (SHARED / "MNIST" / "raw").iterdir():
        shutil.copy(f, raw / f.name)
    labels = raw / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(labels.read_bytes())
    data[-20] ^= 0xFF  # one flipped byte
    labels.write_bytes(bytes(data))
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TL_OFFLINE", "1")
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(train=False)


# ---- the real data ---------------------------------------------------------------------------

@needs_data
def test_load_mnist_and_usps(shared_data):
    test = load_mnist(train=False)
    assert len(test) == 10_000 and tuple(test.data.shape) == (10_000, 28, 28)
    # the decompressed file in the cache agrees with an independent decompression of the .gz
    with gzip.open(SHARED / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz") as fh:
        labels = np.frombuffer(fh.read()[8:], dtype=np.uint8)
    np.testing.assert_array_equal(test.targets.numpy(), labels)
    usps = load_usps(train=False)
    assert len(usps) == 2007 and usps.data.shape == (2007, 16, 16)
    with bz2.open(SHARED / "USPS" / "usps.t.bz2") as fh:
        first = fh.readline().decode().split()
    assert usps.targets[0] == int(first[0]) - 1


@needs_data
def test_digit_domains_shapes_and_determinism(shared_data):
    d = digit_domains(n_source=300, n_target=200, seed=0)
    sizes = [len(ds) for ds in d]
    assert sizes == [300, 300, 200, 200]
    for ds in d:
        X, y = ds.tensors
        assert X.dtype == torch.float32 and X.shape[1:] == (1, 28, 28)
        assert y.dtype == torch.int64 and 0 <= X.min() and X.max() <= 1
        assert set(y.unique().tolist()) == set(range(10))
    again = digit_domains(n_source=300, n_target=200, seed=0)
    for a, b in zip(d, again):
        torch.testing.assert_close(a.tensors[0], b.tensors[0])
        torch.testing.assert_close(a.tensors[1], b.tensors[1])
    other = digit_domains(n_source=300, n_target=200, seed=1)
    assert not torch.equal(d.source_train.tensors[0], other.source_train.tensors[0])
    full = digit_domains(n_source=50, n_target=None)
    assert len(full.target_train) + len(full.target_test) == 2007


@needs_data
def test_usps_split_is_fixed_stratified_and_disjoint(shared_data):
    _, y = mnist_usps.usps_raw(train=False)
    a, e = usps_split(y)
    assert len(set(a.tolist()) & set(e.tolist())) == 0
    assert sorted(a.tolist() + e.tolist()) == list(range(len(y)))
    counts = torch.bincount(y, minlength=10)
    torch.testing.assert_close(torch.bincount(y[a], minlength=10), counts // 2)
    a2, e2 = usps_split(y)
    assert torch.equal(a, a2) and torch.equal(e, e2)


def test_stratified_subset_keeps_proportions():
    g = torch.Generator().manual_seed(0)
    y = torch.cat([torch.zeros(700), torch.ones(200), torch.full((100,), 2)]).long()
    for n in (10, 37, 500):
        idx = stratified_subset(y, n, g)
        assert len(idx) == n and len(set(idx.tolist())) == n
        counts = torch.bincount(y[idx], minlength=3).float()
        assert (counts - n * torch.tensor([0.7, 0.2, 0.1])).abs().max() <= 1.0
    assert len(stratified_subset(y, None, g)) == 1000
    with pytest.raises(ValueError):
        stratified_subset(y, 0, g)


def test_usps_to_28_matches_pil_bilinear():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(3, 16, 16), dtype=np.uint8)
    out = usps_to_28(imgs)
    assert out.shape == (3, 1, 28, 28) and out.dtype == torch.float32
    for k in range(3):
        ref = Image.fromarray(imgs[k].astype(np.float32) / 255.0, mode="F").resize(
            (28, 28), Image.BILINEAR)
        np.testing.assert_allclose(out[k, 0].numpy(), np.asarray(ref), atol=1e-5)
    torch.testing.assert_close(usps_to_28(np.full((1, 16, 16), 255, np.uint8)), torch.ones(1, 1, 28, 28))
    with pytest.raises(ValueError, match=r"\(N, 16, 16\)"):
        usps_to_28(np.zeros((2, 28, 28), np.uint8))


def test_sklearn_digits_common_form():
    ds = load_sklearn_digits()
    X, y = ds.tensors
    assert X.shape == (1797, 1, 28, 28) and y.dtype == torch.int64
    assert 0 <= X.min() and X.max() <= 1 and X.max() > 0.9


def test_bad_sizes(shared_data):
    with pytest.raises(ValueError, match="n_source"):
        digit_domains(n_source=0)
    with pytest.raises(ValueError, match="n_target"):
        digit_domains(n_target=-3)
