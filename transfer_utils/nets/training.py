"""A plain training loop a reader can follow: :func:`fit` and :func:`evaluate`.

One epoch of :func:`fit` minimises the empirical risk by mini-batch steps

.. math:: \\theta \\leftarrow \\theta - \\eta_t\\, \\nabla_\\theta \\frac{1}{|B|}\\sum_{(x, y)\\in B} \\ell(f_\\theta(x), y),

where the update rule itself is whatever ``optimizer`` implements. Batches are moved to the device in
one place (:func:`to_device`); losses and correct counts are accumulated on the device and read back
once per epoch, so the loop adds no synchronisation to a hand-written one. Introduced in notebook 00,
used from notebook 05 on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from transfer_utils.core.device import resolve_device
from transfer_utils.core.progress import progress_bar

__all__ = ["History", "to_device", "fit", "evaluate", "autocast_dtype", "adam_minimize", "show_latest"]

History = dict[str, list[float]]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def to_device(batch: Any, device: torch.device | str, non_blocking: bool | None = None) -> Any:
    """Move a batch (a tensor, or a tuple, list or dict of them) to ``device``.

    ``device`` is checked by :func:`~transfer_utils.core.device.resolve_device` (an unknown or
    absent device is a clear error). ``non_blocking`` defaults to True on CUDA, where a pinned host
    tensor then copies asynchronously while the GPU keeps working.
    """
    return _move(batch, resolve_device(device), non_blocking)


def _move(batch: Any, device: torch.device, non_blocking: bool | None = None) -> Any:
    """:func:`to_device` for a device already resolved (the training loop, once per batch)."""
    if non_blocking is None:
        non_blocking = device.type == "cuda"
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_move(b, device, non_blocking) for b in batch)
    if isinstance(batch, dict):
        return {k: _move(v, device, non_blocking) for k, v in batch.items()}
    return batch


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The mixed-precision dtype used on ``device``: bfloat16 or float16 on CUDA, None elsewhere."""
    if resolve_device(device).type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _split(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(batch, (list, tuple)) or len(batch) < 2:
        raise ValueError(
            "fit/evaluate expect batches of (inputs, targets); got "
            f"{type(batch).__name__}. Wrap your data in a TensorDataset(X, y) or similar."
        )
    return batch[0], batch[1]


def _correct(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    """Number of correct predictions for class logits, or None when accuracy does not apply."""
    if output.ndim == 2 and y.ndim == 1 and not torch.is_floating_point(y):
        return (output.argmax(dim=1) == y).sum()
    return None


def _check_loader(loader: Iterable[Any], name: str) -> None:
    if isinstance(loader, Dataset):
        raise TypeError(f"{name} is a {type(loader).__name__} (a dataset, which yields single "
                        f"examples); pass a loader of batches instead, e.g. DataLoader(dataset, "
                        f"batch_size=64).")
    try:
        n = len(loader)  # type: ignore[arg-type]
    except TypeError:
        return
    if n == 0:
        raise ValueError(f"{name} is empty (0 batches). Check the dataset size and batch_size/drop_last.")


def _check_parts(model: object, loss_fn: object, optimizer: object, *, training: bool) -> None:
    """Refuse a model, loss or optimizer of the wrong kind before the first batch, naming it.

    Training needs all three; an evaluation needs the model, and the loss only when one is given.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if (training or loss_fn is not None) and not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(output, y), got {type(loss_fn).__name__}; "
                        f"e.g. nn.CrossEntropyLoss().")
    if (training or optimizer is not None) and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}; "
                        f"e.g. torch.optim.Adam(model.parameters(), lr=1e-3).")


def show_latest(bar: Any, history: History, *, digits: int = 4) -> None:
    """Show the latest value of every ``*loss`` and ``*acc`` entry of ``history`` on a tqdm ``bar``
    (nothing when ``bar`` is None)."""
    if bar is not None:
        bar.set_postfix({k: round(v[-1], digits) for k, v in history.items() if v and k.endswith(("loss", "acc"))})


def _run_epoch(
    model: nn.Module,
    loader: Iterable[Any],
    *,
    loss_fn: LossFn,
    device: torch.device,
    optimizer: torch.optim.Optimizer | None = None,
    scaler: torch.amp.GradScaler | None = None,
    amp_dtype: torch.dtype | None = None,
    scheduler: Any = None,
    step_scheduler_per_batch: bool = False,
    grad_clip: float | None = None,
    bar: Any = None,
) -> dict[str, float]:
    """One pass over ``loader``: a training epoch when ``optimizer`` is given, else an evaluation
    (no gradients). Returns the mean ``loss`` and, for class labels, the accuracy ``acc``."""
    training = optimizer is not None
    model.train(training)
    total_loss = torch.zeros((), device=device)
    total_correct = torch.zeros((), device=device, dtype=torch.long)
    n_seen, has_acc = 0, True
    autocast = (
        torch.autocast(device_type=device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
    )
    grad_ctx = nullcontext() if training else torch.no_grad()
    with grad_ctx:
        for batch in loader:
            X, y = _split(_move(batch, device))
            with autocast:
                output = model(X)
                loss = loss_fn(output, y)
            if training:
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    if grad_clip is not None:
                        scaler.unscale_(optimizer)
                        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    if grad_clip is not None:
                        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                    optimizer.step()
                if scheduler is not None and step_scheduler_per_batch:
                    scheduler.step()
            n = y.shape[0]
            total_loss += loss.detach().float() * n
            correct = _correct(output.detach(), y)
            if correct is None:
                has_acc = False
            else:
                total_correct += correct
            n_seen += n
            if bar is not None:
                bar.update(1)
    if n_seen == 0:
        raise ValueError("The loader yielded no batches; check the dataset size and batch_size.")
    mean_loss = (total_loss / n_seen).item()  # the one synchronisation of the epoch
    if training and not torch.isfinite(torch.tensor(mean_loss)):
        raise FloatingPointError(
            f"The training loss became {mean_loss} (not finite). Lower the learning rate, "
            f"clip gradients (grad_clip=...), or check the inputs for NaN/inf."
        )
    out = {"loss": mean_loss}
    if has_acc:
        out["acc"] = total_correct.item() / n_seen
    return out


def fit(
    model: nn.Module,
    train_loader: Iterable[Any],
    *,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    num_epochs: int,
    device: torch.device | str,
    val_loader: Iterable[Any] | None = None,
    scheduler: Any = None,
    step_scheduler_per_batch: bool = False,
    amp: bool | None = None,
    grad_clip: float | None = None,
    progress: bool = True,
    desc: str = "fit",
) -> History:
    """Train ``model`` for ``num_epochs`` and return the per-epoch history.

    Args:
        model: already on ``device``.
        train_loader: yields ``(X, y)`` batches (any iterable; a DataLoader usually).
        loss_fn: ``loss_fn(output, y) -> scalar``, e.g. ``nn.CrossEntropyLoss()``.
        optimizer: over the parameters to train.
        num_epochs: a positive number of passes over ``train_loader``.
        device: where to compute (a name or a torch.device, checked by
            :func:`~transfer_utils.core.device.resolve_device`); batches are moved there.
        val_loader: evaluated after every epoch when given.
        scheduler: an LR scheduler, stepped after every epoch (or every batch with
            ``step_scheduler_per_batch=True``, for warm-up).
        amp: automatic mixed precision; None means on for CUDA, off elsewhere.
        grad_clip: clip the global gradient norm to this value.
        progress: show a tqdm bar over batches.

    Returns:
        History with lists ``epoch``, ``train_loss``, ``train_acc`` (when the targets are class
        labels), ``val_loss``/``val_acc`` (with ``val_loader``), ``lr`` and ``time_s``.

    Raises:
        ValueError: a non-positive ``num_epochs`` or an empty loader.
        FloatingPointError: the loss stopped being finite.
    """
    if not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive int, got {num_epochs!r}.")
    device = resolve_device(device)
    _check_parts(model, loss_fn, optimizer, training=True)
    _check_loader(train_loader, "train_loader")
    if val_loader is not None:
        _check_loader(val_loader, "val_loader")
    use_amp = (device.type == "cuda") if amp is None else amp
    amp_dtype = autocast_dtype(device) if use_amp else None
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    history: History = {"epoch": [], "train_loss": [], "lr": [], "time_s": []}
    try:
        total = num_epochs * len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        total = None
    bar = progress_bar(total=total, desc=desc, unit="batch", leave=False) if progress else None
    try:
        for epoch in range(1, num_epochs + 1):
            start = time.perf_counter()
            train = _run_epoch(model, train_loader, loss_fn=loss_fn, device=device, optimizer=optimizer,
                               scaler=scaler, amp_dtype=amp_dtype, scheduler=scheduler,
                               step_scheduler_per_batch=step_scheduler_per_batch, grad_clip=grad_clip,
                               bar=bar)
            if scheduler is not None and not step_scheduler_per_batch:
                scheduler.step()
            history["epoch"].append(epoch)
            history["train_loss"].append(train["loss"])
            if "acc" in train:
                history.setdefault("train_acc", []).append(train["acc"])
            history["lr"].append(optimizer.param_groups[0]["lr"])
            if val_loader is not None:
                val = evaluate(model, val_loader, loss_fn=loss_fn, device=device, amp=use_amp)
                history.setdefault("val_loss", []).append(val["loss"])
                if "accuracy" in val:
                    history.setdefault("val_acc", []).append(val["accuracy"])
            history["time_s"].append(time.perf_counter() - start)
            show_latest(bar, history, digits=4)
    finally:
        if bar is not None:
            bar.close()
    return history


def evaluate(
    model: nn.Module,
    loader: Iterable[Any],
    *,
    device: torch.device | str,
    loss_fn: LossFn | None = None,
    amp: bool | None = None,
) -> dict[str, float]:
    """Mean loss (with ``loss_fn``) and accuracy (for class labels) of ``model`` over ``loader``.

    The model is put in evaluation mode and no gradients are recorded. ``device`` is checked by
    :func:`~transfer_utils.core.device.resolve_device`.
    """
    device = resolve_device(device)
    _check_parts(model, loss_fn, None, training=False)
    _check_loader(loader, "loader")
    use_amp = (device.type == "cuda") if amp is None else amp
    amp_dtype = autocast_dtype(device) if use_amp else None
    fn = loss_fn if loss_fn is not None else (lambda out, y: torch.zeros((), device=out.device))
    res = _run_epoch(model, loader, loss_fn=fn, device=device, amp_dtype=amp_dtype)
    if loss_fn is None:
        res.pop("loss")
    if "acc" in res:
        res["accuracy"] = res.pop("acc")
    return res


def adam_minimize(
    loss_fn: Callable[[], torch.Tensor],
    params: Iterable[torch.Tensor],
    *,
    num_steps: int,
    lr: float,
) -> list[float]:
    """Full-batch Adam on a scalar loss, :math:`\\theta_{k+1} = \\operatorname{Adam}(\\theta_k,
    \\nabla_\\theta L(\\theta_k); \\eta)`, for ``num_steps`` steps: the one fitting loop of the GP
    helpers (type-II maximum likelihood in :mod:`~transfer_utils.bayes.gp_scratch` and
    :mod:`~transfer_utils.bayes.gp_models`, the ELBO in :mod:`~transfer_utils.bayes.gp_classification`).

    Args:
        loss_fn: computes :math:`L(\\theta)` (a scalar tensor) from the parameters ``params``.

    Returns:
        :math:`L(\\theta_k)` for :math:`k = 0, \\dots,` ``num_steps`` - 1.

    Raises:
        ValueError: no parameters, a negative ``num_steps`` or a non-positive ``lr``.
    """
    params = list(params)
    if not params:
        raise ValueError("adam_minimize needs at least one parameter to optimise.")
    if not isinstance(num_steps, int) or num_steps < 0:
        raise ValueError(f"num_steps must be a non-negative int, got {num_steps!r}.")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}.")
    optimizer = torch.optim.Adam(params, lr=lr)
    losses: list[float] = []
    for _ in range(num_steps):
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
