"""Labelled review sentences from three domains: Amazon (phones), IMDB (films) and Yelp (restaurants).

The UCI "Sentiment Labelled Sentences" data set (Kotzias, Denil, de Freitas and Smyth, "From Group
to Individual Labels using Deep Features", KDD 2015; CC BY 4.0): for each site 1,000 sentences,
500 positive (label 1) and 500 negative (label 0), one ``sentence<TAB>label`` per line. The files
live in ``$TL_DATA_DIR/text/sentiment_labelled_sentences`` and are checked against their MD5s
(:data:`transfer_utils.core.paths.KNOWN_DATASETS`) before they are read; a missing file is
reported with its name, the directory and how to get it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from transfer_utils.core.paths import KNOWN_DATASETS, data_dir
from transfer_utils.core.validation import check_binary_labels, check_tensor
from transfer_utils.data.files import ensure_files

__all__ = ["REVIEW_DOMAINS", "REVIEW_DIR", "HOW_TO_GET", "review_file", "load_reviews",
           "check_sentences", "check_labelled"]

REVIEW_DOMAINS: tuple[str, ...] = ("amazon", "imdb", "yelp")
"""The three domains, in the order the course shows them."""
REVIEW_DIR = "text/sentiment_labelled_sentences"
"""Where the files live inside the data directory."""
HOW_TO_GET = ('download "Sentiment Labelled Sentences" from the UCI Machine Learning Repository '
              "(Kotzias et al. 2015, https://archive.ics.uci.edu/dataset/331) and copy "
              "amazon_cells_labelled.txt, imdb_labelled.txt and yelp_labelled.txt to "
              f"$TL_DATA_DIR/{REVIEW_DIR}/")
_FILES = {"amazon": "amazon_cells_labelled.txt", "imdb": "imdb_labelled.txt",
          "yelp": "yelp_labelled.txt"}
_SIZE = 1000


def review_file(domain: str) -> str:
    """The file name of ``domain`` (``"amazon"`` -> ``amazon_cells_labelled.txt``).

    Raises:
        TypeError: ``domain`` is not a string. ValueError: an unknown domain.
    """
    if not isinstance(domain, str):
        raise TypeError(f"domain must be a string, one of {list(REVIEW_DOMAINS)}, got "
                        f"{type(domain).__name__}.")
    if domain not in _FILES:
        raise ValueError(f"Unknown review domain {domain!r}; choose one of {list(REVIEW_DOMAINS)}.")
    return _FILES[domain]


def check_sentences(sentences: object, name: str = "sentences") -> list[str]:
    """``sentences`` as a list of non-empty strings, or a clear error.

    Raises:
        TypeError: not a list or tuple of strings (a single string is refused: wrap it in a list).
        ValueError: the list is empty, or a sentence is empty or only spaces.
    """
    if isinstance(sentences, str) or not isinstance(sentences, Sequence):
        raise TypeError(f"{name} must be a list of strings, got {type(sentences).__name__}; "
                        "wrap a single sentence in a list: [sentence].")
    if len(sentences) == 0:
        raise ValueError(f"{name} is empty: give at least one sentence.")
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise TypeError(f"{name}[{i}] must be a string, got {type(s).__name__}.")
        if not s.strip():
            raise ValueError(f"{name}[{i}] is an empty sentence; drop it first.")
    return list(sentences)


def check_labelled(sentences: object, labels: object) -> tuple[list[str], torch.Tensor]:
    """Check a labelled set: a list of sentences and a 1-D tensor of 0/1 labels of the same length.

    Returns:
        ``(sentences, labels)`` with the labels as ``torch.long``.

    Raises:
        TypeError, ValueError: bad sentences (:func:`check_sentences`), labels that are not a
            tensor, not 0/1, or not one per sentence.
    """
    sentences = check_sentences(sentences)
    check_tensor(labels, "labels")
    if labels.ndim != 1 or labels.shape[0] != len(sentences):
        raise ValueError(f"labels must have shape ({len(sentences)},), one per sentence, got "
                         f"{tuple(labels.shape)}: do the sentences and labels come from the same set?")
    return sentences, check_binary_labels(labels, "labels").long()


def load_reviews(domain: str) -> tuple[list[str], torch.Tensor]:
    """The 1,000 sentences of ``domain`` and their labels (1 positive, 0 negative), in file order.

    Lines are split on ``"\\n"`` only (an IMDB sentence holds a U+0085 character, which
    ``str.splitlines`` would treat as a line break) and each at its last tab.

    Raises:
        ValueError: an unknown domain, or a file that does not parse into 1,000 labelled lines.
        DatasetMissingError: the file is missing (it names the file, the directory and the source).
        ChecksumError: the file is corrupted.
    """
    name = review_file(domain)
    directory = data_dir() / REVIEW_DIR
    info = KNOWN_DATASETS["Review sentences"]
    paths = ensure_files(directory, {name: info.md5[f"{REVIEW_DIR}/{name}"]},
                         dataset=f"Review sentences ({domain})", how_to_get=HOW_TO_GET)
    lines = [line.rstrip("\r") for line in paths[name].read_text(encoding="utf-8").split("\n")]
    rows = [line.rsplit("\t", 1) for line in lines if line.strip()]
    if len(rows) != _SIZE or any(len(r) != 2 or r[1].strip() not in ("0", "1") for r in rows):
        raise ValueError(f"{paths[name]} does not hold {_SIZE} lines 'sentence<TAB>0|1'.")
    sentences = [r[0].strip() for r in rows]
    labels = torch.tensor([int(r[1]) for r in rows], dtype=torch.long)
    return sentences, labels
