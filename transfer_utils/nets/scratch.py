"""The scratch baseline: a small CNN and a training budget that lets it fit a few labelled images.

:class:`SmallCNN` is a small network for 32 px images, and :func:`train_scratch` trains any freshly
initialised network on a few labelled images with a budget of its own (one-cycle Adam, enough steps
to fit them), so that "pretrained beats scratch" (notebooks 05, 06) is never measured against an
under-trained network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from transfer_utils.core.device import resolve_device
from transfer_utils.nets.training import History, fit

__all__ = ["SmallCNN", "train_scratch"]


class SmallCNN(nn.Module):
    """A small CNN for 32 px RGB images, trained from scratch as the baseline (notebooks 05, 06).

    [conv 3x3 -> batch norm -> ReLU -> max-pool 2] twice (16, 32 channels), conv 3x3 (32) -> batch
    norm -> ReLU, global average pool, linear: about 15k parameters, few enough to fit a handful
    of labelled images per class without a pretrained start.

    Shape: ``(N, 3, H, W) -> (N, num_classes)``.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def train_scratch(
    make_model: Callable[[], nn.Module],
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    seed: int,
    steps: int = 300,
    min_epochs: int = 30,
    lr: float = 5e-3,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
) -> tuple[nn.Module, History]:
    """Train a freshly initialised network on ``(X, y)`` with a budget that lets it fit them.

    Adam with the one-cycle schedule (Smith and Topin 2019; torch's ``OneCycleLR`` defaults): over
    the first 30 % of the :math:`T` steps the rate rises by a half cosine from
    :math:`\\eta/25` to the peak :math:`\\eta`, then falls by a half cosine to
    :math:`\\eta / (25 \\cdot 10^4)`, where

    .. math:: T = \\max\\big(\\text{steps},\\ \\text{min\\_epochs} \\cdot \\lceil n / B \\rceil\\big)

    rounded to whole epochs, for :math:`n` images in batches of :math:`B`.

    Args:
        make_model: builds the network (called after ``torch.manual_seed(seed)``, so the
            initialisation follows the seed).
        X, y: the labelled images and their class labels.
        seed: seeds the initialisation and the batch order.
        steps, min_epochs: the budget :math:`T` above.
        lr: the peak rate :math:`\\eta`.
        batch_size: :math:`B` (capped at ``n``).
        device: where to train (checked by :func:`~transfer_utils.core.device.resolve_device`).

    Returns:
        ``(model, history)``: the trained network on ``device`` and :func:`~transfer_utils.nets.training.fit`'s
        history.

    Raises:
        TypeError: ``make_model`` not callable, ``X``/``y`` not tensors, or a seed that is not an int.
        ValueError: empty or mismatched data, or a non-positive budget, rate or batch size.
        DeviceUnavailableError: ``device`` does not exist on this machine.
    """
    if not callable(make_model):
        raise TypeError(f"make_model must be a callable that builds the network (e.g. SmallCNN), got "
                        f"{type(make_model).__name__}.")
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"X and y must be torch tensors, got {type(X).__name__} and {type(y).__name__}; "
                        f"convert them with torch.as_tensor.")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} ({seed!r}).")
    if X.shape[0] == 0 or X.shape[0] != y.shape[0]:
        raise ValueError(f"Need X (N, ...) and y (N,) with N > 0; got {tuple(X.shape)} and {tuple(y.shape)}.")
    if min(steps, min_epochs, batch_size) < 1 or not lr > 0 or lr == float("inf"):
        raise ValueError(f"Need positive steps, min_epochs, batch_size and lr; got {steps}, {min_epochs}, "
                         f"{batch_size}, {lr}.")
    device = resolve_device(device)
    torch.manual_seed(seed)
    model = make_model().to(device)
    loader = DataLoader(TensorDataset(X, y), batch_size=min(batch_size, len(y)), shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    num_epochs = max(min_epochs, round(steps / len(loader)))
    optimizer = torch.optim.Adam(model.parameters(), lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=num_epochs * len(loader))
    history = fit(model, loader, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, num_epochs=num_epochs,
                  device=device, scheduler=scheduler, step_scheduler_per_batch=True, progress=False)
    return model, history
