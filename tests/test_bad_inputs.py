"""Bad input to the public numeric helpers fails clearly: raised by the course, naming the argument.

Each row of :data:`CASES` is a call with one bad input and the words its error message must
contain (the argument, and usually what to do); :func:`badinput.expect_clear_error` checks that it
raises, from a ``raise`` inside ``transfer_utils``, with those words. Every helper added to the
course adds its bad inputs here (see CONTRIBUTING.md). The regression tests at the end follow the
cases of issue 11 that went wrong silently: their record, and that the advice given can be followed.
"""

from __future__ import annotations

import math

import gpytorch
import pytest
import torch
from badinput import expect_clear_error
from torch import nn

from transfer_utils.adaptation import adversarial, coral, discrepancy, grl, mmd, subspace
from transfer_utils.adaptation.training import TensorLoader, train_da
from transfer_utils.bayes import gp_classification, gp_fit, gp_models, gp_multitask, gp_scratch, laplace, metrics
from transfer_utils.calculus import (first_order, hessian_free, irls, landscapes, newton, numdiff, optim,
                                     quasi_newton)
from transfer_utils.calculus.optim_base import DivergenceError
from transfer_utils.bayes.fitting import adam_minimize
from transfer_utils.nets.training import TrainingDivergedError, fit
from transfer_utils.transfer import contrastive, finetune, parameter_transfer, probe

DT = torch.float64
NAN, INF = float("nan"), float("inf")


def rand(*shape: int, seed: int = 0, dtype: torch.dtype = DT) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def spoil(T: torch.Tensor, value: float = NAN, index: int = 0) -> torch.Tensor:
    """A copy of ``T`` with one entry replaced by ``value`` (NaN by default)."""
    T = T.clone()
    T.view(-1)[index] = value
    return T


def labels01(n: int = 30, seed: int = 0, dtype: torch.dtype = DT) -> torch.Tensor:
    return (rand(n, seed=seed) > 0).to(dtype)


def quad() -> landscapes.Quadratic:
    return landscapes.make_quadratic([1.0, 10.0], generator=torch.Generator().manual_seed(0))


def gp() -> tuple[gp_models.ExactGPModel, gpytorch.likelihoods.GaussianLikelihood]:
    return gp_models.make_exact_gp(rand(12, 1), rand(12, seed=1))


def gp_classifier():
    X, y = rand(20, 2), labels01(20)
    model, lik, _ = gp_classification.fit_gp_classifier(X, y, num_inducing=5, num_iters=2)
    return model, lik


def probe_data() -> tuple[torch.Tensor, torch.Tensor]:
    return rand(30, 4), (rand(30, seed=1) > 0).long()


def dann(in_features: int = 3) -> adversarial.DANNLoss:
    torch.manual_seed(0)
    return adversarial.DANNLoss(adversarial.DomainDiscriminator(in_features, 8))


def cdan(logits_src: torch.Tensor, logits_tgt: torch.Tensor):
    torch.manual_seed(0)
    loss = adversarial.CDANLoss(adversarial.DomainDiscriminator(6, 8).double())
    return loss(rand(5, 3), rand(5, 3, seed=1), logits_src, logits_tgt)


def da_run(**kwargs):
    torch.manual_seed(0)
    G, C = nn.Linear(2, 4), nn.Linear(4, 2)
    X, y = rand(16, 2, dtype=torch.float32), (rand(16) > 0).long()
    opt = torch.optim.SGD(list(G.parameters()) + list(C.parameters()), lr=0.1)
    return train_da(G, C, TensorLoader(X, y, batch_size=8), TensorLoader(X, batch_size=8), optimizer=opt,
                    num_steps=2, device="cpu", adaptation_loss=coral.CORALLoss(), progress=False, **kwargs)


def fit_run(lr: float = 0.1, *, regression: bool = False, **kwargs):
    """``fit`` of a linear model: 4 batches of 16 two-feature points, 3 epochs of plain SGD."""
    torch.manual_seed(0)
    X = rand(64, 2, dtype=torch.float32)
    model = nn.Linear(2, 1 if regression else 2)
    y = (10 * X[:, :1] + 1) if regression else (X[:, 0] > 0).long()
    loss_fn = nn.MSELoss() if regression else nn.CrossEntropyLoss()
    return fit(model, TensorLoader(X, y, batch_size=16), loss_fn=loss_fn,
               optimizer=torch.optim.SGD(model.parameters(), lr=lr), num_epochs=3, device="cpu",
               progress=False, **kwargs)


def nan_target_gp():
    model, lik = gp()
    model.set_train_data(targets=spoil(model.train_targets), strict=False)
    return gp_models.fit_gp(model, lik, num_iters=2)


def case(call, *words, id):
    return pytest.param(call, words, id=id)


CASES = [
    # --- calculus: optimisers -----------------------------------------------------------------
    case(lambda: first_order.gradient_descent(quad(), [NAN, 1.0], lr=0.1), "x0 contains", "NaN",
         "finite point", id="gd-nan-start"),
    case(lambda: first_order.gradient_descent(quad(), [INF, 1.0], lr=0.1), "x0", "infinite", id="gd-inf-start"),
    case(lambda: first_order.gradient_descent(quad(), [1.0, 1.0], lr=NAN), "lr", "finite", id="gd-lr-nan"),
    case(lambda: first_order.gradient_descent(quad(), [1.0, 1.0], lr=INF), "lr", "finite", id="gd-lr-inf"),
    case(lambda: first_order.gradient_descent(quad(), [1.0, 1.0], lr=-1.0), "lr", "positive", id="gd-lr-neg"),
    case(lambda: first_order.gradient_descent(quad(), [1.0, 1.0], lr=0.1, momentum=1.0), "momentum",
         "[0, 1)", id="gd-momentum-1"),
    case(lambda: first_order.gradient_descent(quad(), [1.0, 1.0], lr=0.1, max_iter=2.5), "max_iter", "int",
         id="gd-max-iter-float"),
    case(lambda: first_order.gradient_descent(quad(), [1.0, 1.0], lr=0.1, tol=NAN), "tol", "finite",
         id="gd-tol-nan"),
    case(lambda: first_order.gradient_descent(quad(), torch.ones(2, 1), lr=0.1), "x0", "1-D", id="gd-x0-2d"),
    case(lambda: first_order.gradient_descent(quad(), [1.0, 1.0], lr=2.1 / quad().L, max_iter=1000),
         "diverged", "lower lr", id="gd-lr-2.1-over-L"),
    case(lambda: first_order.adam(quad(), [1.0, 1.0], eps=0.0), "eps", "positive", id="adam-eps-0"),
    case(lambda: first_order.adam(quad(), [1.0, 1.0], lr=NAN), "lr", "finite", id="adam-lr-nan"),
    case(lambda: first_order.sgd(lambda x, i: (x * x).sum(), [1.0], n_samples=4, batch_size=0, lr=0.1,
                                 num_epochs=1), "batch_size", ">= 1", id="sgd-batch-0"),
    case(lambda: first_order.sgd(lambda x, i: (x * x).sum(), [1.0], n_samples=4, batch_size=2, lr=INF,
                                 num_epochs=1), "lr", "finite", id="sgd-lr-inf"),
    case(lambda: first_order.sgd(lambda x, i: (x * x).sum(), [1.0], n_samples=4, batch_size=2,
                                 lr=lambda k: NAN, num_epochs=1), "lr schedule", "finite", id="sgd-schedule-nan"),
    case(lambda: quasi_newton.lbfgs(quad(), [NAN, 0.0]), "x0 contains", id="lbfgs-nan-start"),
    case(lambda: quasi_newton.lbfgs(quad(), [1.0, 0.0], tol=-1.0), "tol", ">= 0", id="lbfgs-tol-neg"),
    case(lambda: newton.newton_minimize(quad(), [1.0, 1.0], damping=NAN), "damping", "finite",
         id="newton-damping-nan"),
    case(lambda: newton.newton_minimize(quad(), [1.0, 1.0], min_eig=-1.0), "min_eig", "positive",
         id="newton-min-eig-neg"),
    case(lambda: newton.newton_root(lambda x: x**3 - 1, [NAN]), "x0 contains", id="newton-root-nan-start"),
    case(lambda: newton.hessian(quad(), torch.tensor([NAN, 1.0], dtype=DT)), "x contains", id="hessian-nan-x"),
    case(lambda: newton.newton_root(lambda x: x**3 - 1, [2.0], tol=-1.0), "tol", ">= 0", id="newton-root-tol"),
    # --- calculus: logistic regression by IRLS, the losses ---------------------------------------
    case(lambda: irls.logistic_irls(rand(30, 2), 2 * labels01() - 1), "y must hold binary labels 0 and 1",
         "(y + 1) / 2", id="irls-labels-pm1"),
    case(lambda: irls.logistic_irls(spoil(rand(30, 2)), labels01()), "X contains", "NaN", id="irls-nan-X"),
    case(lambda: irls.logistic_irls(rand(30, 2), spoil(labels01())), "y contains", "NaN", id="irls-nan-y"),
    case(lambda: irls.logistic_irls(rand(30, 2), labels01(), l2=-1.0), "l2", ">= 0", id="irls-l2-neg"),
    case(lambda: irls.logistic_irls(rand(30, 2), labels01(), precision=torch.eye(3, dtype=DT)),
         "precision must have shape (2, 2)", id="irls-precision-shape"),
    case(lambda: irls.logistic_irls(rand(30, 2), labels01(), center=torch.tensor([NAN, 0.0], dtype=DT)),
         "center contains", id="irls-center-nan"),
    case(lambda: irls.logistic_irls(rand(30, 2), labels01(), init=torch.zeros(3, dtype=DT)),
         "init must have shape (2,)", id="irls-init-shape"),
    case(lambda: irls.logistic_irls(torch.ones(30, 2, dtype=torch.long), labels01()), "X",
         "floating-point", id="irls-int-X"),
    case(lambda: landscapes.logistic_loss(torch.zeros(2, dtype=DT), spoil(rand(30, 2)), labels01()),
         "X contains", "NaN", id="logistic-loss-nan-X"),
    case(lambda: landscapes.logistic_loss(torch.zeros(2, dtype=DT), rand(30, 2), 2 * labels01()),
         "labels 0 and 1", id="logistic-loss-label-2"),
    case(lambda: landscapes.logistic_loss(torch.zeros(2, dtype=DT), rand(30, 2), labels01(), NAN),
         "l2", "finite", id="logistic-loss-l2-nan"),
    # --- calculus: Hessian-free, finite differences, landscapes, rates -----------------------------
    case(lambda: hessian_free.hvp(quad(), torch.tensor([NAN, 1.0], dtype=DT), torch.ones(2, dtype=DT)),
         "x contains", id="hvp-nan-x"),
    case(lambda: hessian_free.conjugate_gradient(lambda v: v, torch.tensor([1.0, NAN])), "b contains",
         id="cg-nan-b"),
    case(lambda: hessian_free.conjugate_gradient(lambda v: v * NAN, torch.ones(2)), "matvec", "NaN",
         id="cg-nan-matvec"),
    case(lambda: hessian_free.conjugate_gradient(lambda v: v, torch.ones(2), max_iter=-1), "max_iter",
         id="cg-max-iter-neg"),
    case(lambda: numdiff.numerical_gradient(lambda x: (x * x).sum(), torch.tensor([NAN, 1.0])), "x contains",
         "finite point", id="numgrad-nan-x"),
    case(lambda: numdiff.check_gradient(lambda x: (x * x).sum(), torch.ones(2, dtype=DT), rtol=NAN), "rtol",
         id="gradcheck-rtol-nan"),
    case(lambda: numdiff.central_difference(math.sin, 1.0, NAN), "h", "step", id="central-difference-h-nan"),
    case(lambda: landscapes.make_quadratic([1.0, 2.0], x_star=[NAN, 0.0]), "x_star contains", id="quadratic-x-star-nan"),
    case(lambda: landscapes.quadratic_with_condition(INF), "kappa", "finite", id="quadratic-kappa-inf"),
    case(lambda: landscapes.quadratic_with_condition(10.0, L=0.0), "L", "positive", id="quadratic-L-0"),
    case(lambda: optim.quadratic_gd_rate([1.0, NAN], 0.1), "eigenvalues", "NaN", id="gd-rate-nan-eigenvalue"),
    case(lambda: optim.quadratic_gd_rate([1.0, 2.0], INF), "lr", "finite", id="gd-rate-lr-inf"),
    case(lambda: optim.optimal_gd_lr(INF, 1.0), "L", "finite", id="optimal-lr-L-inf"),
    case(lambda: optim.heavy_ball_params(10.0, NAN), "mu", "finite", id="heavy-ball-mu-nan"),
    # --- nets: the training loop and Adam ---------------------------------------------------------
    case(lambda: fit_run(lr=1e6), "diverged", "learning rate", id="fit-lr-1e6-explodes"),
    case(lambda: fit_run(lr=1e12, regression=True), "diverged", "not finite", id="fit-loss-inf"),
    case(lambda: fit_run(grad_clip=-1.0), "grad_clip", "positive", id="fit-grad-clip-neg"),
    case(lambda: fit_run(grad_clip=NAN), "grad_clip", "finite", id="fit-grad-clip-nan"),
    case(lambda: fit_run(divergence_factor=0.0), "divergence_factor", "positive", id="fit-divergence-factor-0"),
    case(lambda: adam_minimize(lambda: torch.zeros(1, requires_grad=True).sum(), [torch.zeros(1, requires_grad=True)],
                               num_steps=1, lr=NAN), "lr", "finite", id="adam-minimize-lr-nan"),
    case(lambda: adam_minimize(lambda: torch.zeros(()), [torch.zeros(1, requires_grad=True)], num_steps=1.5,
                               lr=0.1), "num_steps", "int", id="adam-minimize-steps-float"),
    case(lambda: (lambda w: adam_minimize(lambda: (w * NAN).sum(), [w], num_steps=3, lr=0.1))(
        torch.ones(1, requires_grad=True)), "loss became nan", "lower lr", id="adam-minimize-nan-loss"),
    case(lambda: (lambda w: adam_minimize(lambda: ((w - 1) ** 2).sum(), [w], num_steps=20, lr=50.0))(
        torch.zeros(1, requires_grad=True)), "diverged", "lower lr", id="adam-minimize-lr-50"),
    # --- transfer ---------------------------------------------------------------------------------
    case(lambda: parameter_transfer.ridge_toward(spoil(rand(20, 3)), rand(20, seed=1), 1.0), "X contains",
         "NaN", id="ridge-nan-X"),
    case(lambda: parameter_transfer.ridge_toward(rand(20, 3), spoil(rand(20, seed=1)), 1.0), "y contains",
         id="ridge-nan-y"),
    case(lambda: parameter_transfer.ridge_toward(rand(20, 3), rand(20, seed=1), NAN), "lam", "finite",
         id="ridge-lam-nan"),
    case(lambda: parameter_transfer.ridge_toward(rand(20, 3), rand(20, seed=1), 1.0, spoil(torch.zeros(3, dtype=DT))),
         "w_src contains", id="ridge-nan-w-src"),
    case(lambda: parameter_transfer.ridge_toward(rand(20, 3), rand(20, seed=1), 1.0, torch.zeros(2, dtype=DT)),
         "w_src must have shape (3,)", id="ridge-w-src-shape"),
    case(lambda: parameter_transfer.logistic_objective(rand(20, 3), 2 * labels01(20) - 1, l2=NAN), "l2",
         "finite", id="logistic-objective-l2-nan"),
    case(lambda: parameter_transfer.logistic_objective(rand(20, 3), labels01(20), w_ref=torch.zeros(2, dtype=DT)),
         "w_ref must have shape (3,)", id="logistic-objective-w-ref-shape"),
    case(lambda: parameter_transfer.logistic_objective(spoil(rand(20, 3), INF), labels01(20)), "X contains",
         "infinite", id="logistic-objective-inf-X"),
    case(lambda: probe.fit_linear_probe(spoil(probe_data()[0]), probe_data()[1]), "Z contains", "NaN",
         id="probe-nan-Z"),
    case(lambda: probe.fit_linear_probe(probe_data()[0], probe_data()[1] * 0.5), "y", "class indices",
         id="probe-fractional-labels"),
    case(lambda: probe.fit_linear_probe(probe_data()[0], probe_data()[1] + 1, num_classes=2),
         "labels must lie", "num_classes", id="probe-label-out-of-range"),
    case(lambda: probe.fit_linear_probe(*probe_data(), weight_decay=NAN), "weight_decay", "finite",
         id="probe-weight-decay-nan"),
    case(lambda: probe.fit_linear_probe(*probe_data(), max_iter=0), "max_iter", ">= 1", id="probe-max-iter-0"),
    case(lambda: contrastive.nt_xent_loss(spoil(rand(4, 3)), rand(4, 3, seed=1)), "z1 contains", "NaN",
         id="nt-xent-nan"),
    case(lambda: contrastive.nt_xent_loss(rand(4, 3).float(), rand(4, 3, seed=1)), "z1 is torch.float32",
         "z2 is torch.float64", id="nt-xent-dtype-mix"),
    case(lambda: contrastive.nt_xent_loss(rand(4, 3), rand(4, 3, seed=1), NAN), "temperature", "finite",
         id="nt-xent-temperature-nan"),
    case(lambda: contrastive.augment_digits(torch.rand(2, 1, 8, 8), erase_prob=1.5), "erase_prob", "[0, 1]",
         id="augment-erase-prob"),
    case(lambda: contrastive.augment_digits(spoil(torch.rand(2, 1, 8, 8))), "X contains", id="augment-nan-X"),
    case(lambda: contrastive.augment_digits(torch.zeros(2, 1, 8, 8, dtype=torch.uint8)), "X",
         "floating-point", id="augment-uint8"),
    case(lambda: finetune.discriminative_param_groups([nn.Linear(2, 2)], lr=NAN), "lr", "finite",
         id="param-groups-lr-nan"),
    case(lambda: finetune.discriminative_param_groups([nn.Linear(2, 2)], lr=0.1, decay=0.0), "decay",
         "(0, 1]", id="param-groups-decay-0"),
    case(lambda: finetune.warmup_cosine(torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), 1, 10, NAN),
         "final_fraction", id="warmup-final-fraction-nan"),
    case(lambda: finetune.L2SPLoss(nn.CrossEntropyLoss(), nn.Linear(2, 2).parameters(), alpha=NAN), "alpha",
         "finite", id="l2sp-alpha-nan"),
    # --- adaptation: CORAL, MMD, subspaces ----------------------------------------------------------
    case(lambda: coral.coral_loss(spoil(rand(20, 3)), rand(25, 3, seed=1)), "f_src contains", "NaN",
         id="coral-loss-nan"),
    case(lambda: coral.coral_loss(rand(20, 3), rand(25, 3, seed=1).float()), "f_src is torch.float64",
         "f_tgt is torch.float32", id="coral-loss-dtype-mix"),
    case(lambda: coral.CORALLoss()(rand(20, 3), spoil(rand(25, 3, seed=1))), "f_tgt contains",
         "diverged", id="coral-module-nan"),
    case(lambda: coral.coral_transform(spoil(rand(20, 3), INF), rand(25, 3, seed=1)), "X_src contains",
         "infinite", id="coral-transform-inf"),
    case(lambda: coral.coral_transform(rand(20, 3), rand(25, 3, seed=1), eps=NAN), "eps", "finite",
         id="coral-transform-eps-nan"),
    case(lambda: coral.covariance(spoil(rand(20, 3))), "F contains", id="covariance-nan"),
    case(lambda: coral.matrix_power_sym(spoil(torch.eye(3, dtype=DT)), -0.5), "C contains", id="matrix-power-nan"),
    case(lambda: coral.matrix_power_sym(torch.eye(3, dtype=DT), 0.5, eps=-1.0), "eps", ">= 0",
         id="matrix-power-eps-neg"),
    case(lambda: mmd.mmd2(spoil(rand(20, 3)), rand(25, 3, seed=1)), "X contains", "NaN", id="mmd2-nan"),
    case(lambda: mmd.mmd2(rand(20, 3), rand(25, 3, seed=1).float()), "X is torch.float64",
         "Y is torch.float32", id="mmd2-dtype-mix"),
    case(lambda: mmd.mmd2(rand(20, 3), rand(25, 3, seed=1), sigmas=(1.0, NAN)), "sigmas", "finite",
         id="mmd2-sigma-nan"),
    case(lambda: mmd.MMDLoss(sigmas=(NAN,)), "sigmas", "finite", id="mmd-module-sigma-nan"),
    case(lambda: mmd.median_bandwidth(rand(20, 3), spoil(rand(25, 3, seed=1), INF)), "Y contains", "infinite",
         id="median-bandwidth-inf"),
    case(lambda: mmd.gaussian_kernel(rand(20, 3), rand(25, 3, seed=1), 0.0), "sigmas", "positive",
         id="gaussian-kernel-sigma-0"),
    case(lambda: subspace.subspace_alignment(spoil(rand(20, 3)), rand(25, 3, seed=1), 2), "X_src contains",
         id="subspace-nan"),
    case(lambda: subspace.pca_basis(spoil(rand(20, 3), INF), 2), "X contains", id="pca-inf"),
    case(lambda: discrepancy.proxy_a_distance(rand(20, 3), rand(25, 3, seed=1), C=NAN), "C", "finite",
         id="proxy-a-distance-C-nan"),
    # --- adaptation: adversarial losses, GRL, the training loop ----------------------------------------
    case(lambda: dann().double()(spoil(rand(20, 3)), rand(25, 3, seed=1)), "f_src contains", "NaN",
         id="dann-nan"),
    case(lambda: dann()(rand(20, 3).float(), rand(25, 3, seed=1)), "f_src is torch.float32",
         "f_tgt is torch.float64", id="dann-dtype-mix"),
    case(lambda: dann()(rand(20, 3), rand(25, 3, seed=1)), "DomainDiscriminator", "torch.float64",
         id="dann-discriminator-dtype"),
    case(lambda: cdan(rand(5, 2), spoil(rand(5, 2, seed=1))), "logits_tgt contains", id="cdan-nan-logits"),
    case(lambda: cdan(rand(5, 2).float(), rand(5, 2, seed=1)), "logits_src is torch.float32",
         id="cdan-dtype-mix"),
    case(lambda: adversarial.multilinear_map(spoil(rand(4, 2)), rand(4, 3)), "g contains", id="multilinear-nan"),
    case(lambda: adversarial.entropy(-torch.ones(2, 3)), "p must hold probabilities", id="entropy-negative"),
    case(lambda: adversarial.DomainDiscriminator(3, dropout=NAN), "dropout", "finite", id="discriminator-dropout-nan"),
    case(lambda: grl.GradientReversalLayer(gamma=NAN), "gamma", "finite", id="grl-gamma-nan"),
    case(lambda: grl.GradientReversalLayer(max_lambda=-1.0), "max_lambda", ">= 0", id="grl-max-lambda-neg"),
    case(lambda: grl.grad_reverse(torch.ones(2), INF), "lambd", "finite", id="grad-reverse-inf"),
    case(lambda: grl.dann_lambda(0.5, gamma=NAN), "gamma", "finite", id="dann-lambda-gamma-nan"),
    case(lambda: da_run(trade_off=INF), "trade_off", "finite", id="train-da-trade-off-inf"),
    case(lambda: da_run(grad_clip=0.0), "grad_clip", "positive", id="train-da-grad-clip-0"),
    # --- bayes: GP from scratch ---------------------------------------------------------------------
    case(lambda: gp_scratch.gp_posterior(rand(15, 2), spoil(rand(15, seed=1)), rand(5, 2), gp_scratch.GPHyperparameters()),
         "y contains", "NaN", id="gp-posterior-nan-y"),
    case(lambda: gp_scratch.gp_posterior(rand(15, 2), rand(15, seed=1), spoil(rand(5, 2)), gp_scratch.GPHyperparameters()),
         "X_star contains", id="gp-posterior-nan-X-star"),
    case(lambda: gp_scratch.gp_posterior(rand(15, 2), rand(15, seed=1).float(), rand(5, 2),
                                         gp_scratch.GPHyperparameters()), "X is torch.float64", "y is torch.float32",
         id="gp-posterior-dtype-mix"),
    case(lambda: gp_scratch.gp_posterior(rand(15, 2), rand(15, seed=1), rand(5, 3), gp_scratch.GPHyperparameters()),
         "X_star", "d=3", id="gp-posterior-X-star-dim"),
    case(lambda: gp_scratch.rbf_kernel(rand(5, 2), rand(4, 2), lengthscale=0.0), "lengthscale", "positive",
         id="rbf-lengthscale-0"),
    case(lambda: gp_scratch.rbf_kernel(rand(5, 2), rand(4, 2), lengthscale=NAN), "lengthscale", "finite",
         id="rbf-lengthscale-nan"),
    case(lambda: gp_scratch.rbf_kernel(rand(5, 2), rand(4, 2), outputscale=-1.0), "outputscale", "positive",
         id="rbf-outputscale-neg"),
    case(lambda: gp_scratch.rbf_kernel(rand(5, 2), rand(4, 2).float()), "X1 is torch.float64", "X2 is torch.float32",
         id="rbf-dtype-mix"),
    case(lambda: gp_scratch.log_marginal_likelihood(rand(15, 2), rand(15, seed=1), -1.0, 1.0, 0.1), "lengthscale",
         "positive", id="lml-lengthscale-neg"),
    case(lambda: gp_scratch.log_marginal_likelihood(rand(15, 2), rand(15, seed=1), 1.0, 1.0, 0.0), "noise",
         "positive", id="lml-noise-0"),
    case(lambda: gp_scratch.log_marginal_likelihood(rand(15, 2), rand(15, seed=1), 1.0, 1.0, 0.1, NAN), "mean",
         "finite", id="lml-mean-nan"),
    case(lambda: gp_scratch.log_marginal_likelihood(torch.ones(15, 2, dtype=torch.long), rand(15), 1.0, 1.0, 0.1),
         "X", "floating-point", id="lml-int-X"),
    case(lambda: gp_scratch.GPHyperparameters(mean=NAN), "GPHyperparameters.mean", "finite", id="gp-hp-mean-nan"),
    case(lambda: gp_scratch.GPHyperparameters(noise=-1.0), "GPHyperparameters.noise", "positive",
         id="gp-hp-noise-neg"),
    case(lambda: gp_scratch.safe_cholesky(spoil(torch.eye(3, dtype=DT))), "K contains", id="cholesky-nan"),
    case(lambda: gp_fit.fit_hyperparameters(rand(15, 2), rand(15, seed=1), lr=50.0, num_steps=20), "diverged",
         "lower lr", "lengthscale", id="fit-hyperparameters-lr-50"),
    case(lambda: gp_fit.fit_hyperparameters(rand(15, 2), spoil(rand(15, seed=1))), "y contains", "NaN",
         id="fit-hyperparameters-nan-y"),
    case(lambda: gp_fit.fit_hyperparameters(rand(15, 2), rand(15, seed=1), lr=NAN), "lr", "finite",
         id="fit-hyperparameters-lr-nan"),
    # --- bayes: GPyTorch models ---------------------------------------------------------------------
    case(lambda: gp_models.fit_gp(*gp_models.make_exact_gp(rand(12, 1), spoil(rand(12, seed=1))), num_iters=2),
         "y contains", "NaN", id="fit-gp-nan-y"),
    case(nan_target_gp, "training targets", "NaN", id="fit-gp-nan-train-data"),
    case(lambda: gp_models.fit_gp(*gp(), lr=INF), "lr", "finite", id="fit-gp-lr-inf"),
    case(lambda: gp_models.make_exact_gp(rand(12, 1), rand(12, seed=1).float()), "X is torch.float64",
         "y is torch.float32", id="exact-gp-dtype-mix"),
    case(lambda: gp_models.set_hyperparameters(*gp(), lengthscale=1.0, outputscale=1.0, noise=1e-10), "noise",
         "GreaterThan", "noise_constraint", id="set-hp-noise-1e-10"),
    case(lambda: gp_models.set_hyperparameters(*gp(), lengthscale=1.0, outputscale=1.0, noise=-1.0), "noise",
         "positive", id="set-hp-noise-neg"),
    case(lambda: gp_models.set_hyperparameters(*gp(), lengthscale=NAN, outputscale=1.0, noise=0.1), "lengthscale",
         "finite", id="set-hp-lengthscale-nan"),
    case(lambda: gp_models.predict(*gp(), spoil(rand(4, 1))), "X contains", id="gp-predict-nan"),
    case(lambda: gp_models.predict(*gp(), rand(4, 1).float()), "X is torch.float32", id="gp-predict-dtype-mix"),
    case(lambda: gp_models.make_multitask_gp(rand(10, 1), rand(10), rand(4, 1), spoil(rand(4))), "y_tgt contains",
         id="multitask-nan-y-tgt"),
    case(lambda: gp_multitask.check_task(torch.tensor([0.0, 0.5]), 2, 2), "task", "whole task indices",
         id="multitask-fractional-task"),
    case(lambda: gp_classification.fit_gp_classifier(spoil(rand(20, 2)), labels01(20), num_iters=1), "X contains",
         id="gp-classifier-nan-X"),
    case(lambda: gp_classification.fit_gp_classifier(rand(20, 2), 2 * labels01(20) - 1, num_iters=1),
         "labels 0 and 1", id="gp-classifier-labels-pm1"),
    case(lambda: gp_classification.fit_gp_classifier(rand(20, 2), labels01(20), num_inducing=0), "num_inducing",
         id="gp-classifier-inducing-0"),
    case(lambda: gp_classification.predict_proba_gp(*gp_classifier(), rand(3, 2).float()), "X is torch.float32",
         id="gp-classifier-predict-dtype-mix"),
    # --- bayes: Laplace ---------------------------------------------------------------------------------
    case(lambda: laplace.fit_laplace_logistic(spoil(rand(30, 2)), labels01(), laplace.GaussianPrior.isotropic(2)),
         "X contains", "NaN", id="laplace-nan-X"),
    case(lambda: laplace.fit_laplace_logistic(rand(30, 2).float(), labels01(), laplace.GaussianPrior.isotropic(2)),
         "X is torch.float32", "prior", id="laplace-dtype-mix"),
    case(lambda: laplace.fit_laplace_logistic(rand(30, 2), 2 * labels01() - 1, laplace.GaussianPrior.isotropic(2)),
         "labels 0 and 1", id="laplace-labels-pm1"),
    case(lambda: laplace.GaussianPrior.isotropic(-1), "dim", ">= 1", id="prior-dim-neg"),
    case(lambda: laplace.GaussianPrior.isotropic(2, precision=NAN), "precision", "finite", id="prior-precision-nan"),
    case(lambda: laplace.GaussianPrior(torch.tensor([NAN, 0.0], dtype=DT), torch.eye(2, dtype=DT)), "mean contains",
         id="prior-mean-nan"),
    case(lambda: laplace.GaussianPrior(torch.zeros(2, dtype=DT), torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=DT)),
         "precision", "symmetric", id="prior-asymmetric"),
    case(lambda: laplace.fit_laplace_logistic(rand(30, 2), labels01(), laplace.GaussianPrior.isotropic(2))
         .as_prior(INF), "inflate", "finite", id="as-prior-inflate-inf"),
    case(lambda: laplace.predictive_proba(laplace.fit_laplace_logistic(rand(30, 2), labels01(),
                                                                       laplace.GaussianPrior.isotropic(2)),
                                          spoil(rand(4, 2))), "X contains", id="laplace-predict-nan"),
    # --- bayes: metrics ---------------------------------------------------------------------------------
    case(lambda: metrics.expected_calibration_error(spoil(torch.rand(30, dtype=DT)), labels01()), "probs contains",
         "NaN", id="ece-nan"),
    case(lambda: metrics.expected_calibration_error(torch.rand(30, dtype=DT), labels01(), n_bins=0), "n_bins",
         ">= 1", id="ece-n-bins-0"),
    case(lambda: metrics.reliability_curve(torch.rand(30, dtype=DT), labels01(), n_bins=2.5), "n_bins", "int",
         id="reliability-n-bins-float"),
    case(lambda: metrics.expected_calibration_error(torch.full((3, 2), 0.5), torch.tensor([0, 1, 2])),
         "class labels must lie", id="ece-multiclass-label-range"),
    case(lambda: metrics.expected_calibration_error(torch.rand(30, dtype=DT), 2 * labels01()), "labels 0 and 1",
         id="ece-binary-label-2"),
    case(lambda: metrics.bernoulli_nll(torch.full((3,), 0.5), torch.tensor([0.0, 1.0, 2.0])), "labels 0 and 1",
         id="bernoulli-nll-label-2"),
    case(lambda: metrics.bernoulli_nll(torch.tensor([0.5, 1.5]), torch.tensor([0.0, 1.0])), "probs must lie",
         id="bernoulli-nll-probs-above-1"),
    case(lambda: metrics.rmse(rand(5), spoil(rand(5, seed=1))), "mean contains", id="rmse-nan"),
    case(lambda: metrics.gaussian_nlpd(rand(5), rand(5, seed=1), spoil(torch.ones(5, dtype=DT))), "var contains",
         id="nlpd-nan-var"),
    case(lambda: metrics.interval_coverage(spoil(rand(5), INF), rand(5, seed=1), torch.ones(5, dtype=DT)),
         "y contains", id="coverage-inf-y"),
]


@pytest.mark.parametrize("call, words", CASES)
def test_bad_input_fails_clearly(call, words):
    expect_clear_error(call, *words)


def test_the_table_is_large_and_its_ids_unique():
    ids = [c.id for c in CASES]
    assert len(ids) >= 90 and len(set(ids)) == len(ids)


# --- regression tests of issue 11: what the run keeps, and that the advice can be followed ------------


def test_gradient_descent_beyond_2_over_L_reports_divergence_and_keeps_the_path():
    q = quad()
    err = expect_clear_error(lambda: first_order.gradient_descent(q, [1.0, 1.0], lr=2.1 / q.L, max_iter=1000),
                             "diverged", "lower lr", exc=DivergenceError)
    res = err.result
    assert res.status == "diverged" and "diverged" in res.message
    assert res.xs.shape[0] == len(res.values) > 100  # the whole path up to the blow-up, to be plotted
    assert res.values[-1] > 1e10 * res.values[0]
    # below 2/L the same run converges
    assert first_order.gradient_descent(q, [1.0, 1.0], lr=1.9 / q.L, max_iter=1000).converged


def test_fit_stops_a_diverging_run_and_keeps_its_history():
    err = expect_clear_error(lambda: fit_run(lr=1e6), "diverged", exc=TrainingDivergedError)
    assert isinstance(err, FloatingPointError)
    assert err.history["epoch"] == []  # it stopped in the first epoch
    # the same model at a sane rate trains through, and the check is off with divergence_factor=None
    assert fit_run(lr=0.1)["epoch"] == [1, 2, 3]
    assert fit_run(lr=1e6, divergence_factor=None)["epoch"] == [1, 2, 3]


def test_fit_hyperparameters_at_a_huge_rate_says_so():
    err = expect_clear_error(lambda: gp_fit.fit_hyperparameters(rand(15, 2), rand(15, seed=1), lr=50.0),
                             "diverged", "lengthscale=", "noise=", exc=FloatingPointError)
    assert "lower lr" in str(err).lower()
    hp, trace = gp_fit.fit_hyperparameters(rand(15, 2), rand(15, seed=1), lr=0.05, num_steps=50)  # the default rate works
    assert trace[-1] > trace[0] and math.isfinite(hp.lengthscale)


def test_set_hyperparameters_advice_for_a_tiny_noise_can_be_followed():
    X, y = rand(12, 1), rand(12, seed=1)
    lik = gpytorch.likelihoods.GaussianLikelihood(noise_constraint=gpytorch.constraints.GreaterThan(1e-12)).double()
    model = gp_models.ExactGPModel(X, y, lik).double()
    gp_models.set_hyperparameters(model, lik, lengthscale=1.0, outputscale=1.0, noise=1e-10)
    torch.testing.assert_close(lik.noise, torch.tensor([1e-10], dtype=DT), rtol=1e-6, atol=0)


def test_valid_inputs_near_the_boundaries_are_still_accepted():
    """Zero where zero is allowed, integer labels, a one-element tensor for a scalar."""
    X, y = rand(20, 3), rand(20, seed=1)
    torch.testing.assert_close(parameter_transfer.ridge_toward(X, y, 0.0),
                               torch.linalg.lstsq(X, y.unsqueeze(-1)).solution.squeeze(-1))
    assert landscapes.logistic_loss(torch.zeros(3, dtype=DT), X, labels01(20, dtype=torch.long)) > 0
    assert gp_scratch.rbf_kernel(X, X, lengthscale=torch.tensor(0.5, dtype=DT)).shape == (20, 20)
    assert metrics.expected_calibration_error(torch.tensor([0.9, 0.2]), torch.tensor([1, 0]), n_bins=1) == \
        pytest.approx(0.15)
    assert grl.dann_lambda(0.0, max_value=0.0, gamma=0.0) == 0.0
