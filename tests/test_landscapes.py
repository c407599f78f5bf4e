"""Tests for transfer_utils.calculus.landscapes (closed forms, scipy) and transfer_utils.calculus.plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # tests only; the package itself chooses no backend

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.optimize  # noqa: E402
import torch  # noqa: E402

from transfer_utils.calculus.landscapes import (  # noqa: E402
    FOUR_WELLS_MINIMA,
    four_wells,
    logistic_loss,
    make_quadratic,
    quadratic_with_condition,
    rosenbrock,
    saddle,
)
from transfer_utils.calculus.numdiff import numerical_gradient  # noqa: E402
from transfer_utils.calculus.plots import grid_values, plot_contour_paths, plot_convergence  # noqa: E402
from transfer_utils.calculus.optim import gradient_descent  # noqa: E402


def test_quadratic_spectrum_and_gradient():
    g = torch.Generator().manual_seed(0)
    q = make_quadratic([3.0, 1.0, 10.0], x_star=[1.0, 2.0, 3.0], generator=g)
    torch.testing.assert_close(torch.linalg.eigvalsh(q.A), torch.tensor([1.0, 3.0, 10.0], dtype=torch.float64))
    assert (q.L, q.mu, q.kappa) == pytest.approx((10.0, 1.0, 10.0))
    assert q(q.x_star).item() == 0.0
    x = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    torch.testing.assert_close(q.grad(x), numerical_gradient(q, x), rtol=1e-7, atol=1e-8)
    k = quadratic_with_condition(1e3, d=5, L=2.0, generator=g)
    assert k.kappa == pytest.approx(1e3) and k.L == pytest.approx(2.0)


def test_rosenbrock_matches_scipy():
    x = torch.tensor([-1.2, 1.0, 0.5, 2.0], dtype=torch.float64)
    assert rosenbrock(x).item() == pytest.approx(scipy.optimize.rosen(x.numpy()))
    assert rosenbrock(torch.ones(3, dtype=torch.float64)).item() == 0.0


def test_saddle_and_four_wells_critical_points():
    H = torch.func.hessian(saddle)(torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(H, torch.diag(torch.tensor([1.0, -1.0], dtype=torch.float64)))
    vals = []
    for m in FOUR_WELLS_MINIMA:
        g = numerical_gradient(four_wells, m)
        assert g.abs().max() < 1e-5
        assert torch.linalg.eigvalsh(torch.func.hessian(four_wells)(m)).min() > 0
        vals.append(four_wells(m).item())
    assert len(set(np.round(vals, 6))) == 4  # four different depths
    ref = scipy.optimize.minimize(lambda z: four_wells(torch.tensor(z)).item(), [-0.8, -0.8])
    np.testing.assert_allclose(ref.x, FOUR_WELLS_MINIMA[0].numpy(), atol=1e-4)


def test_logistic_loss_matches_closed_form_gradient():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(50, 3, generator=g, dtype=torch.float64)
    y = (torch.rand(50, generator=g) < 0.5).to(torch.float64)
    w = torch.randn(3, generator=g, dtype=torch.float64)
    p = torch.sigmoid(X @ w)
    ref = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean() + 0.05 * (w @ w)
    torch.testing.assert_close(logistic_loss(w, X, y, l2=0.1), ref)
    torch.testing.assert_close(
        numerical_gradient(lambda v: logistic_loss(v, X, y, 0.1), w), X.T @ (p - y) / 50 + 0.1 * w,
        rtol=1e-7, atol=1e-9)
    # no overflow at huge margins
    assert torch.isfinite(logistic_loss(1e4 * w, X, y))


def test_bad_input():
    with pytest.raises(ValueError, match="eigenvalues"):
        make_quadratic([])
    with pytest.raises(ValueError, match="kappa"):
        quadratic_with_condition(0.5)
    with pytest.raises(ValueError, match="shape"):
        saddle(torch.zeros(3))
    with pytest.raises(ValueError, match="at least 2"):
        rosenbrock(torch.zeros(1))
    X = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="labels 0 and 1"):
        logistic_loss(torch.zeros(2), X, torch.tensor([-1.0, 1.0, 1.0, -1.0]))
    with pytest.raises(ValueError, match="Need X"):
        logistic_loss(torch.zeros(3), X, torch.zeros(4))
    with pytest.raises(ValueError, match="scalar"):
        grid_values(lambda z: torch.stack([z, z]), (-1, 1), (-1, 1), n=4)


def test_plots_return_axes():
    q = make_quadratic([1.0, 5.0], rotate=False)
    res = gradient_descent(q, [1.5, 1.0], lr=0.3, max_iter=20)
    X, Y, Z = grid_values(q, (-2, 2), (-1, 1), n=5)
    assert Z.shape == (5, 5) and Z[2, 2] == pytest.approx(0.0)
    assert Z[0, 0] == pytest.approx(q(torch.tensor([-2.0, -1.0], dtype=torch.float64)).item())
    ax = plot_contour_paths(q, {"GD": res}, log=True)
    assert len(ax.get_lines()) == 3
    fig, ax2 = plt.subplots()
    assert plot_convergence({"GD": res.grad_norms, "zero": [1.0, 0.0]}, ax=ax2) is ax2
    with pytest.raises(ValueError):
        plot_convergence({})
    plt.close("all")


def test_logistic_loss_sum_reference_and_large_margins():
    """reduction="sum" is n times the mean; w_ref moves the penalty's centre; at large margins the
    loss matches log1p(exp(-|z|)) to relative precision (no cancellation)."""
    g = torch.Generator().manual_seed(1)
    X = torch.randn(40, 3, generator=g, dtype=torch.float64)
    y = (torch.rand(40, generator=g) < 0.5).to(torch.float64)
    w = torch.randn(3, generator=g, dtype=torch.float64)
    ref = torch.randn(3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(logistic_loss(w, X, y, reduction="sum"), 40 * logistic_loss(w, X, y))
    torch.testing.assert_close(logistic_loss(w, X, y, 0.3, w_ref=ref),
                               logistic_loss(w, X, y) + 0.15 * (w - ref) @ (w - ref))
    z = torch.tensor([30.0, 40.0], dtype=torch.float64)
    Xz, yz = z.reshape(2, 1), torch.ones(2, dtype=torch.float64)  # correct side: loss = log(1 + e^-z)
    exact = torch.log1p(torch.exp(-z)).sum()
    torch.testing.assert_close(logistic_loss(torch.ones(1, dtype=torch.float64), Xz, yz, reduction="sum"),
                               exact, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="reduction"):
        logistic_loss(w, X, y, reduction="max")
