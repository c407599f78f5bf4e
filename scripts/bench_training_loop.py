"""Throughput of ``transfer_utils.nets.training.fit`` against a minimal hand-written PyTorch loop.

Both train the same model (same initial weights) on the same data (a CIFAR-10 subset, or random
tensors of the same shape with ``--synthetic``) with the same optimizer, batch size and number of
epochs; runs are interleaved (hand, fit, hand, fit, ...) so that a change in machine load affects
both alike, and the median over repeats is reported. The ratio is fit's throughput divided by the
hand loop's (1.0 = no overhead; the course's target is >= 0.95).

Usage::

    python scripts/bench_training_loop.py [--repeats 5] [--epochs 2] [--device cpu] [--synthetic]

Writes ``benchmarks/training_loop.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transfer_utils.core.device import device_report, get_device  # noqa: E402
from transfer_utils.nets.training import fit  # noqa: E402


def make_model() -> nn.Module:
    """A small CIFAR CNN (about 24k parameters): little work per batch, so any per-batch overhead
    of the loop shows up in the ratio (a stricter test than a large model)."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )


def hand_loop(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
              loss_fn: nn.Module, num_epochs: int, device: torch.device) -> None:
    """The minimal loop: move, forward, loss, zero_grad, backward, step."""
    model.train()
    for _ in range(num_epochs):
        for X, y in loader:
            X, y = X.to(device), y.to(device)
            loss = loss_fn(model(X), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--n", type=int, default=1000, help="training images")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default=None)
    parser.add_argument("--synthetic", action="store_true", help="random tensors instead of CIFAR-10")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "training_loop.json"))
    args = parser.parse_args()

    device = get_device(args.device)
    torch.manual_seed(0)
    if args.synthetic:
        data, source = TensorDataset(torch.rand(args.n, 3, 32, 32), torch.randint(0, 10, (args.n,))), "random"
    else:
        from transfer_utils.data.cifar import cifar10_tensors
        data, source = cifar10_tensors("train", n_per_class=args.n // 10, seed=0), "CIFAR-10 subset"
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(0), pin_memory=device.type == "cuda")
    template = make_model()
    loss_fn = nn.CrossEntropyLoss()
    n_images = len(data) * args.epochs

    def run(kind: str) -> tuple[float, float]:
        model = copy.deepcopy(template).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        if kind == "hand":
            hand_loop(model, loader, optimizer, loss_fn, args.epochs, device)
        else:  # fit() reads its losses back once per epoch, so it ends synchronised
            fit(model, loader, loss_fn=loss_fn, optimizer=optimizer, num_epochs=args.epochs,
                device=device, amp=False, progress=False)
        return n_images / (time.perf_counter() - start), n_images / (time.process_time() - cpu_start)

    run("hand"), run("fit")  # warm-up (allocator, kernels, data pages)
    hand, fitted, hand_cpu, fitted_cpu = [], [], [], []
    for r in range(args.repeats):
        order = ("hand", "fit") if r % 2 == 0 else ("fit", "hand")
        for kind in order:
            wall, cpu = run(kind)
            (hand if kind == "hand" else fitted).append(wall)
            (hand_cpu if kind == "hand" else fitted_cpu).append(cpu)
        print(f"repeat {r + 1}/{args.repeats}: hand {hand[-1]:.0f} img/s, fit {fitted[-1]:.0f} img/s "
              f"(per CPU-second: {hand_cpu[-1]:.0f}, {fitted_cpu[-1]:.0f})")
    ratio = statistics.median(fitted) / statistics.median(hand)
    ratio_cpu = statistics.median(fitted_cpu) / statistics.median(hand_cpu)
    result = {
        "what": "transfer_utils.nets.training.fit vs a minimal hand-written loop, same model/data/optimizer",
        "device": device_report(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "data": f"{source}, {len(data)} images 3x32x32, batch {args.batch_size}, {args.epochs} epochs",
        "repeats": args.repeats,
        "hand_images_per_s": [round(v, 1) for v in hand],
        "fit_images_per_s": [round(v, 1) for v in fitted],
        "hand_median": round(statistics.median(hand), 1),
        "fit_median": round(statistics.median(fitted), 1),
        "ratio_fit_over_hand": round(ratio, 4),
        "within_5_percent": ratio >= 0.95,
        "hand_images_per_cpu_s": [round(v, 1) for v in hand_cpu],
        "fit_images_per_cpu_s": [round(v, 1) for v in fitted_cpu],
        "ratio_fit_over_hand_cpu_time": round(ratio_cpu, 4),
        "note": "wall-clock throughput is the measure; the CPU-time ratio is less sensitive to other "
                "processes on a shared machine",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"fit/hand throughput ratio {ratio:.3f} wall-clock, {ratio_cpu:.3f} per CPU-second "
          f"(medians over {args.repeats}); wrote {out}")


if __name__ == "__main__":
    main()
