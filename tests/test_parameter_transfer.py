import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge

from transfer_utils.transfer.parameter_transfer import logistic_objective, ridge_toward


def _data(n=40, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    w = torch.randn(d, generator=g, dtype=torch.float64)
    y = X @ w + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    return X, y, w


def test_ridge_toward_matches_augmented_least_squares():
    """Independent reference: min ||Xw-y||^2 + lam||w-w_S||^2 is least squares on [X; sqrt(lam) I]."""
    X, y, _ = _data()
    w_src = torch.linspace(-1, 1, X.shape[1], dtype=torch.float64)
    lam = 3.7
    A = torch.cat([X, lam**0.5 * torch.eye(X.shape[1], dtype=X.dtype)])
    b = torch.cat([y, lam**0.5 * w_src])
    ref = torch.linalg.lstsq(A, b.unsqueeze(1)).solution.squeeze(1)
    torch.testing.assert_close(ridge_toward(X, y, lam, w_src), ref)


def test_ridge_toward_gradient_vanishes():
    X, y, _ = _data(seed=1)
    w_src = torch.ones(X.shape[1], dtype=torch.float64)
    w = ridge_toward(X, y, 2.0, w_src).requires_grad_(True)
    loss = (X @ w - y).pow(2).sum() + 2.0 * (w - w_src).pow(2).sum()
    (grad,) = torch.autograd.grad(loss, w)
    torch.testing.assert_close(grad, torch.zeros_like(grad), atol=1e-9, rtol=0)


def test_ridge_toward_zero_is_sklearn_ridge_and_limits():
    X, y, w_true = _data(seed=2)
    ref = Ridge(alpha=1.5, fit_intercept=False).fit(X.numpy(), y.numpy()).coef_
    np.testing.assert_allclose(ridge_toward(X, y, 1.5).numpy(), ref, rtol=1e-8)
    w_src = torch.full((X.shape[1],), 5.0, dtype=torch.float64)
    torch.testing.assert_close(ridge_toward(X, y, 1e10, w_src), w_src, atol=1e-6, rtol=0)
    ols = torch.linalg.lstsq(X, y.unsqueeze(1)).solution.squeeze(1)
    torch.testing.assert_close(ridge_toward(X, y, 0.0, w_src), ols)


def test_ridge_toward_bad_input():
    X, y, _ = _data(n=3, d=5)
    with pytest.raises(ValueError, match="lam > 0"):
        ridge_toward(X, y, 0.0)
    with pytest.raises(ValueError, match=">= 0"):
        ridge_toward(X, y, -1.0)
    with pytest.raises(ValueError, match="w_src must have shape"):
        ridge_toward(X, y, 1.0, torch.zeros(4, dtype=X.dtype))
    with pytest.raises(ValueError, match="y must have shape"):
        ridge_toward(X, y[:2], 1.0)
    with pytest.raises(TypeError, match="floating point"):
        ridge_toward(X.long(), y, 1.0)


def test_logistic_objective_minimiser_matches_sklearn():
    """sklearn minimises ||w||^2/2 + C sum log(1+exp(-y x w)); dividing by C n gives l2 = 1/(C n)."""
    g = torch.Generator().manual_seed(3)
    n, d = 200, 4
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = (X @ torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=X.dtype) + 0.5 * torch.randn(n, generator=g,
         dtype=X.dtype) > 0).long()
    C = 0.5
    f = logistic_objective(X, y, l2=1.0 / (C * n))
    w = torch.zeros(d, dtype=X.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1, max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = f(w)
        loss.backward()
        return loss

    opt.step(closure)
    ref = LogisticRegression(C=C, fit_intercept=False, tol=1e-10, max_iter=1000).fit(X.numpy(), y.numpy())
    np.testing.assert_allclose(w.detach().numpy(), ref.coef_[0], rtol=1e-5, atol=1e-6)


def test_logistic_objective_gradcheck_and_reference_point():
    g = torch.Generator().manual_seed(4)
    X = torch.randn(30, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (30,), generator=g) * 2 - 1
    w_ref = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    f = logistic_objective(X, y, l2=0.3, w_ref=w_ref)
    w = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (w,))
    # at w = 0 the loss is log 2 plus the penalty
    torch.testing.assert_close(f(torch.zeros(3, dtype=torch.float64)),
                               torch.log(torch.tensor(2.0, dtype=torch.float64)) + 0.15 * 14.0)
    with pytest.raises(ValueError, match=r"\{-1, \+1\}"):
        logistic_objective(X, torch.full((30,), 2), l2=0.1)
    with pytest.raises(ValueError, match="w must have shape"):
        f(torch.zeros(4, dtype=torch.float64))
