"""The course's own pretrained source model: a small CNN trained on MNIST, cached and reused.

No ImageNet-style digit model can be downloaded offline, so the course pretrains one itself, once,
on the **source domain only** (MNIST's 60,000 training images; no USPS image is seen) and caches it
in ``cache_dir()/models``. Every notebook that needs a digit source model (04-08, 10) loads the same
file instead of retraining. The checkpoint carries :data:`DIGIT_MODEL_VERSION`; a file written by
an older version of this code, or a corrupted one, is rebuilt with a printed message, never loaded
silently. ``python -m transfer_utils.prepare`` builds it before the notebooks run, so its training
time is reported there (and kept in the checkpoint), not inside a notebook's run time.

Training configuration (fixed, whatever the profile; about 60 s of single-thread CPU time for the
three epochs, so about a minute on two idle cores): Adam (Kingma and Ba, 2015), learning rate
:data:`_LR` decayed by a cosine schedule, batch 128, :data:`_EPOCHS` epochs, cross-entropy, seed 0,
no data augmentation (augmentation would already shrink the MNIST -> USPS gap that the adaptation
notebooks study). Introduced in notebook 04.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from transfer_utils.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from transfer_utils.core.device import resolve_device
from transfer_utils.core.paths import cache_dir
from transfer_utils.core.seed import seed_everything
from transfer_utils.nets.training import evaluate, fit

__all__ = [
    "DIGIT_MODEL_VERSION",
    "FEATURE_DIM",
    "DigitCNN",
    "digit_source_model_path",
    "get_digit_source_model",
    "build_digit_source_model",
]

DIGIT_MODEL_VERSION = "digit-cnn-mnist/1"
"""Bump when the architecture, the data transform or the training configuration changes."""

FEATURE_DIM = 128
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # pixel mean and standard deviation of MNIST's train split
_EPOCHS = 3
_LR = 2e-3
_BATCH = 128
_SEED = 0


class _Standardize(nn.Module):
    """``(x - mean) / std`` with MNIST's pixel statistics, so callers pass images in ``[0, 1]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - MNIST_MEAN) / MNIST_STD


class DigitCNN(nn.Module):
    """A small convolutional network for 28x28 digits: ``forward = classifier(features(x))``.

    ``features``: standardise, [conv 5x5 -> batch norm -> max-pool 2 -> ReLU] twice (16 then 32
    channels; 28 -> 24 -> 12 -> 8 -> 4), flatten, linear 512 -> 128, ReLU (a LeNet-5-sized network,
    LeCun et al. 1998, with batch norm, Ioffe and Szegedy 2015). ``classifier``: linear 128 -> 10.
    About 80k parameters: small enough to pretrain on a laptop CPU in a minute or two.

    Shape:
        input ``(N, 1, 28, 28)`` in ``[0, 1]``; ``features(x)``: ``(N, 128)``; output logits ``(N, 10)``.
    """

    def __init__(self, num_classes: int = 10, feature_dim: int = FEATURE_DIM) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _Standardize(),
            nn.Conv2d(1, 16, 5, bias=False),
            nn.BatchNorm2d(16),
            nn.MaxPool2d(2),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, 32, 5, bias=False),
            nn.BatchNorm2d(32),
            nn.MaxPool2d(2),
            nn.ReLU(inplace=True),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, feature_dim),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(feature_dim, num_classes)
        self.feature_dim = feature_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(
                f"DigitCNN expects images of shape (N, 1, 28, 28), got {tuple(x.shape)}. "
                "Use transfer_utils.data.digits to bring digits to this form."
            )
        return self.classifier(self.features(x))


def digit_source_model_path() -> Path:
    """Where the cached MNIST source model lives: ``cache_dir()/models/digit_cnn_mnist.pt``."""
    return cache_dir() / "models" / "digit_cnn_mnist.pt"


def _train(device: torch.device, progress: bool) -> tuple[DigitCNN, dict[str, Any]]:
    from transfer_utils.data.digits import digit_domains

    seed_everything(_SEED)
    domains = digit_domains(seed=_SEED)  # all of MNIST train/test; USPS only to report accuracy
    g = torch.Generator().manual_seed(_SEED)
    train_loader = DataLoader(domains.source_train, batch_size=_BATCH, shuffle=True, generator=g)
    model = DigitCNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=_LR)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=_EPOCHS * len(train_loader))
    start = time.perf_counter()
    history = fit(model, train_loader, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer,
                  num_epochs=_EPOCHS, device=device, scheduler=scheduler,
                  step_scheduler_per_batch=True, progress=progress,
                  desc="pretrain DigitCNN on MNIST (once, cached)")
    train_time = time.perf_counter() - start
    model.eval()
    mnist_acc = evaluate(model, DataLoader(domains.source_test, batch_size=1000), device=device)["accuracy"]
    usps = TensorDataset(torch.cat([domains.target_train.tensors[0], domains.target_test.tensors[0]]),
                         torch.cat([domains.target_train.tensors[1], domains.target_test.tensors[1]]))
    usps_acc = evaluate(model, DataLoader(usps, batch_size=1000), device=device)["accuracy"]
    usps_eval_acc = evaluate(model, DataLoader(domains.target_test, batch_size=1000),
                             device=device)["accuracy"]
    info = {
        "version": DIGIT_MODEL_VERSION,
        "mnist_test_acc": float(mnist_acc),
        "usps_acc": float(usps_acc),
        "usps_eval_acc": float(usps_eval_acc),
        "train_time_s": float(train_time),
        "train_device": str(device),
        "epochs": _EPOCHS,
        "train_loss": [float(v) for v in history["train_loss"]],
    }
    return model, info


def get_digit_source_model(device: torch.device | str | None = None, progress: bool = True) -> DigitCNN:
    """The MNIST-pretrained :class:`DigitCNN`, from the cache, trained first if absent or stale.

    The checkpoint is read with ``weights_only=True``; its metadata (version, MNIST test accuracy,
    source-only USPS accuracy, training time and device) is attached as ``model.cache_info``.

    Args:
        device: where the returned model lives (training, when needed, happens there too);
            None means :func:`transfer_utils.core.device.get_device`. Checked by
            :func:`~transfer_utils.core.device.resolve_device` before anything is loaded or trained.
        progress: show a tqdm bar while training.

    Returns:
        The model in evaluation mode.
    """
    device = resolve_device(device)
    path = digit_source_model_path()
    model = DigitCNN()
    if path.is_file():
        try:
            info = load_checkpoint(path, model)
        except CheckpointError as err:
            print(f"The cached digit source model cannot be used ({err}); rebuilding it.")
        else:
            if info.get("version") == DIGIT_MODEL_VERSION:
                model.cache_info = info
                return model.to(device).eval()
            print(f"The cached digit source model at {path} was written by version "
                  f"{info.get('version')!r}, this code is {DIGIT_MODEL_VERSION!r}; rebuilding it.")
    model, info = _train(device, progress)
    save_checkpoint(path, model, **info)
    model.cache_info = info
    return model.eval()


def build_digit_source_model() -> str:
    """For ``python -m transfer_utils.prepare``: make sure the cache exists; return a short note."""
    path = digit_source_model_path()
    model = get_digit_source_model(device="cpu" if not torch.cuda.is_available() else None)
    info = model.cache_info
    return (f"{path.name}: MNIST test acc {info['mnist_test_acc']:.3f}, source-only USPS acc "
            f"{info['usps_acc']:.3f} (trained in {info['train_time_s']:.0f} s on {info['train_device']})")
