"""The linear probe: multinomial logistic regression on frozen features, a convex problem.

With standardised features :math:`\\tilde z = (z - \\mu) / s` the probe minimises

.. math:: J(W, b) = \\frac{1}{n} \\sum_{i=1}^{n} -\\log \\operatorname{softmax}(W \\tilde z_i + b)_{y_i}
          + \\frac{\\lambda}{2} \\lVert W \\rVert_F^2 ,

which is convex in :math:`(W, b)`. For :math:`\\lambda > 0` the minimiser's :math:`W` is unique, but the
bias is not penalised and the softmax ignores a shift of all logits, so
:math:`J(W, b + c\\mathbf 1) = J(W, b)`: the minimisers form the line :math:`(W^*, b^* + c\\mathbf 1)`,
with one minimum value and one set of predicted probabilities. Full-batch L-BFGS with a
strong-Wolfe line search reaches that minimum from any start (the optional random start of
:func:`fit_linear_probe` checks it); from the zero start it returns the bias with
:math:`\\sum_c b_c = 0`, because the gradient in :math:`b` always sums to zero over classes. It is
the same objective as scikit-learn's ``LogisticRegression(C=1 / (n * lambda))``, used as the
reference in the tests. The probe as an evaluation of representations: Alain and Bengio (2016),
"Understanding intermediate layers using linear classifier probes". Introduced in notebook 05.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from transfer_utils.core.validation import check_class_labels, check_features, check_int, check_positive

__all__ = ["LinearProbe", "fit_linear_probe", "probe_objective"]


class LinearProbe(nn.Module):
    """Standardise, then a linear layer: ``logits = W (z - mu) / s + b``.

    Shape: ``(N, D) -> (N, C)``.
    """

    def __init__(self, mean: torch.Tensor, scale: torch.Tensor, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean.clone())
        self.register_buffer("scale", scale.clone())
        self.linear = nn.Linear(mean.numel(), num_classes)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, Z: torch.Tensor) -> torch.Tensor:
        return self.linear((Z - self.mean) / self.scale)

    def as_linear(self) -> nn.Linear:
        """The same map as one ``nn.Linear`` on raw features (to initialise a fine-tuning head)."""
        W = self.linear.weight / self.scale
        lin = nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            lin.weight.copy_(W)
            lin.bias.copy_(self.linear.bias - W @ self.mean)
        return lin


def probe_objective(probe: LinearProbe, Z: torch.Tensor, y: torch.Tensor, weight_decay: float) -> torch.Tensor:
    """The objective :math:`J(W, b)` above for a fitted or partly fitted probe."""
    W = probe.linear.weight
    return F.cross_entropy(probe(Z), y) + 0.5 * weight_decay * (W * W).sum()


def fit_linear_probe(
    Z: torch.Tensor,
    y: torch.Tensor,
    num_classes: int | None = None,
    *,
    weight_decay: float = 1e-3,
    max_iter: int = 200,
    tol: float = 1e-7,
    standardize: bool = True,
    generator: torch.Generator | None = None,
    init_scale: float = 1.0,
) -> LinearProbe:
    """Fit a :class:`LinearProbe` by full-batch L-BFGS (float64 internally).

    Args:
        Z: features ``(N, D)``.
        y: labels ``(N,)`` in ``0..num_classes-1``.
        num_classes: default ``y.max() + 1``.
        weight_decay: :math:`\\lambda > 0` above (a larger value for fewer labels).
        max_iter: L-BFGS iterations.
        tol: stop when the gradient's largest entry is below this.
        standardize: centre and scale the features by their training mean and standard deviation.
        generator: when given, L-BFGS starts from :math:`W, b` with independent
            :math:`\\mathcal N(0, \\text{init\\_scale}^2)` entries drawn with it (a CPU generator)
            instead of zeros; the minimum reached is the same, the bias only up to a common shift.
        init_scale: the standard deviation of that random start.

    Returns:
        The fitted probe (float32, on ``Z``'s device), in evaluation mode.

    Raises:
        ValueError: mismatched shapes, empty data, NaN or inf in ``Z``, labels that are not class
            indices in range, or a negative weight decay.
    """
    if not isinstance(Z, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"Z and y must be torch tensors, got {type(Z).__name__} and {type(y).__name__}.")
    if Z.ndim != 2 or y.ndim != 1 or Z.shape[0] != y.shape[0] or Z.shape[0] == 0:
        raise ValueError(f"Need Z (N, D) and y (N,) with N > 0; got {tuple(Z.shape)} and {tuple(y.shape)}.")
    if Z.device != y.device:
        raise ValueError(f"Z is on {Z.device} but y on {y.device}; move them to one device.")
    check_features(Z, "Z", advice="drop or impute those features (rows) before fitting the probe")
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    check_int(max_iter, "max_iter", minimum=1)
    check_positive(tol, "tol", allow_zero=True)
    if generator is not None and not 0 < init_scale < float("inf"):
        raise ValueError(f"init_scale must be positive and finite, got {init_scale}.")
    if num_classes is not None:
        num_classes = check_int(num_classes, "num_classes", minimum=1)
    y = check_class_labels(y, "y", num_classes)
    num_classes = int(y.max()) + 1 if num_classes is None else num_classes
    Z64 = Z.double()
    if standardize:
        mean, scale = Z64.mean(0), Z64.std(0, unbiased=False).clamp_min(1e-6)
    else:
        mean, scale = torch.zeros_like(Z64[0]), torch.ones_like(Z64[0])
    probe = LinearProbe(mean, scale, num_classes).to(Z.device, torch.float64)
    if generator is not None:
        with torch.no_grad():
            for p in probe.linear.parameters():
                p.copy_(init_scale * torch.randn(p.shape, generator=generator, dtype=torch.float64))
    opt = torch.optim.LBFGS(probe.linear.parameters(), lr=1.0, max_iter=max_iter,
                            tolerance_grad=tol, tolerance_change=1e-12, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = probe_objective(probe, Z64, y, weight_decay)
        loss.backward()
        return loss

    opt.step(closure)
    return probe.float().eval()
