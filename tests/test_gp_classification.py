"""The variational GP classifier against scikit-learn's Laplace GP classifier."""

import pytest
import torch
from sklearn.datasets import make_moons
from sklearn.gaussian_process import GaussianProcessClassifier
from sklearn.gaussian_process.kernels import RBF, ConstantKernel

from transfer_utils.bayes.gp_classification import fit_gp_classifier, predict_proba_gp


def _moons(n, seed):
    X, y = make_moons(n, noise=0.15, random_state=seed)
    return torch.tensor(X, dtype=torch.float64), torch.tensor(y)


def test_agrees_with_sklearn_laplace_gpc():
    torch.manual_seed(0)
    X, y = _moons(150, 0)
    X_test, y_test = _moons(300, 1)
    model, lik, losses = fit_gp_classifier(X, y, num_inducing=20, num_iters=150, lr=0.05,
                                           generator=torch.Generator().manual_seed(0))
    assert losses[-1] < losses[0] - 0.2  # the negative ELBO went down
    p = predict_proba_gp(model, lik, X_test)
    assert ((p >= 0) & (p <= 1)).all()
    ref = GaussianProcessClassifier(ConstantKernel() * RBF(), random_state=0).fit(X.numpy(), y.numpy())
    p_ref = torch.tensor(ref.predict_proba(X_test.numpy())[:, 1])
    agree = ((p > 0.5) == (p_ref > 0.5)).double().mean()
    assert agree > 0.95, f"only {agree:.3f} of predictions agree with sklearn"
    acc = ((p > 0.5).long() == y_test).double().mean()
    assert acc > 0.93
    assert (p - p_ref).abs().mean() < 0.1  # probit vs logistic link, variational vs Laplace


def test_bad_inputs():
    X, y = _moons(20, 0)
    with pytest.raises(ValueError, match=r"\{0, 1\}"):
        fit_gp_classifier(X, 2 * y - 1, num_iters=1)
    with pytest.raises(ValueError, match="same"):
        fit_gp_classifier(X, y[:-1], num_iters=1)
    model, lik, _ = fit_gp_classifier(X, y, num_iters=2, num_inducing=5)
    with pytest.raises(ValueError, match="shape"):
        predict_proba_gp(model, lik, torch.rand(3, 5, dtype=torch.float64))
