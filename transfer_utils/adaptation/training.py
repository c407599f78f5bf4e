"""A domain-adaptation training loop for any feature extractor, classifier and pair of loaders.

Each step draws a labelled source batch :math:`(x^s, y^s)` and an unlabelled target batch
:math:`x^t` (the two loaders may have different lengths: each restarts when it runs out) and takes
one gradient step on

.. math:: \\mathcal L = \\frac{1}{n_s}\\sum_i \\ell\\big(C(G(x_i^s)), y_i^s\\big)
          + \\alpha\\, \\mathcal L_{\\mathrm{da}}\\big(G(x^s), G(x^t)\\big),

where :math:`G` is the feature extractor, :math:`C` the classifier and :math:`\\mathcal L_{\\mathrm{da}}`
any :class:`~transfer_utils.adaptation.loss.AdaptationLoss`: CORAL and MMD
(:mod:`transfer_utils.adaptation.coral`, :mod:`transfer_utils.adaptation.mmd`), DANN, or CDAN (which also takes the
logits; it says so with ``uses_logits = True``). With no adaptation loss this is source-only
training. The loop talks to the loss only through that interface: before every step it calls
``set_progress(p)`` with the training progress :math:`p = (\\text{step}-1)/\\text{num\\_steps}`
(so the DANN :math:`\\lambda` schedule needs no extra code), and it records the loss's
``last_domain_accuracy`` and ``grl_lambda`` when they are not None.

Introduced in notebook 07, used in notebook 08.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from transfer_utils.adaptation.loss import AdaptationLoss
from transfer_utils.core.device import resolve_device
from transfer_utils.core.progress import progress_bar
from transfer_utils.core.validation import check_positive
from transfer_utils.nets.batches import to_device
from transfer_utils.nets.training import evaluate, show_latest

__all__ = ["TensorLoader", "ForeverIterator", "train_da"]


class TensorLoader:
    """Mini-batches of in-memory tensors: a lean stand-in for ``DataLoader(TensorDataset(...))``.

    A ``DataLoader`` over a ``TensorDataset`` indexes and collates one example at a time, which
    costs more than a small network's step on a CPU; this slices whole batches instead. It yields
    tuples like a ``DataLoader`` does, so anything that takes a loader takes it.

    Args:
        *tensors: tensors with the same first dimension (e.g. ``X, y``).
        batch_size: examples per batch.
        shuffle: draw a new permutation for every pass.
        drop_last: leave out a last, smaller batch.
        generator: seeds the shuffles (reproducible when given).
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, generator: torch.Generator | None = None) -> None:
        if not tensors:
            raise ValueError("TensorLoader needs at least one tensor.")
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            raise ValueError(f"All tensors need the same first dimension, got "
                             f"{[t.shape[0] for t in tensors]}.")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        self.tensors, self.batch_size, self.shuffle = tensors, batch_size, shuffle
        self.drop_last, self.generator = drop_last, generator

    def __len__(self) -> int:
        n = self.tensors[0].shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = self.tensors[0].shape[0]
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for b in range(len(self)):
            sl = slice(b * self.batch_size, min((b + 1) * self.batch_size, n))
            idx = order[sl] if order is not None else sl
            yield tuple(t[idx] for t in self.tensors)


class ForeverIterator:
    """Iterate over a loader forever, starting a new pass (and a new shuffle) when it runs out.

    Raises:
        ValueError: the loader yields nothing.
    """

    def __init__(self, loader: Iterable[Any], name: str = "loader") -> None:
        self.loader, self.name = loader, name
        self._it: Iterator[Any] = iter(loader)
        self.passes = 0

    def __next__(self) -> Any:
        try:
            return next(self._it)
        except StopIteration:
            self.passes += 1
            self._it = iter(self.loader)
            try:
                return next(self._it)
            except StopIteration:
                raise ValueError(f"{self.name} yields no batches (is the dataset empty, or "
                                 f"smaller than batch_size with drop_last=True?)") from None

    def __iter__(self) -> ForeverIterator:
        return self


def _inputs(batch: Any) -> torch.Tensor:
    return batch[0] if isinstance(batch, (list, tuple)) else batch


def _trainable_not_in_optimizer(module: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    in_opt = {id(p) for group in optimizer.param_groups for p in group["params"]}
    return sum(1 for p in module.parameters() if p.requires_grad and id(p) not in in_opt)


def train_da(
    feature_extractor: nn.Module,
    classifier: nn.Module,
    source_loader: Iterable[Any],
    target_loader: Iterable[Any] | None,
    *,
    optimizer: torch.optim.Optimizer,
    num_steps: int,
    device: torch.device | str,
    adaptation_loss: AdaptationLoss | None = None,
    trade_off: float = 1.0,
    scheduler: Any = None,
    eval_loaders: Mapping[str, Iterable[Any]] | None = None,
    eval_every: int | None = None,
    grad_clip: float | None = None,
    progress: bool = True,
    desc: str = "adapt",
) -> dict[str, list[float]]:
    """Train ``classifier(feature_extractor(x))`` on the source while adapting to the target.

    Args:
        feature_extractor: :math:`G`, maps an input batch to features (N, d); on ``device``.
        classifier: :math:`C`, maps features to class logits (N, K); on ``device``.
        source_loader: yields ``(x, y)`` labelled source batches.
        target_loader: yields ``x`` or ``(x, ...)`` target batches; any labels are ignored.
            May be None only without an ``adaptation_loss``.
        optimizer: over the parameters of ``feature_extractor``, ``classifier`` and the
            ``adaptation_loss`` (the discriminator of DANN/CDAN).
        num_steps: number of gradient steps (the loaders restart as needed).
        device: where to compute (a name or a torch.device, checked by
            :func:`~transfer_utils.core.device.resolve_device`).
        adaptation_loss: an :class:`~transfer_utils.adaptation.loss.AdaptationLoss`, called as
            ``loss(f_src, f_tgt)``, or ``loss(f_src, f_tgt, logits_src, logits_tgt)`` when its
            ``uses_logits`` is True; None trains on the source only.
        trade_off: :math:`\\alpha`, the weight of the adaptation loss.
        scheduler: an LR scheduler stepped after every step.
        eval_loaders: name -> loader of labelled data; their accuracy is recorded as
            ``<name>_acc`` every ``eval_every`` steps (e.g. ``{"source": ..., "target": ...}``).
        eval_every: steps between records (default: ``num_steps // 10``, at least 1).
        grad_clip: clip the global gradient norm to this value.
        progress: show a tqdm bar over steps.

    Returns:
        History (lists, one entry per record): ``step``, ``cls_loss``, ``da_loss``, ``train_acc``
        (source batches since the last record), ``domain_acc`` (the discriminator's accuracy since
        the last record, when the loss reports one), ``lambda`` (when the loss has a GRL), ``lr``,
        ``time_s`` and ``<name>_acc`` for each evaluation loader.

    Raises:
        ValueError: a bad ``num_steps``/``trade_off``, a missing target loader, an empty loader,
            source and target features of different sizes, or discriminator parameters that the
            optimizer does not update.
    """
    if not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}.")
    check_positive(trade_off, "trade_off", allow_zero=True)
    if grad_clip is not None:
        check_positive(grad_clip, "grad_clip")
    if adaptation_loss is not None and target_loader is None:
        raise ValueError("An adaptation loss needs a target_loader of unlabelled target batches.")
    if adaptation_loss is not None and not isinstance(adaptation_loss, AdaptationLoss):
        raise TypeError(f"adaptation_loss must be an AdaptationLoss (transfer_utils.adaptation.loss), "
                        f"got {type(adaptation_loss).__name__}; subclass AdaptationLoss and set "
                        f"uses_logits / last_domain_accuracy as it documents.")
    device = resolve_device(device)
    if adaptation_loss is not None:
        adaptation_loss.to(device)
        missing = _trainable_not_in_optimizer(adaptation_loss, optimizer)
        if missing:
            raise ValueError(
                f"The adaptation loss has {missing} trainable parameter tensor(s) (a discriminator) "
                f"that the optimizer does not update; build the optimizer over "
                f"feature_extractor, classifier and adaptation_loss parameters."
            )
    eval_every = max(1, num_steps // 10) if eval_every is None else int(eval_every)
    if eval_every < 1:
        raise ValueError(f"eval_every must be >= 1, got {eval_every}.")
    src_it = ForeverIterator(source_loader, "source_loader")
    tgt_it = ForeverIterator(target_loader, "target_loader") if target_loader is not None else None
    model = nn.Sequential(feature_extractor, classifier)

    history: dict[str, list[float]] = {"step": [], "cls_loss": [], "da_loss": [], "train_acc": [],
                                       "lr": [], "time_s": []}
    sums = {"cls": torch.zeros((), device=device), "da": torch.zeros((), device=device),
            "correct": torch.zeros((), device=device), "dacc": torch.zeros((), device=device)}
    n_seen = n_steps_acc = n_dacc = 0
    start = time.perf_counter()
    bar = progress_bar(total=num_steps, desc=desc, unit="step", leave=False) if progress else None
    try:
        for step in range(1, num_steps + 1):
            feature_extractor.train()
            classifier.train()
            if adaptation_loss is not None:
                adaptation_loss.train()
                adaptation_loss.set_progress((step - 1) / num_steps)
            x_s, y_s = to_device(next(src_it), device)[:2]
            if tgt_it is not None and adaptation_loss is not None:
                x_t = to_device(_inputs(next(tgt_it)), device)
                if x_t.shape[0] == 0:
                    raise ValueError("The target loader gave an empty batch; every step needs "
                                     "target examples.")
                if x_t.shape[1:] != x_s.shape[1:]:
                    raise ValueError(f"Source inputs {tuple(x_s.shape[1:])} and target inputs "
                                     f"{tuple(x_t.shape[1:])} differ in shape.")
                feats = feature_extractor(torch.cat([x_s, x_t]))
                f_s, f_t = feats[: x_s.shape[0]], feats[x_s.shape[0]:]
            else:
                f_s, f_t = feature_extractor(x_s), None
            logits_s = classifier(f_s)
            cls_loss = F.cross_entropy(logits_s, y_s)
            loss = cls_loss
            if adaptation_loss is not None:
                if adaptation_loss.uses_logits:
                    da = adaptation_loss(f_s, f_t, logits_s, classifier(f_t))
                else:
                    da = adaptation_loss(f_s, f_t)
                loss = loss + trade_off * da
                sums["da"] += da.detach()
                dacc = adaptation_loss.last_domain_accuracy
                if dacc is not None:
                    sums["dacc"] += dacc
                    n_dacc += 1
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]],
                                         grad_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            sums["cls"] += cls_loss.detach()
            sums["correct"] += (logits_s.detach().argmax(1) == y_s).sum()
            n_seen += y_s.shape[0]
            n_steps_acc += 1
            if bar is not None:
                bar.update(1)
            if step % eval_every == 0 or step == num_steps:
                cls_mean = (sums["cls"] / n_steps_acc).item()
                if not torch.isfinite(torch.tensor(cls_mean)):
                    raise FloatingPointError(
                        f"The classification loss became {cls_mean} at step {step}. Lower the "
                        f"learning rate or the trade-off, or clip gradients (grad_clip=...).")
                history["step"].append(step)
                history["cls_loss"].append(cls_mean)
                history["da_loss"].append((sums["da"] / n_steps_acc).item())
                history["train_acc"].append((sums["correct"] / n_seen).item())
                if n_dacc:
                    history.setdefault("domain_acc", []).append((sums["dacc"] / n_dacc).item())
                lambd = adaptation_loss.grl_lambda if adaptation_loss is not None else None
                if lambd is not None:
                    history.setdefault("lambda", []).append(lambd)
                history["lr"].append(optimizer.param_groups[0]["lr"])
                for name, loader in (eval_loaders or {}).items():
                    acc = evaluate(model, loader, device=device)["accuracy"]
                    history.setdefault(f"{name}_acc", []).append(acc)
                history["time_s"].append(time.perf_counter() - start)
                for v in sums.values():
                    v.zero_()
                n_seen = n_steps_acc = n_dacc = 0
                show_latest(bar, history, digits=3)
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    return history
