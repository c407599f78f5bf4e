# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: slideshow,tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 08 Adversarial domain adaptation
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/PLACEHOLDER-ORG/calculus-in-transfer-learning/blob/main/notebooks/08_adversarial_adaptation.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/PLACEHOLDER-ORG/calculus-in-transfer-learning/main?labpath=notebooks%2F08_adversarial_adaptation.ipynb)
#
# Notebook 07 aligned the two domains by matching statistics we chose in advance: covariances
# (CORAL) or kernel mean embeddings (MMD). Adversarial adaptation lets a second network choose the
# statistic: a *domain discriminator* learns whatever tells source features from target features,
# and the feature extractor learns to defeat it. The whole game is one line of calculus: a layer
# that is the identity on the way forward and multiplies the gradient by $-\lambda$ on the way back.
# We derive why that layer solves the minimax problem, check it numerically, watch it move a decision
# boundary on rotated two moons, and measure DANN and CDAN on MNIST $\to$ USPS against source-only
# training, CORAL, MMD and a target-supervised upper bound.
#
# **In one line:** a reversed gradient trains features that fool a domain discriminator.
#
# **Learning objectives.** After this notebook you can
# 1. write the DANN minimax objective and explain why one backward pass through a gradient
#    reversal layer is a simultaneous descent-ascent step on it;
# 2. implement the reversal layer as a custom `torch.autograd.Function`, check its gradient, and
#    write one DANN training step by hand, equal to the package's;
# 3. train DANN and CDAN with `transfer_utils` on any pair of loaders and read the discriminator's
#    accuracy as a diagnostic;
# 4. compare methods fairly: mean and spread over seeds, a source-only baseline and a
#    target-supervised upper bound, published figures with their protocols;
# 5. say why adversarial training is unstable and name the fixes that help.
#
# **Prerequisites.** Notebook 01 (autograd), 04 (domains, proxy A-distance), 07 (CORAL, MMD, the
# training loop `train_da`).
#
# **Run time:** quick profile about 75 s on a 2-core laptop CPU; full profile adapts the whole
# network on all of MNIST and the USPS adaptation split for 5 seeds (about 30 min on a GPU).

# %% [markdown]
# ## Setup

# %%
# On Colab only, install the course when it is missing (scripts/badges.py writes the address, from pyproject.toml).
import importlib.util, subprocess, sys  # noqa: E401
if "google.colab" in sys.modules and importlib.util.find_spec("transfer_utils") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "git+https://github.com/PLACEHOLDER-ORG/calculus-in-transfer-learning@main"], check=True)

import copy
import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from torch import nn
from tqdm.auto import tqdm

from transfer_utils.adaptation import adversarial as tu_adv
from transfer_utils.adaptation import grl as tu_grl
from transfer_utils.adaptation.adversarial import CDANLoss, DANNLoss, DomainDiscriminator
from transfer_utils.adaptation.coral import CORALLoss
from transfer_utils.adaptation.plots import plot_decision_boundary, plot_embedding_before_after
from transfer_utils.adaptation.training import TensorLoader, train_da
from transfer_utils.data.checks import require_data
from transfer_utils.data.digits import digit_domains
from transfer_utils.data.moons import make_moons_domains
from transfer_utils.core.device import device_report, get_device
from transfer_utils.adaptation.discrepancy import proxy_a_distance
from transfer_utils.nets.features import extract_features
from transfer_utils.adaptation.grl import GradientReversalLayer, dann_lambda
from transfer_utils.adaptation.mmd import MMDLoss
from transfer_utils.core.plotting import use_course_style
from transfer_utils.core.profile import get_profile
from transfer_utils.core.seed import seed_everything
from transfer_utils.nets.source_models import get_digit_source_model
from transfer_utils.calculus.newton import newton_minimize
from transfer_utils.transfer.parameter_transfer import logistic_objective

require_data("mnist", "usps")  # present and intact, or one clear error
device = get_device()
profile = get_profile()
generator = seed_everything(profile.seed)
use_course_style()
print(device_report(device))
print(profile)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The minimax objective
#
# Notation as in notebook 07: a labelled source sample $\{(x_i^s, y_i^s)\}_{i=1}^{n_s}$ from
# $\mathcal D_S$, an unlabelled target sample $\{x_j^t\}_{j=1}^{n_t}$ from $\mathcal D_T$, a feature
# extractor $G_f(\cdot;\theta_f)$, a label classifier $G_y(\cdot;\theta_y)$ and a domain
# discriminator $G_d(\cdot;\theta_d)$ that outputs the probability that a feature came from the
# source. Ben-David et al. (2010) bound the target error of a classifier $h$ by
#
# $$\epsilon_T(h) \le \epsilon_S(h) + \tfrac12 d_{\mathcal H\Delta\mathcal H}(\mathcal D_S, \mathcal D_T) + \lambda^\star,$$
#
# and the divergence term is small exactly when no classifier in the class can tell the domains
# apart. DANN (Ganin and Lempitsky 2015) turns that into a game with the domain loss
#
# $$\mathcal L_d(\theta_f, \theta_d) = -\frac{1}{n_s}\sum_i \log G_d(G_f(x_i^s)) - \frac{1}{n_t}\sum_j \log\big(1 - G_d(G_f(x_j^t))\big)$$
#
# and the objective
#
# $$\min_{\theta_f, \theta_y}\ \max_{\theta_d}\ E(\theta_f,\theta_y,\theta_d) = \mathcal L_y(\theta_f, \theta_y) - \lambda\, \mathcal L_d(\theta_f, \theta_d).$$
#
# The discriminator maximises $E$, i.e. minimises its own loss $\mathcal L_d$; the features
# minimise $\mathcal L_y - \lambda\mathcal L_d$: classify the source well **and** make the
# discriminator's loss large. A saddle point is found by simultaneous gradient steps
#
# $$\theta_f \leftarrow \theta_f - \eta\Big(\frac{\partial \mathcal L_y}{\partial \theta_f} - \lambda\frac{\partial \mathcal L_d}{\partial \theta_f}\Big),\qquad
#   \theta_y \leftarrow \theta_y - \eta \frac{\partial \mathcal L_y}{\partial \theta_y},\qquad
#   \theta_d \leftarrow \theta_d - \eta \frac{\partial \mathcal L_d}{\partial \theta_d}.$$
#
# **Why one reversed gradient is enough.** Insert a layer $R_\lambda$ between $G_f$ and $G_d$ with
# $R_\lambda(z) = z$ and $\partial R_\lambda / \partial z = -\lambda I$, and minimise the *sum*
# $\mathcal L_y + \mathcal L_d(G_d(R_\lambda(G_f(x))))$ by ordinary backpropagation. The chain rule
# gives the discriminator $\partial \mathcal L_d / \partial\theta_d$ unchanged (the layer sits below
# it), while every parameter below the layer receives
# $\frac{\partial \mathcal L_d}{\partial z}\cdot(-\lambda I)\cdot\frac{\partial z}{\partial \theta_f} = -\lambda \frac{\partial \mathcal L_d}{\partial \theta_f}$:
# exactly the three updates above, in one backward pass with one optimizer.
#
# **The layer, written out.** A custom `torch.autograd.Function` has two static methods: `forward`
# computes the output and keeps on `ctx` what the backward pass needs, and `backward` receives
# $\partial\mathcal L/\partial R_\lambda(x)$ and returns one gradient per input of `forward`. For
# $R_\lambda$ both are one line:
#
# $$\texttt{forward}(x, \lambda) = x, \qquad \texttt{backward}(g) = (-\lambda\, g,\ \texttt{None}),$$
#
# `None` because $\lambda$ is a constant, not something to train. `x.view_as(x)` is the identity:
# a new tensor object that shares `x`'s memory.

# %% [markdown] slideshow={"slide_type": "notes"}
# The minimax objective and the gradient reversal layer: one forward identity, one backward sign
# flip. Ask the class what the feature extractor is trying to do to the discriminator, and why a
# single backward pass suffices.

# %%
class GradientReversalFunction(torch.autograd.Function):
    """R_lambda: the identity on the way forward, -lambda times the gradient on the way back."""

    @staticmethod
    def forward(ctx, x, lambd):
        ctx.lambd = lambd  # kept for the backward pass
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return -ctx.lambd * grad_output, None  # no gradient for lambda


def grad_reverse(x, lambd=1.0):
    return GradientReversalFunction.apply(x, lambd)


# %% [markdown]
# The package's layer, `transfer_utils.adaptation.grl.GradientReversalFunction` (and `grad_reverse`, which
# adds input checks), is the same two lines. On the same float64 input and upstream gradient both
# return the same output and the same input gradient, bit for bit (the only arithmetic is one
# multiplication by $-\lambda$, so there is no rounding to tolerate: `rtol=0, atol=0`). The inputs
# come from a fresh generator, so the notebook's own random stream is untouched.

# %%
def output_and_gradient(reverse, x, upstream, lambd=0.7):
    """reverse(x, lambd) and the gradient it sends back to x for the given upstream gradient."""
    x = x.clone().requires_grad_(True)
    out = reverse(x, lambd)
    out.backward(upstream)
    return out.detach(), x.grad


check_gen = torch.Generator().manual_seed(profile.seed)
x_check, up_check = torch.randn(2, 6, 4, dtype=torch.float64, generator=check_gen)
torch.testing.assert_close(output_and_gradient(GradientReversalFunction.apply, x_check, up_check),
                           output_and_gradient(tu_grl.GradientReversalFunction.apply, x_check, up_check),
                           rtol=0, atol=0)
torch.testing.assert_close(output_and_gradient(grad_reverse, x_check, up_check),
                           output_and_gradient(tu_grl.grad_reverse, x_check, up_check), rtol=0, atol=0)

# %% [markdown]
# Now the argument itself. We check the layer's own gradient (the `grad_reverse` we just wrote),
# that `transfer_utils.adaptation.adversarial.DANNLoss` computes $\mathcal L_d$ exactly as written (one mean
# per domain, summed; $\log(1 - \sigma(z)) = \log\sigma(-z)$ for a logit $z$), and the claim that
# the features receive $-\lambda$ times the gradient they would get without the layer, while the
# discriminator's gradient is untouched.

# %%
lam = 0.7
x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True, generator=generator)
upstream = torch.randn(5, 3, dtype=torch.float64, generator=generator)
grad_reverse(x, lam).backward(upstream)
torch.testing.assert_close(x.grad, -lam * upstream)

# The DANN loss with and without the reversal layer: features get -lambda times the gradient,
# the discriminator gets the same gradient.
features = torch.randn(8, 4, dtype=torch.float64, generator=generator)
disc = DomainDiscriminator(4, hidden_size=16).double()
z = disc(features)  # logits: rows 0-4 are "source", rows 5-7 "target"
L_d = -(nn.functional.logsigmoid(z[:5]).mean() + nn.functional.logsigmoid(-z[5:]).mean())
torch.testing.assert_close(DANNLoss(disc, grl=nn.Identity())(features[:5], features[5:]), L_d)
grads = {}
for name, grl in (("reversed", GradientReversalLayer(lam, schedule=False)),
                  ("plain", GradientReversalLayer(0.0, schedule=False))):
    f = features.clone().requires_grad_(True)
    disc.zero_grad()
    if name == "reversed":
        loss = DANNLoss(disc, grl=grl)(f[:5], f[5:])
    else:  # the same loss with an identity layer instead of the reversal
        loss = DANNLoss(disc, grl=nn.Identity())(f[:5], f[5:])
    loss.backward()
    grads[name] = (f.grad.clone(), [p.grad.clone() for p in disc.parameters()])
torch.testing.assert_close(grads["reversed"][0], -lam * grads["plain"][0])
for g_rev, g_plain in zip(grads["reversed"][1], grads["plain"][1]):
    torch.testing.assert_close(g_rev, g_plain)
print("features receive -lambda x the gradient; the discriminator's gradient is unchanged")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **The $\lambda$ schedule.** Early in training the discriminator is untrained and its gradient is
# noise; Ganin and Lempitsky therefore raise the coefficient from 0 to $\lambda_{\max}$ as
# $\lambda_p = \lambda_{\max}\big(2/(1+e^{-\gamma p}) - 1\big)$ with $\gamma = 10$ and $p$ the
# training progress. `GradientReversalLayer` carries this schedule and `train_da` sets $p$ at every
# step. The figure draws it.

# %% slideshow={"slide_type": "-"}
p = np.linspace(0, 1, 101)
fig, ax = plt.subplots(figsize=(5, 3.2))
for gamma in (5, 10, 20):
    ax.plot(p, [dann_lambda(v, gamma=gamma) for v in p], label=rf"$\gamma={gamma}$")
ax.set(xlabel="training progress p (fraction of steps)", ylabel=r"$\lambda_p$",
       title="DANN's schedule for the reversal coefficient")
ax.legend()
plt.show()

# %% [markdown]
# ### Slider: what $\lambda$ trades
#
# What does the minimax objective ask for, as $\lambda$ changes? A problem small enough to solve
# exactly: two Gaussian classes in the plane, separated along $x_1$, and a target drawn the same
# way but shifted by $(1, 1)$, so the shift is partly along the direction that separates the
# classes. The feature extractor is a projection onto a unit direction at angle $\theta$,
# $G_f(x) = x^\top u_\theta$; for every $\theta$ on a grid of one degree we solve both inner problems
# exactly (a one-dimensional logistic regression each, by Newton's method, with a ridge of
# $10^{-3}$): the best label classifier gives $\mathcal L_y^\star(\theta)$, the best domain
# discriminator $\mathcal L_d^\star(\theta)$ (at most $2\log 2$, chance, for two domains of equal
# size). The extractor then minimises $E_\lambda(\theta) = \mathcal L_y^\star(\theta) - \lambda\,\mathcal L_d^\star(\theta)$,
# the objective whose gradient the reversal layer follows. All of it is computed once; the slider
# only redraws. Try $\lambda = 0$: the extractor keeps $x_1$, the best direction for the source
# labels, and the target, shifted along it, is misclassified. Raise $\lambda$: the best direction
# turns toward one along which the shift vanishes; the source accuracy drops a little, the target
# accuracy rises.

# %%
def fit_1d_logistic(Z, t, l2=1e-3, iters=20):
    """For every column z of Z: min over (a, b) of mean log(1 + exp(-s (a z + b))) + l2/2 (a^2 + b^2),
    s = 2t - 1, by Newton's method on all columns at once (2x2 Hessians inverted in closed form)."""
    s = (2 * t - 1).to(Z.dtype)[:, None]
    a, b = torch.zeros(Z.shape[1], dtype=Z.dtype), torch.zeros(Z.shape[1], dtype=Z.dtype)
    for _ in range(iters):
        q = torch.sigmoid(-s * (a * Z + b))  # minus the derivative of log(1 + e^-m) in m = s (a z + b)
        w = q * (1 - q)
        ga, gb = -(q * s * Z).mean(0) + l2 * a, -(q * s).mean(0) + l2 * b
        haa, hab, hbb = (w * Z**2).mean(0) + l2, (w * Z).mean(0), w.mean(0) + l2
        det = haa * hbb - hab**2
        a, b = a - (hbb * ga - hab * gb) / det, b - (haa * gb - hab * ga) / det
    loss = nn.functional.softplus(-s * (a * Z + b)).mean(0) + l2 / 2 * (a**2 + b**2)
    return a, b, loss


toy_gen = torch.Generator().manual_seed(profile.seed)  # a generator of its own: the stream above is untouched
n_toy = 300
t_toy = torch.arange(n_toy) % 2
class_means = torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
X_toy_s = class_means[t_toy] + 0.7 * torch.randn(n_toy, 2, generator=toy_gen, dtype=torch.float64)
X_toy_t = (class_means[t_toy] + 0.7 * torch.randn(n_toy, 2, generator=toy_gen, dtype=torch.float64)
           + torch.tensor([1.0, 1.0], dtype=torch.float64))
thetas = torch.arange(-90.0, 90.0, 1.0, dtype=torch.float64)
U = torch.stack([torch.cos(thetas * math.pi / 180), torch.sin(thetas * math.pi / 180)])  # (2, angles)
domain = torch.cat([torch.ones(n_toy), torch.zeros(n_toy)]).long()  # source 1, target 0
threads = torch.get_num_threads()
torch.set_num_threads(1)  # small tensors: one thread is faster than waking others on a busy machine
try:
    a_y, b_y, L_y_star = fit_1d_logistic(X_toy_s @ U, t_toy)
    _, _, pooled = fit_1d_logistic(torch.cat([X_toy_s, X_toy_t]) @ U, domain)
finally:
    torch.set_num_threads(threads)
L_d_star = 2 * pooled  # one mean per domain, summed: twice the pooled mean for equal sizes
acc_s = ((a_y * (X_toy_s @ U) + b_y > 0).long() == t_toy[:, None]).double().mean(0)
acc_t = ((a_y * (X_toy_t @ U) + b_y > 0).long() == t_toy[:, None]).double().mean(0)

# %% [markdown]
# **Check.** The batched Newton above is checked against the course's `newton_minimize` on
# `logistic_objective` (features with a column of ones, the same ridge) at two angles: the same
# minimiser and minimum, to $10^{-8}$.

# %%
for k in (0, 135):  # theta = -90 and 45 degrees
    Zk = torch.stack([X_toy_s @ U[:, k], torch.ones(n_toy, dtype=torch.float64)], dim=1)
    ref = newton_minimize(logistic_objective(Zk, t_toy, l2=1e-3), torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(torch.stack([a_y[k], b_y[k]]), ref.x, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(L_y_star[k], torch.tensor(ref.values[-1], dtype=torch.float64), rtol=1e-8, atol=1e-8)

# %% [markdown]
# The slider: on the left the two domains and the extractor's best direction for the chosen
# $\lambda$; on the right $\mathcal L_y^\star$, $\mathcal L_d^\star$ and $E_\lambda$ against $\theta$,
# with the minimiser marked.

# %%
last_lambda = {}  # what the latest redraw computed, so we can check that the slider drives it


def draw_tradeoff(lambd=0.0):
    """The toy domains, the best projection for E_lambda, and the three curves over theta."""
    E = L_y_star - lambd * L_d_star
    k = int(torch.argmin(E))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for X, name, marker in ((X_toy_s, "source", "o"), (X_toy_t, "target", "x")):
        axes[0].scatter(X[:, 0], X[:, 1], c=t_toy, cmap="coolwarm", marker=marker, s=10, alpha=0.6, label=name)
    u = 3 * U[:, k].numpy()
    axes[0].plot([-u[0], u[0]], [-u[1], u[1]], "k-", lw=2, label=rf"$u_\theta$, $\theta$ = {thetas[k]:.0f} deg")
    axes[0].set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal",
                title=f"source accuracy {acc_s[k]:.2f}, target accuracy {acc_t[k]:.2f}")
    axes[0].legend(fontsize=8)
    axes[1].plot(thetas, L_y_star, label=r"$\mathcal{L}_y^\star$ (labels)")
    axes[1].plot(thetas, L_d_star, label=r"$\mathcal{L}_d^\star$ (domains)")
    axes[1].plot(thetas, E, "k", label=rf"$E_\lambda$, $\lambda$ = {lambd:.1f}")
    axes[1].plot(thetas[k], E[k], "k*", ms=12)
    axes[1].set(xlabel=r"projection angle $\theta$ (degrees)", ylabel="loss")
    axes[1].legend(fontsize=8)
    plt.show()
    last_lambda.update(lambd=lambd, theta=thetas[k].item(), L_d=L_d_star[k].item(),
                       acc_s=acc_s[k].item(), acc_t=acc_t[k].item())


def lambda_slider():
    """One slider, lambda, wired to `draw_tradeoff`."""
    return widgets.interactive(draw_tradeoff, lambd=widgets.FloatSlider(
        value=0.0, min=0.0, max=3.0, step=0.1, description="lambda"))


display(lambda_slider())

# %% [markdown]
# **Check.** Driving a second, hidden slider from code: at $\lambda = 0$ the best direction is
# within 10 degrees of $x_1$; at $\lambda = 3$ it has turned more than 25 degrees toward the
# shift-free direction, the source accuracy is lower and the target accuracy higher by more than
# 0.05. And the domain loss at the minimiser never decreases as $\lambda$ grows (for any two
# $\lambda < \lambda'$, adding the two optimality inequalities of $E_\lambda$ and $E_{\lambda'}$
# gives $(\lambda' - \lambda)(\mathcal L_d^\star(\theta') - \mathcal L_d^\star(\theta)) \ge 0$).

# %%
check_lambda = lambda_slider()  # the same slider and drawing function, not displayed
lambda_box = check_lambda.children[0]
seen = []
for value in (0.0, 1.0, 3.0):
    lambda_box.value = value
    seen.append(dict(last_lambda))
assert [s_["lambd"] for s_ in seen] == [0.0, 1.0, 3.0]
assert abs(seen[0]["theta"]) <= 10 and seen[2]["theta"] < -25, seen
assert seen[2]["acc_s"] < seen[0]["acc_s"] and seen[2]["acc_t"] > seen[0]["acc_t"] + 0.05, seen
assert seen[0]["L_d"] <= seen[1]["L_d"] <= seen[2]["L_d"] <= 2 * math.log(2) + 1e-9, seen
print("slider checks passed:", [{k: round(v, 3) for k, v in s_.items()} for s_ in seen])

# %% [markdown] slideshow={"slide_type": "slide"}
# **One training step, by hand.** Everything above fits in one step. The source batch
# $(x^s, y^s)$ and the target batch $x^t$ go through the feature extractor together, and the step
# minimises
#
# $$\mathcal L = \frac{1}{n_s}\sum_i \ell\big(G_y(G_f(x_i^s)), y_i^s\big)
#   \;\underbrace{-\ \frac{1}{n_s}\sum_i \log\sigma(z_i^s) - \frac{1}{n_t}\sum_j \log\sigma(-z_j^t)}_{\mathcal L_d},
#   \qquad z = G_d\big(R_\lambda(G_f(x))\big),$$
#
# with $\ell$ the cross-entropy and $z$ the discriminator's logits. One `backward` through the
# reversal layer gives all three updates of the saddle-point step, and one optimizer step applies
# them. This is what `train_da` does at every step with a `DANNLoss` (trade-off 1); at scale we use
# `train_da`, which adds the schedule, evaluation and a history.

# %%
def dann_domain_loss(discriminator, f_src, f_tgt, lambd):
    """L_d on features passed through R_lambda: one mean per domain (source label 1), summed."""
    z = discriminator(grad_reverse(torch.cat([f_src, f_tgt]), lambd))
    n_s = f_src.shape[0]
    return -(nn.functional.logsigmoid(z[:n_s]).mean() + nn.functional.logsigmoid(-z[n_s:]).mean())


def dann_step(G, C, discriminator, optimizer, x_s, y_s, x_t, lambd):
    """One simultaneous descent-ascent step on L_y - lambda L_d: one backward pass, one update."""
    feats = G(torch.cat([x_s, x_t]))  # both domains through the same extractor
    f_s, f_t = feats[: x_s.shape[0]], feats[x_s.shape[0]:]
    loss = nn.functional.cross_entropy(C(f_s), y_s) + dann_domain_loss(discriminator, f_s, f_t, lambd)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()


# %% [markdown]
# The check: two copies of the same small networks (float64), the same batch, plain SGD with
# learning rate 0.1. One copy takes `dann_step`, the other one step of the package's `train_da`
# with a `DANNLoss` whose reversal layer holds $\lambda = 0.7$. Every parameter of the extractor, the
# classifier and the discriminator must agree afterwards. The two compute the same sums in a
# different order (`binary_cross_entropy_with_logits` against `logsigmoid`), so they may differ by
# float64 rounding, about $10^{-16}$ relative per operation; we allow $10^{-12}$. The networks are
# initialised inside `torch.random.fork_rng()`, so the notebook's random stream is untouched.

# %%
x_s, x_t = torch.randn(2, 32, 2, dtype=torch.float64, generator=check_gen)
y_s = torch.randint(0, 2, (32,), generator=check_gen)
with torch.random.fork_rng(devices=[]):
    nets = [m.double() for m in (nn.Sequential(nn.Linear(2, 16), nn.Tanh()), nn.Linear(16, 2),
                                 DomainDiscriminator(16, hidden_size=16))]
ours, pkgs = copy.deepcopy(nets), copy.deepcopy(nets)
dann_step(*ours, torch.optim.SGD([p for m in ours for p in m.parameters()], lr=0.1),
          x_s, y_s, x_t, lambd=0.7)
pkg_loss = DANNLoss(pkgs[2], grl=GradientReversalLayer(0.7, schedule=False))
pkg_opt = torch.optim.SGD([*pkgs[0].parameters(), *pkgs[1].parameters(), *pkg_loss.parameters()], lr=0.1)
train_da(pkgs[0], pkgs[1], TensorLoader(x_s, y_s, batch_size=32), TensorLoader(x_t, batch_size=32),
         optimizer=pkg_opt, num_steps=1, device=torch.device("cpu"), adaptation_loss=pkg_loss,
         progress=False)
for m_ours, m_pkg, m_start in zip(ours, pkgs, nets):
    torch.testing.assert_close(list(m_ours.parameters()), list(m_pkg.parameters()), rtol=1e-12, atol=1e-12)
    assert not torch.equal(next(m_ours.parameters()), next(m_start.parameters())), "the step moved nothing"
print("dann_step and one step of train_da give the same parameters")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. DANN on rotated two moons
#
# The target is the source rotated by 40 degrees (notebook 04's toy problem, a larger angle than in
# notebook 07 so that source-only training clearly fails). The feature extractor is a two-layer MLP
# (64 tanh units), the classifier a linear layer, the discriminator an MLP with two hidden layers of
# 64 units on the features. The **source-only baseline is the same run with $\lambda = 0$**: the
# discriminator is still trained (so we can read its accuracy), but no gradient from it reaches the
# features. Everything else (initialisation, batches, steps, optimizer) is identical.
#
# The settings are chosen for a game that settles, the lesson of section 5 on a small scale: 500
# points per domain, each step on the **whole** sample (the discriminator's gradient is then exact,
# not a noisy minibatch estimate), smooth tanh units (Ganin et al.'s own toy experiment used a
# sigmoid layer), Adam at $3\cdot10^{-3}$ for 1,000 steps and the $\lambda$ ramp. With minibatches
# of 64 from 300 points and ReLU units (this notebook's first version) the sign of DANN's gain
# changed from seed to seed, and on one seed even between two CPU kernel sets: a coin toss, not a
# method.

# %%
MOONS_ROTATION = 40.0
MOONS_N = 500  # points per domain; every step uses all of them (full batch)
MOONS_STEPS = 1000


def run_moons(seed: int, max_lambda: float, schedule: bool = True):
    """Train G, C and a discriminator on rotated moons; max_lambda=0 is source-only."""
    g = torch.Generator().manual_seed(seed)
    moons = make_moons_domains(MOONS_N, rotation_deg=MOONS_ROTATION, generator=g)
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh()).to(device)
    C = nn.Linear(64, 2).to(device)
    loss = DANNLoss(DomainDiscriminator(64, 64),
                    grl=GradientReversalLayer(max_lambda, schedule=schedule))
    opt = torch.optim.Adam([*G.parameters(), *C.parameters(), *loss.parameters()], lr=3e-3)
    src = TensorLoader(moons.X_src, moons.y_src, batch_size=MOONS_N)
    tgt = TensorLoader(moons.X_tgt, batch_size=MOONS_N)
    evals = {"target": TensorLoader(moons.X_tgt, moons.y_tgt, batch_size=MOONS_N)}
    hist = train_da(G, C, src, tgt, optimizer=opt, num_steps=MOONS_STEPS, device=device,
                    adaptation_loss=loss, eval_loaders=evals, eval_every=50, progress=False)
    return hist, G, C, moons


# %% [markdown]
# We run both methods for every seed of the profile (a progress bar counts the runs). The networks
# here are tiny, and on a CPU such networks train fastest on a single thread (thread start-up costs
# more than the arithmetic), so we ask torch for one.

# %%
if device.type == "cpu":
    torch.set_num_threads(1)
moons_runs = {}
for seed in tqdm(profile.seeds, desc="two moons: seeds"):
    for method, max_lambda in (("source-only", 0.0), ("DANN", 1.0)):
        moons_runs[method, seed] = run_moons(seed, max_lambda)
moons_acc = {m: np.array([moons_runs[m, s][0]["target_acc"][-1] for s in profile.seeds])
             for m in ("source-only", "DANN")}
for m, accs in moons_acc.items():
    print(f"{m:12s} target accuracy {accs.mean():.3f} +- {accs.std(ddof=1):.3f}  (per seed {np.round(accs, 3)})")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The decision boundaries of the first seed show what happened: source-only training draws a
# boundary that fits the source moons (circles) and cuts through the rotated target moons (crosses);
# DANN's boundary follows the target as well, because the features it was trained on map both
# domains to the same place.

# %% slideshow={"slide_type": "-"}
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for ax, method in zip(axes, ("source-only", "DANN")):
    hist, G, C, moons = moons_runs[method, profile.seeds[0]]
    plot_decision_boundary(nn.Sequential(G, C), moons.X_src, moons.y_src, moons.X_tgt, moons.y_tgt,
                           ax=ax, device=device,
                           title=f"{method}: target accuracy {hist['target_acc'][-1]:.2f}")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The discriminator's accuracy during training is the diagnostic of the game. With $\lambda = 0$
# it learns to tell the domains apart (the features were never asked to hide the domain); with the
# reversed gradient the features push back and its accuracy stays closer to chance (0.5).

# %% [markdown] slideshow={"slide_type": "notes"}
# The discriminator's accuracy is the diagnostic of the game. Ask what accuracy a perfectly aligned
# feature space would give, and why driving it to zero is not the goal either.

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(6, 3.8))
for method, colour in (("source-only", "tab:gray"), ("DANN", "tab:red")):
    for i, seed in enumerate(profile.seeds):
        hist = moons_runs[method, seed][0]
        ax.plot(hist["step"], hist["domain_acc"], color=colour, alpha=0.7,
                label=f"{method} (lambda={'0' if method == 'source-only' else 'scheduled'})" if i == 0 else None)
ax.axhline(0.5, color="k", ls=":", label="chance")
ax.set(xlabel="training step", ylabel="discriminator accuracy (training batches)",
       title="Two moons: the domain discriminator over training", ylim=(0.4, 1.0))
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Checks.** Over the claims sweep's 18 seeds on three CPU kernel sets (`benchmarks/claims.json`,
# `make claims`), DANN's final target accuracy exceeded source-only's on every seed (the smallest
# per-seed gain in any run was 0.18) and the mean gain over a run's three seeds was 0.25-0.33. Not
# every seed reaches the same alignment (the per-seed accuracies printed above show the spread:
# DANN finds the alignment in full on most seeds, in part on a few), which is why we assert the
# mean gain over the profile's seeds, at least 0.15, and only the sign for each seed. The
# discriminator's late accuracy (mean of the last three records, printed below) stays high with
# $\lambda=0$ and falls toward chance with DANN; we assert that it is closer to chance under DANN by
# at least 0.1 on every seed (over the sweep, by at least 0.24).

# %%
gain = moons_acc["DANN"] - moons_acc["source-only"]
print(f"DANN - source-only on the target: {gain.round(3)} (mean {gain.mean():+.3f})")
assert gain.mean() >= 0.15, f"DANN should beat source-only on rotated moons, mean gain {gain.mean():.3f}"
assert gain.min() > 0, f"DANN should beat source-only on every seed, per-seed gains {gain}"
late = {m: np.array([np.mean(moons_runs[m, s][0]["domain_acc"][-3:]) for s in profile.seeds])
        for m in ("source-only", "DANN")}
print("late discriminator accuracy:", {m: v.round(3) for m, v in late.items()})
assert np.min(late["source-only"] - late["DANN"]) >= 0.1, late

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. MNIST $\to$ USPS
#
# **Protocol.** Source: MNIST; target: USPS resized to 28x28 (`transfer_utils.data.digits`). Offline
# only the USPS test split exists, so it is divided once into a fixed adaptation half (its images are
# the unlabelled target data) and an evaluation half (target accuracy is measured there only); the
# adaptation half's labels are used for nothing but the target-supervised upper bound.
#
# **Model.** Every method starts from a copy of the course's cached MNIST model
# (`get_digit_source_model`, trained on MNIST only by `python -m transfer_utils.prepare`):
# features $G$ = two conv blocks then a linear layer 512 $\to$ 128 with ReLU, classifier
# $C$ = linear 128 $\to$ 10. Starting from the source model is the common practice for digits and
# makes a short run meaningful. In the **quick profile** the two conv blocks are frozen and their
# outputs computed once, so each method adapts the top layer of $G$ (the "bottleneck" of the DANN and
# CDAN papers) and $C$ for 300 steps on 2,000 MNIST images (one stratified subset, drawn with the
# profile's first seed): a couple of seconds per run on a CPU.
# The **full profile** runs the same function with nothing frozen (the trunk is empty) on all
# 60,000 MNIST images, more steps and 5 seeds. The split point is the only thing the profile picks.

# %%
N_SOURCE = profile.pick(quick=2000, full=None)
NUM_STEPS = profile.pick(quick=300, full=10_000)
BATCH = 128
FROZEN_UP_TO = profile.pick(quick=10, full=0)  # index into DigitCNN.features: 10 = conv blocks frozen

digits = digit_domains(n_source=N_SOURCE, seed=profile.seed)
source_model = get_digit_source_model(device)
trunk = source_model.features[:FROZEN_UP_TO].eval()  # empty (the identity) in the full profile


@torch.no_grad()
def through_trunk(dataset):
    """Inputs after the frozen part of the network (computed once), and the labels."""
    X, y = dataset.tensors
    out = torch.cat([trunk(xb.to(device)) for xb in X.split(1024)])
    return out, y.to(device)


A = {name: through_trunk(getattr(digits, name)) for name in digits._fields}
print({name: tuple(a[0].shape) for name, a in A.items()})

# %% [markdown]
# One function trains any method: it copies the adapted part of the source model, builds the
# method's loss, and calls `train_da`. The discriminators are MLPs with two hidden layers of 256
# units, on the 128-d features for DANN and on the $10 \times 128$ multilinear map for CDAN. The
# optimizer is Adam with learning rate $3\cdot10^{-4}$ for the pretrained layers and $10^{-3}$ for the
# new discriminator (why: section 5). The upper bound trains the same layers on the labelled
# adaptation half of USPS.

# %%
FEATURE_DIM, NUM_CLASSES = source_model.feature_dim, 10


def make_loss(method: str):
    if method == "source-only":  # a passive discriminator: lambda = 0, so it only watches
        return DANNLoss(DomainDiscriminator(FEATURE_DIM, 256), grl=GradientReversalLayer(0.0))
    if method == "DANN":
        return DANNLoss(DomainDiscriminator(FEATURE_DIM, 256))
    if method in ("CDAN", "CDAN+E"):
        return CDANLoss(DomainDiscriminator(FEATURE_DIM * NUM_CLASSES, 256),
                        entropy_conditioning=method == "CDAN+E")
    if method == "CORAL":
        return CORALLoss()
    if method == "MMD":
        return MMDLoss()
    if method == "target-supervised":
        return None
    raise ValueError(f"unknown method {method!r}")


def run_digits(method: str, seed: int, *, lr_features: float = 3e-4, lr_disc: float = 1e-3,
               batch: int = BATCH, num_steps: int = NUM_STEPS):
    torch.manual_seed(seed)
    G = copy.deepcopy(source_model.features[FROZEN_UP_TO:]).to(device)
    C = copy.deepcopy(source_model.classifier).to(device)
    loss = make_loss(method)
    groups = [{"params": [*G.parameters(), *C.parameters()], "lr": lr_features}]
    if loss is not None and any(True for _ in loss.parameters()):
        groups.append({"params": list(loss.parameters()), "lr": lr_disc})
    opt = torch.optim.Adam(groups)
    g = torch.Generator().manual_seed(seed)
    labelled = A["target_train"] if method == "target-supervised" else A["source_train"]
    src = TensorLoader(*labelled, batch_size=batch, shuffle=True, generator=g)
    tgt = TensorLoader(A["target_train"][0], batch_size=batch, shuffle=True, generator=g)
    evals = {"target": TensorLoader(*A["target_test"], batch_size=2048)}
    hist = train_da(G, C, src, tgt, optimizer=opt, num_steps=num_steps, device=device,
                    adaptation_loss=loss, eval_loaders=evals, eval_every=max(1, num_steps // 20),
                    progress=False, desc=f"{method} seed {seed}")
    return hist, G, C


# %% [markdown]
# Now every method for every seed. Each run reports the final accuracy on the USPS evaluation half.

# %%
METHODS = ("source-only", "CORAL", "MMD", "DANN", "CDAN", "CDAN+E", "target-supervised")
digit_runs = {}
for method in tqdm(METHODS, desc="MNIST->USPS: methods"):
    for seed in profile.seeds:
        digit_runs[method, seed] = run_digits(method, seed)
digit_acc = {m: np.array([digit_runs[m, s][0]["target_acc"][-1] for s in profile.seeds]) for m in METHODS}
with torch.no_grad():
    start_acc = (source_model.classifier(source_model.features[FROZEN_UP_TO:](A["target_test"][0]))
                 .argmax(1) == A["target_test"][1]).float().mean().item()
print(f"the cached MNIST model itself on the USPS evaluation half: {start_acc:.3f}")

# %% [markdown]
# **The results table.** Mean and standard deviation over the seeds, beside published figures for
# MNIST $\to$ USPS. The published numbers come from different protocols and must be read as
# context, not as a race: Tzeng et al. (2017, ADDA, Table 2) sample 2,000 MNIST and 1,800 USPS
# images and train a LeNet from scratch; Long et al. (2018, CDAN, digits table) use the full
# training sets with a LeNet. Our USPS target is the test split only (half to adapt on, half to
# evaluate), USPS digits are resized without re-centring, and the quick profile adapts one layer for
# 300 steps. We found no MNIST $\to$ USPS figure for Deep CORAL or DAN-style MMD in their own papers,
# so those cells are empty.

# %%
PUBLISHED = {
    "source-only": "75.2 +- 1.6 (Tzeng et al. 2017)",
    "CORAL": "-",
    "MMD": "-",
    "DANN": "77.1 +- 1.8 (Tzeng et al. 2017, 'gradient reversal')",
    "CDAN": "93.9 (Long et al. 2018)",
    "CDAN+E": "95.6 (Long et al. 2018)",
    "target-supervised": "-",
}
print(f"{'method':18s} {'target acc. (%), ours':>22s}   published, MNIST->USPS (%)")
for m in METHODS:
    a = 100 * digit_acc[m]
    print(f"{m:18s} {a.mean():10.1f} +- {a.std(ddof=1):4.1f} (n={len(a)})   {PUBLISHED[m]}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# A bar chart of the same numbers, one dot per seed.

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(8, 3.8))
for i, m in enumerate(METHODS):
    a = 100 * digit_acc[m]
    ax.bar(i, a.mean(), color="tab:red" if m in ("DANN", "CDAN", "CDAN+E") else "tab:gray", alpha=0.7)
    ax.plot(np.full(len(a), i), a, "k.", ms=6)
ax.set_xticks(range(len(METHODS)), METHODS, rotation=20)
ax.set(ylabel="USPS accuracy (%)", title=f"MNIST -> USPS ({profile.name} profile, {len(profile.seeds)} seeds)")
plt.show()

# %% [markdown]
# **Checks.** Over the claims sweep's 18 seeds on three CPU kernel sets (`benchmarks/claims.json`;
# each run of three seeds draws its own MNIST subset), the per-seed gains over source-only were at
# least 0.22 for DANN and 0.26 for CDAN, and the target-supervised upper bound stayed above DANN by
# at least 0.14. We assert a gain of at least 0.15 on every seed for both, and the upper bound above
# DANN on every seed.

# %%
digit_gain = {m: digit_acc[m] - digit_acc["source-only"] for m in ("DANN", "CDAN")}
for m, gain in digit_gain.items():
    print(f"{m} - source-only: {gain.round(3)}")
assert digit_gain["DANN"].min() >= 0.15, f"DANN should beat source-only on every seed by 0.15: {digit_gain}"
assert digit_gain["CDAN"].min() >= 0.15, f"CDAN should beat source-only on every seed by 0.15: {digit_gain}"
headroom = digit_acc["target-supervised"] - digit_acc["DANN"]
print(f"target-supervised - DANN: {headroom.round(3)}")
assert headroom.min() > 0, "the upper bound should stay above DANN on every seed"

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The domain classifier over training
#
# As on the moons, the source-only run carries a passive discriminator ($\lambda = 0$). On these
# digit features it separates MNIST from USPS perfectly within a few dozen steps; under DANN the
# features fight back, and on some seeds the discriminator's accuracy dips below 1, though in 300
# steps of adapting one layer it stays far from 0.5.

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for method, colour in (("source-only", "tab:gray"), ("DANN", "tab:red"), ("CDAN", "tab:blue")):
    for i, seed in enumerate(profile.seeds):
        hist = digit_runs[method, seed][0]
        ax.plot(hist["step"], hist["domain_acc"], color=colour, alpha=0.7, label=method if i == 0 else None)
ax.axhline(0.5, color="k", ls=":", label="chance")
ax.set(xlabel="training step", ylabel="discriminator accuracy (training batches)",
       title="MNIST -> USPS: the domain discriminator over training", ylim=(0.4, 1.02))
ax.legend()
plt.show()

# %% [markdown]
# The late accuracy of each discriminator (mean of the last three records) and, as a second
# opinion, a *fresh* domain classifier: the proxy A-distance of notebook 04,
# $\hat d_{\mathcal A} = 2(1 - 2\epsilon)$ from the held-out error $\epsilon$ of a linear classifier
# trained after the fact on the final features of MNIST test images and of USPS's evaluation half
# (neither seen in training).

# %%
DOMAIN_METHODS = ("source-only", "DANN", "CDAN")


def final_features(method: str, seed: int):
    """The final features of 1,000 held-out MNIST images and 1,000 USPS evaluation images."""
    G = digit_runs[method, seed][1]
    F_src, y_src = extract_features(G, TensorLoader(*A["source_test"], batch_size=2048), device=device, progress=False)
    F_tgt, y_tgt = extract_features(G, TensorLoader(*A["target_test"], batch_size=2048), device=device, progress=False)
    return F_src[:1000], F_tgt[:1000], y_src[:1000], y_tgt[:1000]


late_digits = {m: np.array([np.mean(digit_runs[m, s][0]["domain_acc"][-3:]) for s in profile.seeds])
               for m in DOMAIN_METHODS}
pad_digits = {m: np.array([proxy_a_distance(*final_features(m, s)[:2], seed=s) for s in profile.seeds])
              for m in DOMAIN_METHODS}
for m in DOMAIN_METHODS:
    print(f"{m:12s} late discriminator accuracy {late_digits[m].round(3)}, "
          f"proxy A-distance of the final features {pad_digits[m].round(2)}")

# %% [markdown]
# The passive discriminator's late accuracy is 1 on every seed; DANN's dips below 1 on some seeds
# and hardly at all on others. The fresh classifier settles what the dip means: it separates MNIST
# from USPS features as well after DANN as after source-only training (a proxy A-distance near its
# maximum of 2 for all three methods). The in-training
# discriminator lags behind features that keep moving, so its accuracy is a diagnostic of the game,
# not a measure of alignment: in the quick profile DANN and CDAN raise target accuracy without
# making the domains indistinguishable. CDAN's discriminator, on the 1,280-d multilinear map, stays
# at about 1 even though CDAN, too, gains at least 0.15 on every seed. We assert what the fresh
# classifier says, for the quick profile (the full profile adapts the whole network for 10,000
# steps, where the answer may differ): a proxy A-distance of at least 1.8 after DANN on every seed.

# %%
if profile.is_quick:
    assert pad_digits["DANN"].min() >= 1.8, pad_digits

# %% [markdown]
# ### Features before and after adaptation
#
# A joint PCA of the 128-d features of both domains (colour = domain, marker = class), for the
# source-only run and the DANN run of the first seed: the features the proxy A-distances above were
# computed on.

# %%
seed0 = profile.seeds[0]
feats = {method: final_features(method, seed0) for method in ("source-only", "DANN")}
plot_embedding_before_after(feats["source-only"], feats["DANN"], max_points=600,
                            titles=("source-only features", "DANN features"))
plt.show()

# %% [markdown]
# The two domains stay apart in both pictures, as the proxy A-distance said. What changed is where
# the target points sit relative to the classes (their accuracy rose from the source-only to the
# DANN row of the table): alignment is partial, and DANN moved the target toward the right clusters
# before it made the domains indistinguishable.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. CDAN: conditioning the discriminator on the prediction
#
# A marginal alignment can match the two domains' feature clouds while mapping target 3s onto
# source 8s. CDAN (Long et al. 2018) lets the discriminator see the classifier's prediction
# $g = \mathrm{softmax}(C(f))$ through the multilinear map
# $T_\otimes(f, g) = \mathrm{vec}(g f^\top) \in \mathbb R^{C d}$: each class gets its own copy of the
# features, weighted by the predicted probability, so the discriminator can compare the domains class
# by class (the cross-covariance of features and predictions). CDAN+E weights each example by
# $w = 1 + e^{-H(g)}$, trusting confident predictions more.
#
# Per example the map is an outer product, $T_\otimes(f, g)_{c d' + k} = g_c f_k$ for class $c$ and
# feature $k$ (with $d'$ the feature size), which broadcasting writes in one line. CDAN's domain loss
# is DANN's with the discriminator reading $T_\otimes(f, g)$ instead of $f$; the prediction $g$ is
# treated as a constant (detached), as in the authors' code, so the reversed gradient reaches the
# features only through $f$.

# %%
def multilinear_map(g, f):
    """T(f, g) = vec(g f^T) for each example: entry [n, c * d + k] is g[n, c] * f[n, k]."""
    return (g[:, :, None] * f[:, None, :]).reshape(f.shape[0], -1)


def cdan_domain_loss(discriminator, f_src, f_tgt, logits_src, logits_tgt, lambd):
    """L_d on T(f, g) through R_lambda, with g = softmax(logits) held constant."""
    g = torch.softmax(torch.cat([logits_src, logits_tgt]), dim=1).detach()
    z = discriminator(grad_reverse(multilinear_map(g, torch.cat([f_src, f_tgt])), lambd))
    n_s = f_src.shape[0]
    return -(nn.functional.logsigmoid(z[:n_s]).mean() + nn.functional.logsigmoid(-z[n_s:]).mean())


# %% [markdown]
# The map has the documented shape and entries:

# %%
f = torch.randn(4, 3, generator=generator)
g = torch.softmax(torch.randn(4, 2, generator=generator), dim=1)
h = multilinear_map(g, f)
print(h.shape)  # (N, C * d)
assert h.shape == (4, 2 * 3)
torch.testing.assert_close(h[1].reshape(2, 3), torch.outer(g[1], f[1]))

# %% [markdown]
# Both agree with the package: the map with `transfer_utils.adaptation.adversarial.multilinear_map` (an
# `einsum`; every entry is one product, so they agree exactly), and the CDAN domain loss with
# `CDANLoss` on float64 features and logits, with the same discriminator and $\lambda$ (the same
# sums in a different order: tolerance $10^{-12}$).

# %%
torch.testing.assert_close(multilinear_map(g, f), tu_adv.multilinear_map(g, f), rtol=0, atol=0)
f_check = torch.randn(10, 3, dtype=torch.float64, generator=check_gen)
logits_check = torch.randn(10, 2, dtype=torch.float64, generator=check_gen)
with torch.random.fork_rng(devices=[]):
    disc_check = DomainDiscriminator(2 * 3, hidden_size=16).double()
cdan_pkg = CDANLoss(disc_check, grl=GradientReversalLayer(0.7, schedule=False))
torch.testing.assert_close(
    cdan_domain_loss(disc_check, f_check[:6], f_check[6:], logits_check[:6], logits_check[6:], 0.7),
    cdan_pkg(f_check[:6], f_check[6:], logits_check[:6], logits_check[6:]), rtol=1e-12, atol=1e-12)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Why adversarial training is unstable, and what helps
#
# The game is a saddle-point problem, not a minimisation: simultaneous gradient steps on
# $\min_x\max_y xy$ already spiral outward, and nothing guarantees that the loss we watch goes down.
# In practice:
#
# * **The discriminator wins** (accuracy 1, gradient $\partial\mathcal L_d/\partial f \to 0$ for
#   the features that matter) or **the features win too hard** and destroy class information to
#   hide the domain; target accuracy then rises and falls during training.
# * **No target labels means no early stopping**: the last iterate is what we get, so oscillations
#   cost accuracy directly.
#
# What helps, each a knob of `train_da` or of the losses: the $\lambda$ ramp (above), a smaller
# learning rate for the pretrained feature layers than for the new discriminator (two-time-scale
# updates), larger batches (a less noisy discriminator gradient), starting from a source model,
# entropy conditioning (CDAN+E), gradient clipping (`grad_clip`), and averaging over seeds before
# believing a number. The next cell reruns DANN with the settings we tried first: one learning rate
# $10^{-3}$ for everything and batches of 64.

# %% [markdown] slideshow={"slide_type": "notes"}
# Adversarial training is unstable: show the two runs side by side and name the fixes (the lambda
# schedule, smaller learning rates). Leave time for questions; this is the most delicate method of
# the course.

# %% slideshow={"slide_type": "-"}
unstable = {s: run_digits("DANN", s, lr_features=1e-3, batch=64)[0] for s in profile.seeds}
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for i, s in enumerate(profile.seeds):
    ax.plot(digit_runs["DANN", s][0]["step"], digit_runs["DANN", s][0]["target_acc"], color="tab:red",
            label="lr 3e-4 (features) / 1e-3 (disc.), batch 128" if i == 0 else None)
    ax.plot(unstable[s]["step"], unstable[s]["target_acc"], color="tab:orange", ls="--",
            label="lr 1e-3 for all, batch 64" if i == 0 else None)
ax.set(xlabel="training step", ylabel="USPS accuracy", title="DANN: two settings, every seed")
ax.legend()
plt.show()

# %% [markdown]
# Two numbers per run say what the figure shows: the final accuracy, and how much the curve still
# moves late in training, the mean absolute change of the target accuracy between consecutive
# records (every 15 steps) over the second half of the run.

# %%
def wobble(hist) -> float:
    """Mean |change| of the target accuracy between consecutive records, second half of training."""
    acc = np.asarray(hist["target_acc"])
    return float(np.abs(np.diff(acc[len(acc) // 2:])).mean())


settings = {"tuned": {s: digit_runs["DANN", s][0] for s in profile.seeds}, "first": unstable}
final = {k: np.array([h[s]["target_acc"][-1] for s in profile.seeds]) for k, h in settings.items()}
wobbles = {k: np.array([wobble(h[s]) for s in profile.seeds]) for k, h in settings.items()}
for k in settings:
    print(f"{k:6s} settings: final accuracy {final[k].round(3)} (mean {final[k].mean():.3f}), "
          f"late wobble {wobbles[k].round(3)} (mean {wobbles[k].mean():.3f})")

# %% [markdown]
# Over the claims sweep's six runs of three seeds on three CPU kernel sets
# (`benchmarks/claims.json`), the first settings' mean final accuracy over a run's seeds was
# 0.49-0.61, the tuned settings' 0.72-0.77, and the first settings' mean late wobble was 7 to 16
# times the tuned one's. We assert both over the profile's seeds: the first settings end lower on
# average, by at least 0.05, and their curves move at least twice as much. Both settings are the
# same algorithm: stability is a property of the optimisation, not of the objective.

# %%
assert final["first"].mean() <= final["tuned"].mean() - 0.05, final
assert wobbles["first"].mean() >= 2 * wobbles["tuned"].mean(), wobbles

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * DANN solves $\min_{G_f, G_y}\max_{G_d} \mathcal L_y - \lambda \mathcal L_d$ with one backward
#   pass: the gradient reversal layer is the identity forward and $-\lambda I$ backward, so the
#   discriminator descends its loss while the features ascend it. We wrote the layer, the DANN and
#   CDAN domain losses and one training step ourselves, and checked them against `transfer_utils`.
# * On rotated two moons DANN moves the decision boundary onto the target and keeps the
#   discriminator nearer chance than a passive one, on every seed once the game is played with full
#   batches and smooth units.
# * On MNIST $\to$ USPS, adapting from the cached source model, DANN and CDAN raised target accuracy
#   over source-only by at least 0.22 and 0.26 on every seed of the claims sweep (quick profile),
#   below a target-supervised upper bound; published LeNet figures use other protocols.
# * The discriminator's accuracy is a diagnostic, not a score: on digits a fresh classifier still
#   separates the adapted domains. Adversarial training is unstable and needs a ramp, two time
#   scales, large batches and several seeds.

# %% [markdown]
# ## Exercises
#
# 1. Show that for a fixed feature map the optimal discriminator is
#    $G_d^\star(z) = p_S(z)/(p_S(z) + p_T(z))$ and that at this optimum
#    $-\mathcal L_d = 2\,\mathrm{JSD}(p_S\Vert p_T) - 2\log 2$.
#
# <details><summary>Solution</summary>
#
# Pointwise, the discriminator maximises $p_S(z)\log D + p_T(z)\log(1-D)$, a concave function of
# $D\in(0,1)$ whose derivative $p_S/D - p_T/(1-D)$ vanishes at $D^\star = p_S/(p_S+p_T)$. Substituting,
# $-\mathcal L_d = \mathbb E_{p_S}\log\frac{p_S}{p_S+p_T} + \mathbb E_{p_T}\log\frac{p_T}{p_S+p_T}
# = \mathrm{KL}(p_S\Vert m) + \mathrm{KL}(p_T\Vert m) - 2\log 2$ with $m = (p_S+p_T)/2$, which is
# $2\,\mathrm{JSD} - 2\log 2$. So at the optimal discriminator the features minimise the
# Jensen-Shannon divergence between the domains' feature distributions (as in GANs).
# </details>

# %% [markdown]
# **Exercise 1 in code.** For two discrete feature distributions $p_S, p_T$ on $k$ values, write
# `jsd_from_discriminator(p_s, p_t)`: form the optimal discriminator $D^\star$, evaluate the domain
# loss $\mathcal L_d$ at it, and return $\mathrm{JSD}(p_S\Vert p_T) = (2\log 2 - \mathcal L_d)/2$ (in
# nats). The check compares with SciPy's Jensen-Shannon distance, squared, on fresh distributions.

# %% tags=["exercise"]
def jsd_from_discriminator(p_s: torch.Tensor, p_t: torch.Tensor) -> torch.Tensor:
    """JSD(p_s || p_t) in nats from the optimal discriminator's loss; p_s, p_t of shape (k,), each summing to 1.

    D* = p_s / (p_s + p_t);  L_d = -sum p_s log D* - sum p_t log(1 - D*);  JSD = (2 log 2 - L_d) / 2.
    """
    raise NotImplementedError("form D*, evaluate L_d at D*, then solve -L_d = 2 JSD - 2 log 2 for JSD")

# %% [markdown] tags=["solution"]
# *Instructor's solution (left out of the student copy):*

# %% tags=["solution"]
def jsd_from_discriminator(p_s: torch.Tensor, p_t: torch.Tensor) -> torch.Tensor:
    """JSD(p_s || p_t) in nats from the optimal discriminator's loss; p_s, p_t of shape (k,), each summing to 1."""
    d_star = p_s / (p_s + p_t)
    loss_d = -(p_s * torch.log(d_star)).sum() - (p_t * torch.log1p(-d_star)).sum()
    return (2 * math.log(2) - loss_d) / 2

# %% [markdown]
# The check draws distributions on 3 to 50 values from its own generator; SciPy's `jensenshannon` returns the square root of the divergence:

# %% tags=["check"]
from scipy.spatial.distance import jensenshannon

from transfer_utils.core.exercises import check_function

g81 = torch.Generator().manual_seed(81)
cases_81 = [tuple(torch.softmax(scale * torch.randn(k, generator=g81, dtype=torch.float64), 0) for _ in range(2))
            for k, scale in ((3, 1.0), (10, 3.0), (50, 0.3))]
cases_81.append((cases_81[0][0], cases_81[0][0]))  # identical domains: JSD = 0
check_function("8.1 (optimal discriminator and JSD)", jsd_from_discriminator,
               lambda p, q: float(jensenshannon(p.numpy(), q.numpy())) ** 2, cases_81, rtol=1e-7, atol=1e-12,
               hint="L_d at D* is a loss (positive); -L_d = 2 JSD - 2 log 2, so JSD = (2 log 2 - L_d) / 2, "
                    "and it is 0 for identical distributions.")

# %% [markdown]
# 2. Replace the `GradientReversalLayer` in `DANNLoss` by one with `schedule=False` and
#    `max_lambda=1` on the two moons. What happens to the first hundred steps of the discriminator
#    accuracy curve and to the final target accuracy?
#
# <details><summary>Solution</summary>
#
# ```python
# for seed in profile.seeds:
#     fixed, *_ = run_moons(seed, 1.0, schedule=False)
#     ramped = moons_runs["DANN", seed][0]
#     print(seed, fixed["domain_acc"][:2], ramped["domain_acc"][:2],
#           fixed["target_acc"][-1], ramped["target_acc"][-1])
# ```
# Without the ramp the features receive the full reversed gradient from an untrained discriminator
# at step 0. On these moons, trained full-batch, that changes little: the first records of the
# discriminator's accuracy are about the same, and the final target accuracy moves a few points
# either way from seed to seed. The ramp earns its keep when the early, uninformative gradient can
# do damage: with noisy minibatches, a large $\lambda_{\max}$, or pretrained features worth
# protecting, as on the digits.
# </details>

# %% [markdown]
# **Exercise 2 in code: a reversal layer by hand.** Write `reverse_gradient(z, lam)` that returns
# a tensor equal to `z` whose gradient with respect to `z` is $-\lambda$ times the incoming gradient,
# without the package's `grad_reverse` (a `torch.autograd.Function`, or a `detach` trick). The check
# runs a forward and a backward pass through yours and through `tu_grl.grad_reverse` with the same
# upstream gradient, for the constant $\lambda = 1$ of `schedule=False` and for values of the ramp.

# %% tags=["exercise"]
def reverse_gradient(z: torch.Tensor, lam: float) -> torch.Tensor:
    """R_lam(z) = z in the forward pass; d R_lam / d z = -lam I in the backward pass."""
    raise NotImplementedError("identity forward, gradient multiplied by -lam backward")

# %% [markdown] tags=["solution"]
# *Instructor's solution (left out of the student copy):*

# %% tags=["solution"]
class ReverseGradient(torch.autograd.Function):
    """Identity forward, -lam times the gradient backward (no gradient for lam)."""

    @staticmethod
    def forward(ctx, z, lam):
        ctx.lam = lam
        return z.clone()

    @staticmethod
    def backward(ctx, grad_out):
        return -ctx.lam * grad_out, None


def reverse_gradient(z: torch.Tensor, lam: float) -> torch.Tensor:
    """R_lam(z) = z in the forward pass; d R_lam / d z = -lam I in the backward pass."""
    return ReverseGradient.apply(z, lam)

# %% [markdown]
# The check compares the output and the gradient that reaches `z` on fresh inputs:

# %% tags=["check"]
from transfer_utils.core.exercises import check_function


def through(layer):
    """Forward and backward through `layer(z, lam)` with upstream gradient `up`: returns (output, dL/dz)."""
    def run(z, lam, up):
        z = z.clone().requires_grad_(True)
        out = layer(z, lam)
        out.backward(up)
        return out.detach(), z.grad
    return run


g82 = torch.Generator().manual_seed(82)
cases_82 = [(torch.randn(*shape, generator=g82, dtype=torch.float64), lam,
             torch.randn(*shape, generator=g82, dtype=torch.float64))
            for shape, lam in (((5, 3), 1.0), ((8, 2), dann_lambda(0.1)), ((4,), 0.0), ((2, 3, 4), 2.5))]
check_function("8.2 (gradient reversal)", through(reverse_gradient), through(tu_grl.grad_reverse), cases_82,
               rtol=1e-12, atol=0.0,
               hint="the forward pass must not change z; the backward pass returns -lam * grad_output "
                    "(and None for lam), so lam = 0 blocks the gradient.")

# %% [markdown]
# 3. The table's source-only run carries a passive discriminator. Prove that it gives exactly the
#    same classifier as training without any discriminator (same seed, same batches).
#
# <details><summary>Solution</summary>
#
# With $\lambda = 0$ the reversal layer's backward returns $0\cdot\partial\mathcal L_d/\partial z$,
# so $G_f$ and $G_y$ receive only $\partial\mathcal L_y$; the discriminator's parameters are
# separate and do not enter $\mathcal L_y$. Adam updates each parameter from its own gradient, so
# the trajectories of $G_f, G_y$ coincide with those of plain source-only training provided the
# random numbers consumed are the same (the discriminator's initialisation draws from the global
# generator before the batches are drawn from their own generator, so the batches are identical).
# </details>
#
# 4. Point the helpers at another pair of domains: MNIST $\to$ scikit-learn's 8x8 digits
#    (`transfer_utils.data.digits.load_sklearn_digits`), with DANN, and compare with source-only.
#
# <details><summary>Solution</summary>
#
# ```python
# from transfer_utils.data.digits import load_sklearn_digits
# sk = load_sklearn_digits()
# X, y = sk.tensors
# A["target_train"] = (trunk(X[::2].to(device)).detach(), y[::2].to(device))
# A["target_test"] = (trunk(X[1::2].to(device)).detach(), y[1::2].to(device))
# for m in ("source-only", "DANN"):
#     print(m, run_digits(m, 0)[0]["target_acc"][-1])
# ```
# Nothing in `transfer_utils` changes: `train_da` only needs a feature extractor, a classifier and
# two loaders.
# </details>
#
# ## References
#
# * Y. Ganin and V. Lempitsky. Unsupervised Domain Adaptation by Backpropagation. ICML 2015.
# * Y. Ganin, E. Ustinova, H. Ajakan, P. Germain, H. Larochelle, F. Laviolette, M. Marchand and
#   V. Lempitsky. Domain-Adversarial Training of Neural Networks. JMLR 17(59), 2016.
# * M. Long, Z. Cao, J. Wang and M. I. Jordan. Conditional Adversarial Domain Adaptation. NeurIPS 2018.
# * E. Tzeng, J. Hoffman, K. Saenko and T. Darrell. Adversarial Discriminative Domain Adaptation.
#   CVPR 2017.
# * S. Ben-David, J. Blitzer, K. Crammer, A. Kulesza, F. Pereira and J. W. Vaughan. A theory of
#   learning from different domains. Machine Learning 79, 2010.
# * B. Sun and K. Saenko. Deep CORAL: Correlation Alignment for Deep Domain Adaptation. ECCV 2016
#   Workshops.
# * M. Long, Y. Cao, J. Wang and M. I. Jordan. Learning Transferable Features with Deep Adaptation
#   Networks. ICML 2015.
