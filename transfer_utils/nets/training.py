"""A plain training loop a reader can follow: :func:`fit` and :func:`evaluate`.

One epoch of :func:`fit` minimises the empirical risk by mini-batch steps

.. math:: \\theta \\leftarrow \\theta - \\eta_t\\, \\nabla_\\theta \\frac{1}{|B|}\\sum_{(x, y)\\in B} \\ell(f_\\theta(x), y),

where the update rule itself is whatever ``optimizer`` implements. Batches are moved to the device in
one place (:func:`~transfer_utils.nets.batches.to_device`); losses and correct counts are accumulated on the device and read back
once per epoch, so the loop adds no synchronisation to a hand-written one. Introduced in notebook 00,
used from notebook 05 on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from transfer_utils.core.device import resolve_device
from transfer_utils.core.progress import progress_bar

from transfer_utils.core.validation import check_positive
from transfer_utils.nets.batches import (autocast_dtype, check_loader, check_training_parts, count_correct,
                                         move_resolved, split_batch)

__all__ = ["History", "TrainingDivergedError", "DIVERGENCE_FACTOR", "fit", "evaluate", "show_latest"]

History = dict[str, list[float]]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: :func:`fit` stops when an epoch's mean training loss exceeds this many times the first batch's.
DIVERGENCE_FACTOR = 1e3


class TrainingDivergedError(FloatingPointError):
    """Training diverged (the loss became non-finite or exploded); ``history`` holds the epochs
    completed before it, so the run can still be inspected or plotted."""

    def __init__(self, message: str, history: History | None = None) -> None:
        super().__init__(message)
        self.history = history if history is not None else {}


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
    (no gradients). Returns the mean ``loss``, the first batch's ``first_loss`` and, for class
    labels, the accuracy ``acc``."""
    training = optimizer is not None
    model.train(training)
    total_loss = torch.zeros((), device=device)
    total_correct = torch.zeros((), device=device, dtype=torch.long)
    first_loss = None
    n_seen, has_acc = 0, True
    autocast = (
        torch.autocast(device_type=device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
    )
    grad_ctx = nullcontext() if training else torch.no_grad()
    with grad_ctx:
        for batch in loader:
            X, y = split_batch(move_resolved(batch, device))
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
            if first_loss is None:
                first_loss = loss.detach().float()
            total_loss += loss.detach().float() * n
            correct = count_correct(output.detach(), y)
            if correct is None:
                has_acc = False
            else:
                total_correct += correct
            n_seen += n
            if bar is not None:
                bar.update(1)
    if n_seen == 0:
        raise ValueError("The loader yielded no batches; check the dataset size and batch_size.")
    # the one synchronisation of the epoch
    mean_loss, first = torch.stack([total_loss / n_seen, first_loss.reshape(())]).tolist()
    out = {"loss": mean_loss, "first_loss": first}
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
    divergence_factor: float | None = DIVERGENCE_FACTOR,
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
        divergence_factor: :math:`c`; stop when an epoch's mean training loss exceeds :math:`c`
            times the very first batch's, :math:`\\bar\\ell > c\\,|\\ell_1|` (None: never): the steps
            overshoot (the learning rate is too large). Checked once per epoch, no extra sync.

    Returns:
        History with lists ``epoch``, ``train_loss``, ``train_acc`` (when the targets are class
        labels), ``val_loss``/``val_acc`` (with ``val_loader``), ``lr`` and ``time_s``.

    Raises:
        ValueError: a non-positive ``num_epochs``, a bad ``grad_clip`` or an empty loader.
        TrainingDivergedError: (a :class:`FloatingPointError`) the loss stopped being finite or
            exploded as above; ``error.history`` holds the epochs completed before.
    """
    if not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive int, got {num_epochs!r}.")
    if grad_clip is not None:
        check_positive(grad_clip, "grad_clip")
    if divergence_factor is not None:
        check_positive(divergence_factor, "divergence_factor")
    device = resolve_device(device)
    check_training_parts(model, loss_fn, optimizer, training=True)
    check_loader(train_loader, "train_loader")
    if val_loader is not None:
        check_loader(val_loader, "val_loader")
    use_amp = (device.type == "cuda") if amp is None else amp
    amp_dtype = autocast_dtype(device) if use_amp else None
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    history: History = {"epoch": [], "train_loss": [], "lr": [], "time_s": []}
    try:
        total = num_epochs * len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        total = None
    bar = progress_bar(total=total, desc=desc, unit="batch", leave=False) if progress else None
    first_loss = None
    try:
        for epoch in range(1, num_epochs + 1):
            start = time.perf_counter()
            train = _run_epoch(model, train_loader, loss_fn=loss_fn, device=device, optimizer=optimizer,
                               scaler=scaler, amp_dtype=amp_dtype, scheduler=scheduler,
                               step_scheduler_per_batch=step_scheduler_per_batch, grad_clip=grad_clip,
                               bar=bar)
            first_loss = train["first_loss"] if first_loss is None else first_loss
            loss, factor = train["loss"], divergence_factor
            if not math.isfinite(loss) or (factor is not None and loss > factor * abs(first_loss)):
                why = ("(not finite)" if not math.isfinite(loss)
                       else f"> {factor:g} x the first batch's {first_loss:.4g}")
                raise TrainingDivergedError(
                    f"Training diverged in epoch {epoch}: the mean training loss became {loss:.4g} {why}. "
                    f"Lower the learning rate (now {optimizer.param_groups[0]['lr']:g}), clip gradients "
                    f"(grad_clip=...), or check the inputs for NaN/inf and their scale.", history)
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
    check_training_parts(model, loss_fn, None, training=False)
    check_loader(loader, "loader")
    use_amp = (device.type == "cuda") if amp is None else amp
    amp_dtype = autocast_dtype(device) if use_amp else None
    fn = loss_fn if loss_fn is not None else (lambda out, y: torch.zeros((), device=out.device))
    res = _run_epoch(model, loader, loss_fn=fn, device=device, amp_dtype=amp_dtype)
    res.pop("first_loss")
    if loss_fn is None:
        res.pop("loss")
    if "acc" in res:
        res["accuracy"] = res.pop("acc")
    return res
