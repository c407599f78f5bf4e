"""The review-sentence loader: checksums, parsing, missing and corrupted files, bad inputs."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import torch

from transfer_utils.data.checksums import ChecksumError
from transfer_utils.data.files import DatasetMissingError
from transfer_utils.language.reviews import (REVIEW_DIR, REVIEW_DOMAINS, check_labelled,
                                             check_sentences, load_reviews, review_file)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TEXT = SHARED / REVIEW_DIR
needs_text = pytest.mark.skipif(not (TEXT / "yelp_labelled.txt").is_file(),
                                reason="the course's offline data copy is not here")
MD5 = {"amazon": "f737b1e64487b2d2518fcefdb0257e63", "imdb": "ccea809cf06938e64b783737778f5ca0",
       "yelp": "3a7fe2c38dc373d2ca8e687d6226a82e"}  # /work/shared/data/MD5SUMS, typed independently


def _copy(tmp_path: Path, monkeypatch, truncate: str | None = None, skip: str | None = None) -> Path:
    folder = tmp_path / REVIEW_DIR
    folder.mkdir(parents=True)
    for domain in REVIEW_DOMAINS:
        name = review_file(domain)
        if domain == skip:
            continue
        data = (TEXT / name).read_bytes()
        (folder / name).write_bytes(data[:1000] if domain == truncate else data)
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TL_OFFLINE", "1")
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "cache"))
    return folder


@needs_text
def test_shared_files_have_the_published_md5s():
    for domain, md5 in MD5.items():
        digest = hashlib.md5((TEXT / review_file(domain)).read_bytes(), usedforsecurity=False)
        assert digest.hexdigest() == md5


@needs_text
@pytest.mark.parametrize("domain", REVIEW_DOMAINS)
def test_each_domain_has_500_positive_and_500_negative(domain, tmp_path, monkeypatch):
    _copy(tmp_path, monkeypatch)
    sentences, labels = load_reviews(domain)
    assert len(sentences) == 1000 and labels.shape == (1000,) and labels.dtype == torch.long
    assert int(labels.sum()) == 500
    assert all(s and "\t" not in s for s in sentences)
    # an independent parse: every line of the file ends with a tab and the label
    lines = (TEXT / review_file(domain)).read_text(encoding="utf-8").split("\n")
    first = lines[0]
    assert first.endswith(f"\t{int(labels[0])}") and first.startswith(sentences[0])


@needs_text
def test_imdb_sentence_with_a_next_line_character_is_one_sentence(tmp_path, monkeypatch):
    _copy(tmp_path, monkeypatch)
    sentences, _ = load_reviews("imdb")
    assert len(sentences) == 1000
    assert len((TEXT / "imdb_labelled.txt").read_text(encoding="utf-8").splitlines()) > 1000


@needs_text
def test_missing_file_names_the_file_the_folder_and_the_source(tmp_path, monkeypatch):
    folder = _copy(tmp_path, monkeypatch, skip="yelp")
    with pytest.raises(DatasetMissingError) as info:
        load_reviews("yelp")
    message = str(info.value)
    assert "yelp_labelled.txt" in message and str(folder) in message
    assert "Sentiment Labelled Sentences" in message and "Kotzias" in message


@needs_text
def test_truncated_file_fails_its_checksum(tmp_path, monkeypatch):
    _copy(tmp_path, monkeypatch, truncate="amazon")
    with pytest.raises(ChecksumError, match="amazon_cells_labelled.txt"):
        load_reviews("amazon")
    assert len(load_reviews("imdb")[0]) == 1000  # the other domains still load


def test_unknown_domain_and_bad_types():
    with pytest.raises(ValueError, match="amazon"):
        review_file("twitter")
    with pytest.raises(TypeError):
        review_file(1)


def test_bad_sentences_and_labels():
    with pytest.raises(ValueError, match="empty"):
        check_sentences([])
    with pytest.raises(TypeError, match="list"):
        check_sentences("one sentence")
    with pytest.raises(ValueError, match=r"\[1\]"):
        check_sentences(["good", "  "])
    with pytest.raises(TypeError, match=r"\[0\]"):
        check_sentences([3])
    with pytest.raises(ValueError, match="one per sentence"):
        check_labelled(["a", "b"], torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="0 and 1"):
        check_labelled(["a", "b"], torch.tensor([0, 2]))
    with pytest.raises(TypeError):
        check_labelled(["a", "b"], [0, 1])
    s, y = check_labelled(("a", "b"), torch.tensor([0.0, 1.0]))
    assert s == ["a", "b"] and y.dtype == torch.long and y.tolist() == [0, 1]
