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
# # 02 Gradient descent and the geometry of optimisation
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/PLACEHOLDER-ORG/calculus-in-transfer-learning/blob/main/notebooks/02_gradient_descent.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/PLACEHOLDER-ORG/calculus-in-transfer-learning/main?labpath=notebooks%2F02_gradient_descent.ipynb)
#
# Training a network, fine-tuning a pretrained one, or fitting a domain-adaptation loss all come
# down to the same loop: take the gradient, step against it, repeat. How large a step may be, how
# many steps are needed, why momentum helps and why a non-convex loss ends in different places from
# different starts are all questions about the *geometry* of the loss: its curvature, its
# conditioning, its critical points. This notebook derives gradient descent from a Taylor
# expansion, predicts its speed on quadratics from the eigenvalues of the Hessian, and checks every
# prediction against measured runs, before moving to stochastic gradients on real data and to
# non-convex landscapes.
#
# **In one line:** why gradient descent works, how fast, and what curvature and momentum change.
#
# **Learning objectives.** After this notebook you can
# 1. derive gradient descent from the first-order Taylor expansion and the step bound $\eta < 2/L$, and
#    write it, heavy ball, Nesterov and Adam as loops of a few lines that match the package's optimisers;
# 2. predict the contraction factor and iteration count of GD on a quadratic from its condition number;
# 3. explain and measure the $\sqrt{\kappa}$ speed-up of heavy-ball and Nesterov momentum;
# 4. use mini-batch SGD with step-size schedules and Adam, and explain SGD's noise floor;
# 5. classify critical points with the Hessian and predict where GD ends on non-convex functions.
#
# **Prerequisites.** Notebook 01 (gradients with autograd); eigenvalues of symmetric matrices;
# Taylor's theorem in several variables.
#
# **Run time:** quick profile about 15 s on a 2-core laptop CPU; full profile adds larger condition
# numbers, more seeds and epochs (a few minutes on any device; it is CPU-bound).

# %% [markdown]
# ## Setup
#
# One setup cell: explicit imports from `transfer_utils`, then the device, profile and seed. The
# optimisers in `transfer_utils.calculus.optim` record every iterate, so we can draw paths and measure rates.

# %%
# On Colab only, install the course when it is missing (scripts/badges.py writes the address, from pyproject.toml).
import importlib.util, subprocess, sys  # noqa: E401
if "google.colab" in sys.modules and importlib.util.find_spec("transfer_utils") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "git+https://github.com/PLACEHOLDER-ORG/calculus-in-transfer-learning@main"], check=True)

import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from sklearn.datasets import load_breast_cancer
from tqdm.auto import tqdm

from transfer_utils.calculus import optim as tu_optim  # the package's optimisers, next to the ones built here
from transfer_utils.core.device import device_report, get_device
from transfer_utils.calculus.landscapes import (
    FOUR_WELLS_MINIMA,
    four_wells,
    logistic_loss,
    make_quadratic,
    quadratic_with_condition,
    rosenbrock,
    saddle,
)
from transfer_utils.calculus.newton import newton_minimize
from transfer_utils.calculus.plots import plot_contour, plot_contour_paths, plot_convergence, plot_path
from transfer_utils.calculus.optim import (
    heavy_ball_params,
    optimal_gd_lr,
    predicted_iterations,
    quadratic_gd_rate,
    sgd,
)
from transfer_utils.core.plotting import use_course_style
from transfer_utils.core.profile import get_profile
from transfer_utils.core.seed import seed_everything

device = get_device()
profile = get_profile()
generator = seed_everything(profile.seed)
use_course_style()
print(device_report(device))
print(profile)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Gradient descent from a Taylor expansion
#
# Near a point $x$, a differentiable $f:\mathbb{R}^d\to\mathbb{R}$ is its first-order Taylor
# expansion plus a small remainder, $f(x + p) = f(x) + \nabla f(x)^\top p + o(\|p\|)$. Among steps of
# a fixed length, $\nabla f(x)^\top p$ is most negative for $p \propto -\nabla f(x)$ (Cauchy-Schwarz),
# which gives **gradient descent** with step size (learning rate) $\eta$:
# $$x_{k+1} = x_k - \eta\,\nabla f(x_k).$$
# How large may $\eta$ be? The remainder must be controlled. $f$ is **$L$-smooth** if its gradient is
# $L$-Lipschitz, $\|\nabla f(x) - \nabla f(y)\| \le L\|x - y\|$; for twice-differentiable $f$ this
# means every eigenvalue of the Hessian lies in $[-L, L]$. Then $f$ lies below a quadratic,
# $f(x+p) \le f(x) + \nabla f(x)^\top p + \frac L2\|p\|^2$, and with $p = -\eta\nabla f(x)$:
# $$f(x_{k+1}) \le f(x_k) - \eta\Big(1 - \frac{L\eta}{2}\Big)\|\nabla f(x_k)\|^2 .$$
# The bracket is positive exactly when $\eta < 2/L$: every step then decreases $f$, most surely at
# $\eta = 1/L$. On a quadratic the bound is sharp: in the direction of the top eigenvalue $L$ the
# error is multiplied by $1 - \eta L$ each step, which has modulus above 1 as soon as $\eta > 2/L$.
#
# The method itself is a loop of one line, the update $x_{k+1} = x_k - \eta\nabla f(x_k)$, with the
# gradient from autograd (`torch.func.grad`, notebook 01). It keeps every iterate so that we can
# compare paths.

# %% [markdown] slideshow={"slide_type": "notes"}
# Derive the step from the first-order Taylor expansion on the board, then the bound on the step
# size from L-smoothness. Ask the class to predict what happens just above the bound before showing
# the figure.

# %%
def gradient_descent(f, x0, *, lr, max_iter):
    """max_iter steps of x <- x - lr * grad f(x) from x0; every iterate, shape (max_iter + 1, d)."""
    xs = [x0]
    for _ in range(max_iter):
        xs.append(xs[-1] - lr * torch.func.grad(f)(xs[-1]))
    return torch.stack(xs)


# %% [markdown]
# We test it on a rotated two-dimensional quadratic with eigenvalues 1 and 10 ($L = 10$). The rest of
# the course uses the package's `tu_optim.gradient_descent`, which runs the same loop and adds what
# a tool needs: a stopping rule on $\|\nabla f\|$, the detection of a diverging or stalled run, and
# a record of values and gradient norms. **Check:** from the same start with $\eta = 1/L$, the
# two take the same 50 steps. They perform the same floating-point operations, so the tolerance
# $10^{-12}$ (about 5,000 units of float64's rounding unit $2.2\times10^{-16}$) only leaves room for
# autograd summing a gradient in another order; a different update rule would miss it by far more.

# %%
q2 = make_quadratic([1.0, 10.0], x_star=[0.5, -0.3], generator=generator)
x_start = torch.tensor([-1.5, 1.2], dtype=torch.float64)
torch.testing.assert_close(gradient_descent(q2, x_start, lr=1 / q2.L, max_iter=50),
                           tu_optim.gradient_descent(q2, x_start, lr=1 / q2.L, max_iter=50, tol=0.0).xs,
                           rtol=1e-12, atol=1e-12)

# %% [markdown]
# Now the package version, just below and just above the bound.

# %%
runs = {}
for factor in (1.9, 2.1):
    lr = factor / q2.L
    res = tu_optim.gradient_descent(q2, x_start, lr=lr, max_iter=100, tol=0.0)
    err = (res.xs - q2.x_star).norm(dim=1)
    runs[factor] = (res, err, quadratic_gd_rate(q2.eigenvalues, lr))
    print(f"lr = {factor}/L: predicted factor |1 - lr L| = {runs[factor][2]:.2f}, "
          f"error after 100 steps {err[-1].item():.2e} (start {err[0].item():.2f})")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The error is plotted on a log scale with the predicted $\rho^k\|x_0 - x^\star\|$ as dashed lines
# (the top eigen-direction dominates after a few steps, so measured and predicted lines become
# parallel).

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(6.5, 4))
for factor, (res, err, rho) in runs.items():
    ks = np.arange(len(err))
    ax.semilogy(ks, err, label=fr"$\eta = {factor}/L$ (measured)")
    ax.semilogy(ks, err[0].item() * rho**ks, "--", color=ax.lines[-1].get_color(), alpha=0.6,
                label=fr"$\rho^k$, $\rho = {rho:.2f}$")
ax.set(xlabel="iteration k", ylabel=r"$\|x_k - x^\star\|$", title="Just below and just above 2/L")
ax.legend(fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Check.** Below the bound the run converges; above it the error grows, at the predicted rate
# $\rho = 1.1$ per step. Taken further, a diverging run overflows: the optimiser then stops with a
# clear `FloatingPointError` naming the iteration and the fix, instead of returning NaNs.

# %%
res_lo, err_lo, rho_lo = runs[1.9]
res_hi, err_hi, rho_hi = runs[2.1]
assert err_lo[-1] < 1e-3 * err_lo[0] and err_hi[-1] > 1e3 * err_hi[0]
measured_growth = (err_hi[-1] / err_hi[-51]).item() ** (1 / 50)
assert abs(measured_growth - rho_hi) < 1e-3, (measured_growth, rho_hi)
try:
    tu_optim.gradient_descent(q2, x_start, lr=5.0 / q2.L, max_iter=10_000)
    raise AssertionError("a run with lr = 5/L should have overflowed")
except FloatingPointError as error:
    print("FloatingPointError:", error)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Quadratics: the contraction factor and the condition number
#
# For $f(x) = \frac12(x - x^\star)^\top A (x - x^\star)$ with eigenvalues
# $0 < \mu = \lambda_1 \le \dots \le \lambda_d = L$ the gradient is $A(x - x^\star)$, so
# $$x_{k+1} - x^\star = (I - \eta A)(x_k - x^\star), \qquad
#   \|x_k - x^\star\| \le \rho(\eta)^k\,\|x_0 - x^\star\|, \quad \rho(\eta) = \max_i |1 - \eta\lambda_i| .$$
# The factor is smallest when the two extreme eigenvalues are balanced, $1 - \eta\mu = \eta L - 1$:
# $$\eta^\star = \frac{2}{L + \mu}, \qquad \rho^\star = \frac{\kappa - 1}{\kappa + 1} \approx 1 - \frac{2}{\kappa},
#   \qquad \kappa = \frac{L}{\mu}.$$
# Reducing the error by a factor $r$ therefore takes about $k \approx \log(1/r)/\log(1/\rho^\star)
# \approx \frac{\kappa}{2}\log(1/r)$ steps: **iterations grow linearly with the condition number.**
# The figure shows $\rho(\eta)$ for $\kappa = 10$: a V whose bottom is $\eta^\star$ and which crosses
# 1 at $2/L$.

# %% slideshow={"slide_type": "-"}
lam = torch.tensor([1.0, 4.0, 10.0], dtype=torch.float64)
etas = np.linspace(0.0, 0.25, 400)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(etas, [quadratic_gd_rate(lam, e) for e in etas], color="black", label=r"$\rho(\eta)$")
for li in lam:
    ax.plot(etas, np.abs(1 - etas * li.item()), lw=1, alpha=0.5, label=fr"$|1 - \eta\lambda|$, $\lambda = {li.item():g}$")
eta_star, rho_star = optimal_gd_lr(10.0, 1.0)
ax.axvline(eta_star, ls=":", color="C3", label=r"$\eta^\star = 2/(L+\mu)$")
ax.axvline(2 / 10.0, ls="--", color="C3", label=r"$2/L$")
ax.axhline(1.0, color="gray", lw=0.8)
ax.set(xlabel=r"step size $\eta$", ylabel="contraction factor", ylim=(0, 1.6), title=r"$\kappa = 10$")
ax.legend(fontsize=7, ncol=2)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Momentum: the square-root-of-$\kappa$ speed-up
#
# **Heavy-ball momentum** (Polyak, 1964) adds a fraction $\beta$ of the previous step,
# $v_{k+1} = \beta v_k - \eta\nabla f(x_k)$, $x_{k+1} = x_k + v_{k+1}$. On a quadratic each eigen-direction
# becomes a two-term linear recursion; tuning
# $\eta = 4/(\sqrt L + \sqrt\mu)^2$, $\beta = \big(\frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}\big)^2$
# gives the rate $\rho_{\rm HB} = \frac{\sqrt\kappa - 1}{\sqrt\kappa + 1} \approx 1 - \frac{2}{\sqrt\kappa}$,
# so the iteration count grows like $\sqrt\kappa$ instead of $\kappa$. **Nesterov's** accelerated
# gradient (1983) takes the gradient at the look-ahead point $x_k + \beta v_k$; with $\eta = 1/L$ and
# $\beta = \frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}$ its rate is about $1 - 1/\sqrt\kappa$. Its guarantee
# reaches beyond quadratics: with this constant $\beta$ it keeps the accelerated linear rate on every
# smooth *strongly* convex function (for merely convex functions it needs a momentum that grows with
# $k$, and then $f(x_k) - f^\star = O(1/k^2)$), whereas heavy ball with its tuned constants can fail to
# converge on a strongly convex function that is not quadratic (Lessard, Recht and Packard, 2016).
#
# Each method is a two-line loop on a velocity $v$ (with $v_0 = 0$); the only difference is where the
# gradient is taken:
# $$\text{heavy ball: } v_{k+1} = \beta v_k - \eta\nabla f(x_k), \qquad
#   \text{Nesterov: } v_{k+1} = \beta v_k - \eta\nabla f(x_k + \beta v_k), \qquad x_{k+1} = x_k + v_{k+1}.$$

# %%
def heavy_ball_descent(f, x0, *, lr, momentum, max_iter):
    """Polyak's heavy ball from x0 with v_0 = 0; every iterate, shape (max_iter + 1, d)."""
    xs, v = [x0], torch.zeros_like(x0)
    for _ in range(max_iter):
        v = momentum * v - lr * torch.func.grad(f)(xs[-1])
        xs.append(xs[-1] + v)
    return torch.stack(xs)


def nesterov_descent(f, x0, *, lr, momentum, max_iter):
    """Nesterov's accelerated gradient: the gradient at the look-ahead point x + momentum * v."""
    xs, v = [x0], torch.zeros_like(x0)
    for _ in range(max_iter):
        v = momentum * v - lr * torch.func.grad(f)(xs[-1] + momentum * v)
        xs.append(xs[-1] + v)
    return torch.stack(xs)


# %% [markdown]
# **Check.** On the quadratic of section 1, with the tuned parameters of each method, both loops take
# the same 50 steps as `tu_optim.gradient_descent` with `momentum` (and `nesterov=True`), which
# applies the momentum and the look-ahead in the same way; the tolerance is that of section 1.

# %%
lr_hb2, beta_hb2, _ = heavy_ball_params(q2.L, q2.mu)
beta_nag2 = (math.sqrt(q2.L / q2.mu) - 1) / (math.sqrt(q2.L / q2.mu) + 1)
torch.testing.assert_close(
    heavy_ball_descent(q2, x_start, lr=lr_hb2, momentum=beta_hb2, max_iter=50),
    tu_optim.gradient_descent(q2, x_start, lr=lr_hb2, momentum=beta_hb2, max_iter=50, tol=0.0).xs,
    rtol=1e-12, atol=1e-12)
torch.testing.assert_close(
    nesterov_descent(q2, x_start, lr=1 / q2.L, momentum=beta_nag2, max_iter=50),
    tu_optim.gradient_descent(q2, x_start, lr=1 / q2.L, momentum=beta_nag2, nesterov=True, max_iter=50,
                              tol=0.0).xs,
    rtol=1e-12, atol=1e-12)

# %% [markdown]
# The rate alone undercounts the steps of both momentum methods. At the tuned parameters the
# recursion has a *double* root in its slowest eigen-direction (the iteration matrix is a Jordan
# block), and the error there is not $\rho^k$ but $(1 + ck)\rho^k$. For heavy ball at $\lambda = L$
# the recursion $e_{k+1} = (1 + \beta - \eta L)e_k - \beta e_{k-1}$ has the double root $-\rho$;
# with $v_0 = 0$, $e_1 = (1 - \eta L)e_0 = -(2\rho + \rho^2)e_0$, which gives
# $e_k = (1 + (1+\rho)k)(-\rho)^k e_0$. For Nesterov the double root is $\rho = 1 - 1/\sqrt\kappa$
# at $\lambda = \mu$, with $c = 1 - \rho$. Every other eigen-direction stays below that envelope
# (checked numerically below), so $\|x_k - x^\star\| \le (1 + ck)\rho^k\|x_0 - x^\star\|$ for
# *every* start, with $c = 0$ for GD. The smallest $k$ with $(1 + ck)\rho^k \le r$ is therefore a
# worst-case count for each method. At $\kappa = 300$ and $r = 10^{-4}$ the factor $1 + ck$ costs
# heavy ball about 60% more steps than $\rho^k$ alone predicts, so the speed-up over GD is about 11
# rather than $\sqrt{300} \approx 17$; it approaches $\sqrt\kappa$ only slowly, as $\log k$
# becomes small against $k$.

# %%
def worst_case_iterations(rho, c, reduction):
    """Smallest k with (1 + c k) rho^k <= reduction: the envelope count (c = 0: plain rho^k)."""
    k = predicted_iterations(rho, reduction)  # (1 + c k) >= 1, so never fewer than the rate alone
    while (1 + c * k) * rho**k > reduction:
        k += 1
    return k


def momentum_errors(lams, lr, beta, nesterov, num_steps):
    """|e_k / e_0| for k < num_steps in each eigen-direction (eigenvalues lams), from v_0 = 0."""
    e_prev = e = np.ones_like(lams)
    out = [e]
    for _ in range(num_steps - 1):
        y = e + beta * (e - e_prev) if nesterov else e
        e_prev, e = e, (y - lr * lams * y if nesterov else e - lr * lams * e + beta * (e - e_prev))
        out.append(e)
    return np.abs(np.array(out))


kappa_chk = 300.0
lams = np.linspace(1 / kappa_chk, 1.0, 2001)
sk_chk = math.sqrt(kappa_chk)
lr_hb_chk, beta_hb_chk, rho_hb_chk = heavy_ball_params(1.0, 1 / kappa_chk)
rho_nag_chk = 1 - 1 / sk_chk
ks_chk = np.arange(400)[:, None]
over = {
    "heavy ball": (momentum_errors(lams, lr_hb_chk, beta_hb_chk, False, 400)
                   / ((1 + (1 + rho_hb_chk) * ks_chk) * rho_hb_chk**ks_chk)).max(),
    "Nesterov": (momentum_errors(lams, 1.0, (sk_chk - 1) / (sk_chk + 1), True, 400)
                 / ((1 + (1 - rho_nag_chk) * ks_chk) * rho_nag_chk**ks_chk)).max(),
}
print(f"largest |e_k / e_0| / envelope over 2,001 eigenvalues and 400 steps at kappa = 300: "
      f"heavy ball {over['heavy ball']:.12f}, Nesterov {over['Nesterov']:.12f}")
assert max(over.values()) < 1 + 1e-9  # the envelope bounds every eigen-direction (1 where it is attained)

# %% [markdown] slideshow={"slide_type": "slide"}
# The measurement: ten-dimensional quadratics with eigenvalues spread geometrically from $\mu = 1/\kappa$
# to $L = 1$ and a random rotation, a random start, and the number of steps until
# $\|x_k - x^\star\| \le 10^{-4}\|x_0 - x^\star\|$, for each method and several $\kappa$. Each of the
# profile's seeds draws its own rotations and starts; the table gives the worst-case count and the
# median measured count over seeds (with the range).

# %% [markdown] slideshow={"slide_type": "notes"}
# The notebook's main claim: iterations grow like the condition number for GD and like its square
# root with momentum. Point at the slopes on the log-log plot rather than at individual points.

# %%
kappas = profile.pick(quick=[10, 30, 100, 300], full=[10, 30, 100, 300, 1000, 3000])
reduction = 1e-4
method_names = ("GD", "heavy ball", "Nesterov")


def steps_to_reduce(res, x_star, reduction):
    """First k with ||x_k - x*|| <= reduction * ||x_0 - x*|| (len(res.xs) if never)."""
    err = (res.xs - x_star).norm(dim=1)
    hit = (err <= reduction * err[0]).nonzero()
    return int(hit[0]) if len(hit) else len(err)


table = []  # one row per kappa: the worst-case count and the measured count for each seed
for kappa in kappas:
    sk = math.sqrt(kappa)
    rho_gd = (kappa - 1) / (kappa + 1)
    _, _, rho_hb = heavy_ball_params(1.0, 1 / kappa)
    rho_nag = 1 - 1 / sk
    table.append({"kappa": kappa, "bound": {
        "GD": worst_case_iterations(rho_gd, 0.0, reduction),
        "heavy ball": worst_case_iterations(rho_hb, 1 + rho_hb, reduction),
        "Nesterov": worst_case_iterations(rho_nag, 1 - rho_nag, reduction)},
        "rate only": {"GD": predicted_iterations(rho_gd, reduction),
                      "heavy ball": predicted_iterations(rho_hb, reduction)},
        "measured": {name: [] for name in method_names}})
for seed in tqdm(profile.seeds, desc="seeds"):
    draws = torch.Generator().manual_seed(seed)
    for row in table:
        kappa = row["kappa"]
        q = quadratic_with_condition(kappa, d=10, generator=draws)
        x0 = q.x_star + torch.randn(10, generator=draws, dtype=torch.float64)
        sk = math.sqrt(kappa)
        lr_gd, _ = optimal_gd_lr(q.L, q.mu)
        lr_hb, beta_hb, _ = heavy_ball_params(q.L, q.mu)
        methods = {
            "GD": dict(lr=lr_gd),
            "heavy ball": dict(lr=lr_hb, momentum=beta_hb),
            "Nesterov": dict(lr=1 / q.L, momentum=(sk - 1) / (sk + 1), nesterov=True),
        }
        for name, kw in methods.items():
            res = tu_optim.gradient_descent(q, x0, max_iter=row["bound"][name] + 10, tol=0.0, **kw)
            row["measured"][name].append(steps_to_reduce(res, q.x_star, reduction))

print(f"{'kappa':>6} | " + " | ".join(f"{name + ': bound, median (range)':>32}" for name in method_names))
for row in table:
    cells = []
    for m in method_names:
        counts = row["measured"][m]
        cells.append(f"{row['bound'][m]:>8} {np.median(counts):>8.0f} ({min(counts)}-{max(counts)})".rjust(32))
    print(f"{row['kappa']:>6} | " + " | ".join(cells))

# %% [markdown] slideshow={"slide_type": "subslide"}
# On log-log axes the iteration counts are straight lines: slope 1 for GD and about 1/2 for both
# momentum methods. Dashed lines are the worst-case counts, dots the median measurements, bars the
# range over seeds.

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(6, 4))
for i, name in enumerate(method_names):
    med = np.array([np.median(r["measured"][name]) for r in table])
    lo = med - np.array([min(r["measured"][name]) for r in table])
    hi = np.array([max(r["measured"][name]) for r in table]) - med
    ax.loglog(kappas, [r["bound"][name] for r in table], "--", color=f"C{i}", alpha=0.6)
    ax.errorbar(kappas, med, yerr=[lo, hi], fmt="o-", color=f"C{i}", capsize=3, label=name)
ax.set(xscale="log", yscale="log", xlabel=r"condition number $\kappa = L/\mu$",
       ylabel="iterations to reduce the error $10^4$-fold",
       title="Measured (median and range) against worst case (dashed)")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Check (the notebook's main claim).** Every run of every method needs at most its worst-case
# count (a theorem, so it must hold for every seed), and the median run at least half of it (the
# bound is not loose: a random start puts only part of its error on the slowest direction, which
# saves some steps, not most). The fitted slopes of log-iterations against $\log\kappa$ match the
# slopes of the worst-case counts (1 for GD, about 0.55 for the momentum methods at these $\kappa$,
# tending to 1/2) within 0.15. And at the largest $\kappa$ heavy ball's measured speed-up over GD
# (ratio of median counts) is within a factor 1.5 of the derived one, the ratio of worst-case counts.

# %%
slopes, bound_slopes = {}, {}
for name in method_names:
    median = np.array([np.median(r["measured"][name]) for r in table])
    slopes[name] = np.polyfit(np.log(kappas), np.log(median), 1)[0]
    bound_slopes[name] = np.polyfit(np.log(kappas), np.log([r["bound"][name] for r in table]), 1)[0]
    print(f"{name:10s} slope of log(iterations) vs log(kappa): measured {slopes[name]:.2f}, "
          f"worst case {bound_slopes[name]:.2f}")
for row in table:
    for name in method_names:
        assert max(row["measured"][name]) <= row["bound"][name], (name, row)
        assert np.median(row["measured"][name]) >= 0.5 * row["bound"][name], (name, row)
for name in method_names:
    assert abs(slopes[name] - bound_slopes[name]) < 0.15, (name, slopes[name], bound_slopes[name])
last_row = table[-1]
speedup = np.median(last_row["measured"]["GD"]) / np.median(last_row["measured"]["heavy ball"])
derived = last_row["bound"]["GD"] / last_row["bound"]["heavy ball"]
rate_only = last_row["rate only"]["GD"] / last_row["rate only"]["heavy ball"]
print(f"heavy-ball speed-up at kappa = {kappas[-1]}: measured {speedup:.1f}x, derived {derived:.1f}x "
      f"(rate alone {rate_only:.1f}x, sqrt(kappa) = {math.sqrt(kappas[-1]):.1f})")
assert 1 / 1.5 < speedup / derived < 1.5

# %% [markdown]
# ### Sliders: step size and condition number
#
# The path of GD on a two-dimensional quadratic with $L = 1$ and $\mu = 1/\kappa$ (rotated by a
# random rotation drawn from the profile's first seed, the same for every redraw). The first slider
# sets $\eta L$, the second $\log_{10}\kappa$. Try $\eta L$ just under and over 2, and watch the
# zig-zag across the valley grow with $\kappa$.

# %%
last = {}  # what the latest redraw computed, so we can check that the sliders drive it


def draw_gd(lr_times_L=1.0, log10_kappa=1.0):
    """Contours of a 2-D quadratic and 40 steps of GD from a fixed start."""
    kappa = 10.0**log10_kappa
    q = make_quadratic([1.0 / kappa, 1.0], generator=torch.Generator().manual_seed(profile.seed))
    lr = lr_times_L / q.L
    res = tu_optim.gradient_descent(q, torch.tensor([-1.6, 1.2], dtype=torch.float64), lr=lr, max_iter=40, tol=0.0)
    rho = quadratic_gd_rate(q.eigenvalues, lr)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    plot_contour(q, (-2, 2), (-2, 2), ax=ax, levels=np.geomspace(1e-3, 8, 20))
    plot_path(res.xs.clamp(-2.5, 2.5), ax=ax, label="GD")
    ax.set_title(fr"$\eta L$ = {lr_times_L:.2f}, $\kappa$ = {kappa:.0f}, $\rho$ = {rho:.3f}")
    plt.show()
    err = (res.xs - q.x_star).norm(dim=1)
    last.update(lr_times_L=lr_times_L, kappa=kappa, rho=rho, growing=bool(err[-1] > err[-2]),
                final_error=err[-1].item())


def gd_sliders():
    """The two sliders, wired to `draw_gd`: every move redraws the path."""
    return widgets.interactive(
        draw_gd,
        lr_times_L=widgets.FloatSlider(value=1.0, min=0.05, max=2.2, step=0.05, description="lr * L"),
        log10_kappa=widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="log10 kappa"),
    )


gd_slider = gd_sliders()
display(gd_slider)

# %% [markdown]
# **Check.** Driving the sliders from code redraws the path: at $\eta L = 2.1$ the error is still
# growing at the last step (it diverges), at $\eta L = 1.9$ it shrinks, and at $\kappa = 100$ with
# $\eta = 1/L$ the contraction factor is $1 - 1/\kappa = 0.99$. The check drives a second set of the
# same sliders that is never displayed, so the ones above stay where you leave them: a browser
# showing a slider rounds each value set from code to the slider's grid and sends it back, and
# such an echo can arrive after the next value has been set.

# %%
check_sliders = gd_sliders()  # the same sliders and drawing function, not displayed
lr_box, kappa_box = check_sliders.children[0], check_sliders.children[1]
lr_box.value = 2.1
assert last["lr_times_L"] == 2.1 and last["growing"]
lr_box.value = 1.9
assert not last["growing"]
lr_box.value, kappa_box.value = 1.0, 2.0
assert abs(last["kappa"] - 100) < 1e-9 and abs(last["rho"] - 0.99) < 1e-12
print("slider checks passed:", {k: round(v, 4) if isinstance(v, float) else v for k, v in last.items()})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Stochastic gradients on real data
#
# A training loss is an average over samples, $f(w) = \frac1n\sum_i \ell_i(w)$. **Stochastic gradient
# descent** replaces the full gradient by the mean over a random mini-batch $B_k$ of size $b$,
# an unbiased estimate with variance proportional to $1/b$:
# $$w_{k+1} = w_k - \eta_k\,\frac1b\sum_{i\in B_k}\nabla\ell_i(w_k).$$
# A step is $n/b$ times cheaper than a full gradient, but the noise does not vanish at the optimum,
# so with a constant step SGD stalls at a **noise floor** whose height scales roughly like $\eta/b$.
# A decaying schedule (Robbins and Monro, 1951, need $\sum\eta_k = \infty$, $\sum\eta_k^2 < \infty$;
# here $\eta_k = \eta_0/(1 + k/200)$) lowers the floor. **Adam** (Kingma and Ba, 2015) rescales each
# coordinate by a running root-mean-square of its gradients.
#
# The data: scikit-learn's breast-cancer set (569 tumours, 30 standardised features, malignant or
# benign) and the L2-regularised logistic loss ($\ell_2 = 10^{-2}$, intercept as a column of ones),
# which is smooth and strongly convex. Newton's method (notebook 03) gives the reference $f^\star$.

# %%
cancer = load_breast_cancer()
X = torch.tensor(cancer.data, dtype=torch.float64)
X = torch.cat([(X - X.mean(0)) / X.std(0), torch.ones(len(X), 1, dtype=torch.float64)], dim=1)
y = torch.tensor(cancer.target, dtype=torch.float64)
n, d = X.shape
l2 = 1e-2


def loss_full(w):
    return logistic_loss(w, X, y, l2)


def loss_batch(w, idx):
    return logistic_loss(w, X[idx], y[idx], l2)


w_ref = newton_minimize(loss_full, torch.zeros(d, dtype=torch.float64))
f_star = w_ref.values[-1]
L_log = torch.linalg.eigvalsh(X.T @ X / n)[-1].item() / 4 + l2  # sigma' <= 1/4
print(f"n = {n}, d = {d}, f* = {f_star:.6f} (Newton, {w_ref.n_iter} iterations), L <= {L_log:.2f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# We run SGD with batch sizes 8 and 64 at the constant step $\eta = 0.5$, and batch size 8 with the
# decaying schedule, over the profile's seeds (each seed draws different mini-batches), recording
# the full loss after every epoch.

# %% slideshow={"slide_type": "-"}
num_epochs = profile.pick(quick=20, full=60)
configs = {
    "SGD b=8, constant": dict(batch_size=8, lr=0.5),
    "SGD b=64, constant": dict(batch_size=64, lr=0.5),
    "SGD b=8, decaying": dict(batch_size=8, lr=lambda k: 0.5 / (1 + k / 200)),
}
sgd_runs = {name: [] for name in configs}
for seed in tqdm(profile.seeds, desc="SGD seeds"):
    for name, kw in configs.items():
        res = sgd(loss_batch, torch.zeros(d, dtype=torch.float64), n_samples=n, num_epochs=num_epochs,
                  generator=torch.Generator().manual_seed(seed), full_loss=loss_full, **kw)
        sgd_runs[name].append(np.array(res.values) - f_star)
floor = {name: np.array([r[-5:].mean() for r in rs]) for name, rs in sgd_runs.items()}
for name, values in floor.items():
    print(f"{name:20s} mean f - f* over the last 5 epochs, per seed: {np.array2string(values, formatter={'float_kind': lambda v: f'{v:.1e}'})}")

# %% [markdown]
# **Adam** keeps two running means, of the gradient and of its elementwise square, corrects both for
# their start at zero, and divides the one by the root of the other, coordinate by coordinate
# ($\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon = 10^{-8}$ by default):
# $$m_k = \beta_1 m_{k-1} + (1-\beta_1)g_k, \quad v_k = \beta_2 v_{k-1} + (1-\beta_2)g_k^2, \quad
#   x_k = x_{k-1} - \eta\,\frac{m_k/(1-\beta_1^k)}{\sqrt{v_k/(1-\beta_2^k)} + \epsilon},
#   \qquad g_k = \nabla f(x_{k-1}).$$

# %%
def adam(f, x0, *, lr, betas=(0.9, 0.999), eps=1e-8, max_iter):
    """Adam (Kingma and Ba, 2015) from x0; every iterate, shape (max_iter + 1, d)."""
    (b1, b2), xs = betas, [x0]
    m, v = torch.zeros_like(x0), torch.zeros_like(x0)
    for k in range(1, max_iter + 1):
        g = torch.func.grad(f)(xs[-1])
        m = b1 * m + (1 - b1) * g  # running mean of the gradient
        v = b2 * v + (1 - b2) * g * g  # running mean of its square
        m_hat, v_hat = m / (1 - b1**k), v / (1 - b2**k)  # bias corrections
        xs.append(xs[-1] - lr * m_hat / (v_hat.sqrt() + eps))
    return torch.stack(xs)


# %% [markdown]
# **Check.** On the logistic loss, from $w = 0$ with $\eta = 0.05$, the loop takes the same 20 steps
# as the package's `tu_optim.adam` (the same operations) and as PyTorch's `torch.optim.Adam`, which
# applies the bias corrections in another order and so rounds differently, by a unit or two in the
# last place. The tolerance is that of section 1, $10^{-12}$.

# %%
w0 = torch.zeros(d, dtype=torch.float64)
torch.testing.assert_close(adam(loss_full, w0, lr=0.05, max_iter=20),
                           tu_optim.adam(loss_full, w0, lr=0.05, max_iter=20, tol=0.0).xs,
                           rtol=1e-12, atol=1e-12)
w_torch = w0.clone().requires_grad_(True)
torch_adam = torch.optim.Adam([w_torch], lr=0.05)
torch_path = [w0]
for _ in range(20):
    torch_adam.zero_grad()
    loss_full(w_torch).backward()
    torch_adam.step()
    torch_path.append(w_torch.detach().clone())
torch.testing.assert_close(adam(loss_full, w0, lr=0.05, max_iter=20), torch.stack(torch_path), rtol=1e-12, atol=1e-12)

# %% [markdown]
# For comparison, full-batch GD with $\eta = 1/L$ and full-batch Adam ($\eta = 0.05$) run for
# $10\times$ as many iterations as SGD has epochs. Cost is counted in per-sample gradients: one SGD
# epoch and one full-batch iteration each cost $n$ of them, so the right panel has ten times the
# budget of the left.

# %%
gd_full = tu_optim.gradient_descent(loss_full, torch.zeros(d, dtype=torch.float64), lr=1 / L_log,
                                    max_iter=10 * num_epochs, tol=0.0)
adam_full = tu_optim.adam(loss_full, torch.zeros(d, dtype=torch.float64), lr=0.05, max_iter=10 * num_epochs, tol=0.0)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for i, (name, rs) in enumerate(sgd_runs.items()):
    for j, r in enumerate(rs):
        axes[0].semilogy(np.maximum(r, 1e-16), color=f"C{i}", alpha=0.7, label=name if j == 0 else None)
axes[0].set(xlabel="epoch", ylabel=r"$f(w) - f^\star$", title=f"SGD, {len(profile.seeds)} seeds each")
axes[0].legend(fontsize=8)
plot_convergence({"GD, lr = 1/L": np.array(gd_full.values) - f_star,
                  "Adam, lr = 0.05": np.array(adam_full.values) - f_star},
                 ax=axes[1], ylabel=r"$f(w) - f^\star$", title="Full-batch GD and Adam")
plt.show()

# %% [markdown]
# **Check.** In every seed, the decaying schedule ends at least 5 times lower than the constant step
# with the same batch size, and batch size 64 at least 2 times lower than batch size 8. Over the
# claims sweep's 18 seeds on three CPU kernel sets (`benchmarks/claims.json`), the smallest ratio in
# each run of three seeds lay between 36 and 95 for the schedule and between 5.7 and 13.5 for the
# batch size (the $\eta/b$ scaling predicts about 8). Both are the noise floor at work. The
# full-batch methods, with no noise, keep converging.

# %%
ratio_schedule = floor["SGD b=8, constant"] / floor["SGD b=8, decaying"]
ratio_batch = floor["SGD b=8, constant"] / floor["SGD b=64, constant"]
print("constant/decaying per seed:", ratio_schedule.round(1), " b=8/b=64 per seed:", ratio_batch.round(1))
assert ratio_schedule.min() > 5 and ratio_batch.min() > 2
assert gd_full.values[-1] - f_star < 1e-2 * (gd_full.values[0] - f_star)
assert adam_full.values[-1] - f_star < 1e-3 * (adam_full.values[0] - f_star)
print(f"after {10 * num_epochs} full-batch iterations: GD f - f* = {gd_full.values[-1] - f_star:.1e}, "
      f"Adam {adam_full.values[-1] - f_star:.1e}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Convex against non-convex
#
# A twice-differentiable $f$ is **convex** iff its Hessian is positive semidefinite everywhere; then
# every critical point ($\nabla f = 0$) is a global minimum and GD with $\eta < 2/L$ finds one.
# Without convexity, the Hessian at a critical point classifies it (the *second-derivative test*):
# all eigenvalues positive, a local minimum; all negative, a local maximum; mixed signs, a
# **saddle**. We classify the critical points of three functions: the quadratic above (convex),
# the saddle $\frac12(x_1^2 - x_2^2)$ and a "four wells" function
# $(x_1^2 - 1)^2 + (x_2^2 - 1)^2 + 0.3x_1 + 0.1x_2$ whose four local minima have different depths.

# %% [markdown] slideshow={"slide_type": "notes"}
# Non-convex landscapes: ask where GD ends from a given start, then show the basin picture. Keep the
# saddle discussion brief; it returns in notebook 03 with Newton's method.

# %%
def classify(f, x):
    """Second-derivative test at a critical point x from the eigenvalues of the Hessian."""
    eig = torch.linalg.eigvalsh(torch.func.hessian(f)(x))
    if (eig > 1e-9).all():
        return "local minimum", eig
    if (eig < -1e-9).all():
        return "local maximum", eig
    return ("saddle" if (eig > 1e-9).any() and (eig < -1e-9).any() else "degenerate"), eig


crit_max = newton_minimize(four_wells, [0.05, 0.05]).x  # Newton finds any critical point (notebook 03)
crit_saddle = newton_minimize(four_wells, [0.9, 0.05]).x
points = {"quadratic at x*": (q2, q2.x_star), "saddle at 0": (saddle, torch.zeros(2, dtype=torch.float64)),
          "four wells, near (0, 0)": (four_wells, crit_max), "four wells, near (1, 0)": (four_wells, crit_saddle)}
points.update({f"four wells, minimum {i}": (four_wells, m) for i, m in enumerate(FOUR_WELLS_MINIMA)})
kinds = {}
for name, (fn, x) in points.items():
    kinds[name], eig = classify(fn, x)
    print(f"{name:26s} x = {np.array2string(x.numpy(), precision=3):18s} eigenvalues {np.array2string(eig.numpy(), precision=2):16s} -> {kinds[name]}")
assert kinds["quadratic at x*"] == "local minimum" and kinds["saddle at 0"] == "saddle"
assert kinds["four wells, near (0, 0)"] == "local maximum" and kinds["four wells, near (1, 0)"] == "saddle"
assert all(kinds[f"four wells, minimum {i}"] == "local minimum" for i in range(4))

# %% [markdown]
# ### Saddles: unstable but sticky
#
# On the saddle $\frac12(x_1^2 - x_2^2)$ GD multiplies $x_1$ by $1 - \eta$ and $x_2$ by $1 + \eta$. Started
# exactly on the $x_1$-axis it converges to the saddle; started $10^{-8}$ off the axis it escapes,
# but only after about $\log(10^8)/\log(1+\eta)$ steps, spent lingering near the saddle. (Random
# starts escape with probability one; Lee et al., 2016.)

# %%
lr_s = 0.2
on_axis = tu_optim.gradient_descent(saddle, [1.0, 0.0], lr=lr_s, max_iter=200, tol=1e-12)
off_axis = tu_optim.gradient_descent(saddle, [1.0, 1e-8], lr=lr_s, max_iter=200, tol=1e-12)
escape_measured = int((off_axis.xs[:, 1].abs() > 1.0).nonzero()[0])
escape_predicted = math.log(1e8) / math.log(1 + lr_s)
print(f"on the axis: converged = {on_axis.converged} at x = {on_axis.x.numpy().round(10)} (the saddle)")
print(f"1e-8 off the axis: |x_2| > 1 after {escape_measured} steps (predicted {escape_predicted:.1f})")
assert on_axis.converged and on_axis.x.abs().max() < 1e-10
assert abs(escape_measured - escape_predicted) <= 1.5

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Where GD ends depends on where it starts
#
# On the four-wells function every start in a region (its *basin of attraction*) flows to the same
# minimum. We run GD ($\eta = 0.05$, 300 steps) from a grid of starts at once, vectorised with
# `torch.func.vmap`, colour each start by the minimum it reaches, and overlay a few single runs from
# the recording optimiser.

# %% slideshow={"slide_type": "-"}
n_grid = profile.pick(quick=41, full=101)
g1 = torch.linspace(-1.9, 1.9, n_grid, dtype=torch.float64)
starts = torch.cartesian_prod(g1, g1)
batched_grad = torch.func.vmap(torch.func.grad(four_wells))
ends = starts.clone()
for _ in range(300):
    ends = ends - 0.05 * batched_grad(ends)
dist = torch.cdist(ends, FOUR_WELLS_MINIMA)
basin = dist.argmin(1)
print("starts per minimum:", torch.bincount(basin, minlength=4).tolist(), "; largest distance to its minimum",
      f"{dist.min(1).values.max().item():.1e}")

single = {f"start {s}": tu_optim.gradient_descent(four_wells, s, lr=0.05, max_iter=300, tol=1e-10)
          for s in ([-0.2, 1.8], [0.3, -1.7], [1.7, 0.3], [-1.8, -0.2])}
fig, ax = plt.subplots(figsize=(6, 5.5))
ax.pcolormesh(g1.numpy(), g1.numpy(), basin.reshape(n_grid, n_grid).T.numpy(), cmap="Pastel1",
              shading="nearest", alpha=0.8)
plot_contour_paths(four_wells, single, (-1.9, 1.9), (-1.9, 1.9), ax=ax, levels=25,
                   title="Basins of attraction of GD (colour: minimum reached)")
for i, m in enumerate(FOUR_WELLS_MINIMA):
    ax.annotate(f"f = {four_wells(m).item():.2f}", m.numpy(), textcoords="offset points", xytext=(5, 5), fontsize=8)
plt.show()

# %% [markdown]
# **Check.** Every grid start ends at one of the four minima (within $10^{-3}$), all four are reached,
# and the recording optimiser's single runs agree with the vectorised ones.

# %%
assert dist.min(1).values.max() < 1e-3 and set(basin.tolist()) == {0, 1, 2, 3}
reached = {int(torch.cdist(r.x[None], FOUR_WELLS_MINIMA).argmin()) for r in single.values()}
assert len(reached) >= 3, reached
for s, r in zip(([-0.2, 1.8], [0.3, -1.7], [1.7, 0.3], [-1.8, -0.2]), single.values()):
    e = torch.tensor(s, dtype=torch.float64)
    for _ in range(300):
        e = e - 0.05 * torch.func.grad(four_wells)(e)
    torch.testing.assert_close(r.x, e, atol=1e-8, rtol=0)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Rosenbrock's valley
#
# Rosenbrock's function $(1 - x_1)^2 + 100(x_2 - x_1^2)^2$ is non-convex but has a single minimum at
# $(1, 1)$, at the end of a long curved valley whose Hessian has condition number about 2,500 at the
# minimum. GD must take small steps (the walls are steep) and then crawls along the flat valley
# floor; momentum carries speed along the valley.

# %% slideshow={"slide_type": "-"}
x_rb = [-1.2, 1.0]
n_rb = profile.pick(quick=2000, full=10000)
rb_runs = {
    "GD, lr = 1e-3": tu_optim.gradient_descent(rosenbrock, x_rb, lr=1e-3, max_iter=n_rb, tol=1e-8),
    "heavy ball, lr = 1e-3, beta = 0.9": tu_optim.gradient_descent(rosenbrock, x_rb, lr=1e-3, momentum=0.9, max_iter=n_rb, tol=1e-8),
    "Adam, lr = 0.05": tu_optim.adam(rosenbrock, x_rb, lr=0.05, max_iter=n_rb, tol=1e-8),
}
H_min = torch.func.hessian(rosenbrock)(torch.ones(2, dtype=torch.float64))
print(f"condition number of the Hessian at (1, 1): {torch.linalg.cond(H_min).item():.0f}")
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
plot_contour_paths(rosenbrock, {k: r.xs[::10] for k, r in rb_runs.items()}, (-1.5, 1.5), (-0.5, 1.7),
                   ax=axes[0], levels=30, log=True, title="Paths on Rosenbrock (every 10th iterate)")
plot_convergence({k: r.values for k, r in rb_runs.items()}, ax=axes[1], ylabel=r"$f(x_k) - f^\star$",
                 title=f"{n_rb} iterations")
plt.show()
for k, r in rb_runs.items():
    print(f"{k:35s} f = {r.values[-1]:.2e} after {r.n_iter} iterations")

# %% [markdown]
# **Check.** After the same number of iterations, momentum is at least 100 times closer to the
# minimum value than plain GD.

# %%
assert rb_runs["heavy ball, lr = 1e-3, beta = 0.9"].values[-1] < 1e-2 * rb_runs["GD, lr = 1e-3"].values[-1]

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * Gradient descent is the steepest-descent step of the first-order Taylor model. For an $L$-smooth
#   function each step decreases $f$ when $\eta < 2/L$; we watched a quadratic converge at
#   $\eta = 1.9/L$ and diverge at $\eta = 2.1/L$ with the predicted growth factor 1.1.
# * On a quadratic the error contracts by $\rho = \max_i|1 - \eta\lambda_i|$ per step, at best
#   $(\kappa - 1)/(\kappa + 1)$: iterations grow linearly in the condition number $\kappa$. Momentum
#   (heavy ball, Nesterov) brings that to about $\sqrt\kappa$, less a transient factor $1 + ck$ from the
#   double root of the tuned recursion; every run stayed within the worst-case counts derived from both.
# * SGD trades exact gradients for cheap ones; with a constant step it stalls at a noise floor that
#   shrinks with the batch size and with a decaying schedule. Adam adapts the step per coordinate.
# * Non-convex functions have saddles (which GD escapes, slowly, unless started exactly on their
#   stable set) and several minima, reached from different basins of attraction. Where you start
#   decides where you end: the reason a good *initialisation*, such as a pretrained network, matters
#   so much in transfer learning.

# %% [markdown]
# ## Exercises
#
# **1.** For $f(x) = \frac12 x^\top A x$ with eigenvalues 1 and 100, what step size minimises the
# contraction factor, what is the factor, and how many steps reduce the error $10^6$-fold? Check by
# running `tu_optim.gradient_descent`.
#
# <details><summary>Solution</summary>
#
# $\eta^\star = 2/(L + \mu) = 2/101$, $\rho^\star = 99/101 \approx 0.9802$, and
# $k = \lceil\log 10^{-6}/\log(99/101)\rceil = 691$.
#
# ```python
# q = make_quadratic([1.0, 100.0], generator=torch.Generator().manual_seed(0))
# lr, rho = optimal_gd_lr(q.L, q.mu)
# res = tu_optim.gradient_descent(q, torch.ones(2, dtype=torch.float64), lr=lr, max_iter=2000, tol=0.0)
# err = (res.xs - q.x_star).norm(dim=1)
# print(predicted_iterations(rho, 1e-6), int((err <= 1e-6 * err[0]).nonzero()[0]))
# ```
# </details>
#
# *Runnable:* write `gd_plan(L, mu, reduction)` that returns the best constant step $\eta^\star$,
# its contraction factor $\rho^\star$ and the number of steps $k$ with
# $(\rho^\star)^k \le$ `reduction`. The check compares it with the package's `optimal_gd_lr` and
# `predicted_iterations` on random spectra.

# %% tags=["exercise"]
def gd_plan(L: float, mu: float, reduction: float) -> tuple[float, float, int]:
    """Return (best step, its contraction factor, steps to shrink the error by `reduction`) for GD
    on a quadratic whose Hessian has eigenvalues in [mu, L]."""
    raise NotImplementedError("eta* = 2/(L + mu), rho* = (L - mu)/(L + mu), k = ceil(log r / log rho)")


# %% tags=["solution"]
def gd_plan(L: float, mu: float, reduction: float) -> tuple[float, float, int]:
    """Return (best step, its contraction factor, steps to shrink the error by `reduction`) for GD
    on a quadratic whose Hessian has eigenvalues in [mu, L]."""
    lr, rho = 2 / (L + mu), (L - mu) / (L + mu)
    return lr, rho, math.ceil(math.log(reduction) / math.log(rho))


# %% tags=["check"]
from transfer_utils.core.exercises import check_function


def gd_plan_reference(L: float, mu: float, reduction: float) -> tuple[float, float, int]:
    lr, rho = tu_optim.optimal_gd_lr(L, mu)
    return lr, rho, tu_optim.predicted_iterations(rho, reduction)


fresh = torch.Generator().manual_seed(105)
cases = []
for _ in range(5):
    mu_k = float(10 ** (2 * torch.rand((), generator=fresh, dtype=torch.float64) - 1))
    kappa_k = float(10 ** (3 * torch.rand((), generator=fresh, dtype=torch.float64) + 0.1))
    cases.append((kappa_k * mu_k, mu_k, float(10 ** -(1 + 8 * torch.rand((), generator=fresh)))))
check_function("1 (the best step and its rate)", gd_plan, gd_plan_reference, cases, rtol=1e-10,
               hint="the best step balances the two extreme eigenvalues: |1 - eta mu| = |1 - eta L|.")

# %% [markdown]
# **2.** Show that for any $L$-smooth $f$ bounded below by $f^\star$, GD with $\eta = 1/L$ satisfies
# $\min_{k < K}\|\nabla f(x_k)\|^2 \le 2L(f(x_0) - f^\star)/K$, even without convexity.
#
# <details><summary>Solution</summary>
#
# With $\eta = 1/L$ the descent inequality reads $f(x_{k+1}) \le f(x_k) - \frac{1}{2L}\|\nabla f(x_k)\|^2$.
# Summing over $k = 0,\dots,K-1$ telescopes:
# $\frac{1}{2L}\sum_{k<K}\|\nabla f(x_k)\|^2 \le f(x_0) - f(x_K) \le f(x_0) - f^\star$. The minimum
# is at most the mean, which gives the claim: GD finds an approximately stationary point at rate
# $O(1/K)$, though that point may be a saddle.
# </details>
#
# **3.** Run Adam and GD (with the best step) for 300 iterations on two quadratics with eigenvalues
# 1 and 100: one axis-aligned (`rotate=False`), one randomly rotated. Which method is sensitive to
# the rotation, and why?
#
# <details><summary>Solution</summary>
#
# ```python
# for rotate in (False, True):
#     q = make_quadratic([1.0, 100.0], rotate=rotate, generator=torch.Generator().manual_seed(3))
#     x0 = torch.tensor([1.0, 1.0], dtype=torch.float64)
#     r_adam = tu_optim.adam(q, x0, lr=0.05, max_iter=300, tol=0.0)
#     r_gd = tu_optim.gradient_descent(q, x0, lr=optimal_gd_lr(q.L, q.mu)[0], max_iter=300, tol=0.0)
#     print(rotate, r_adam.values[-1], r_gd.values[-1])
# ```
# GD is rotation-invariant: its rate depends only on the eigenvalues, and both runs end near
# $f \approx 3\times10^{-4}$ (the starts differ only in how they project on the eigenvectors).
# Adam divides each *coordinate* by a running RMS of its gradient, a diagonal preconditioner: when
# the Hessian is diagonal that rescaling equalises the curvatures, and Adam ends about three orders
# of magnitude lower on the axis-aligned problem ($4\times10^{-13}$) than on the rotated one
# ($7\times10^{-10}$). It still beats tuned GD on this small 2-D example in both cases; do not
# generalise from it, but do expect adaptive methods to depend on the coordinate system.
# </details>
#
# **4.** In the SGD experiment, halve the constant step to 0.25 with batch size 8. By roughly what
# factor does the noise floor fall? Compare with halving the step against multiplying the batch by 8.
#
# <details><summary>Solution</summary>
#
# ```python
# res = sgd(loss_batch, torch.zeros(d, dtype=torch.float64), n_samples=n, batch_size=8, lr=0.25,
#           num_epochs=num_epochs, generator=torch.Generator().manual_seed(0), full_loss=loss_full)
# print((np.array(res.values[-5:]) - f_star).mean(), floor["SGD b=8, constant"][0])
# ```
# Near the optimum SGD with constant step behaves like a noisy linear recursion whose stationary
# suboptimality is about $\eta\sigma^2/(4b)$ for gradient-noise variance $\sigma^2$ per sample: halving
# $\eta$ roughly halves the floor, multiplying $b$ by 8 divides it by about 8. The measured factors
# scatter around these (the floor is itself noisy), but the order of magnitude holds.
# </details>
#
# **5.** Where does GD on four wells end from $(0, 0)$ exactly, and from $(10^{-6}, 10^{-6})$? Explain
# with the Hessian at the origin-side critical point.
#
# <details><summary>Solution</summary>
#
# The gradient at $(0, 0)$ is $(0.3, 0.1) \neq 0$, so GD moves in the direction $-(0.3, 0.1)$ and
# reaches the deepest minimum near $(-1, -1)$; the tiny perturbation changes nothing because the
# nearby critical point, a local maximum near $(0.075, 0.025)$ with a negative-definite Hessian,
# repels in every direction, and both starts lie on the same side of it (down-hill towards $(-1, -1)$).
#
# ```python
# for s in ([0.0, 0.0], [1e-6, 1e-6]):
#     print(tu_optim.gradient_descent(four_wells, s, lr=0.05, max_iter=500).x)
# ```
# </details>
#
# **6.** On a quadratic the GD error obeys $e_{k+1} = (I - \eta A)e_k$, so each step multiplies the
# error's component along the eigenvector of $\lambda_i$ by $1 - \eta\lambda_i$. Write
# `contraction_factor(eigenvalues, lr)`, the worst of these factors in absolute value (the rate
# $\rho(\eta)$ of section 2; above 1 means divergence). The check compares it with the package's
# `quadratic_gd_rate` on random spectra and steps, some of them too large.
#
# <details><summary>Solution</summary>
#
# $\rho(\eta) = \max_i |1 - \eta\lambda_i|$; only the smallest and largest eigenvalue matter, since
# $|1 - \eta\lambda|$ is convex in $\lambda$:
#
# ```python
# def contraction_factor(eigenvalues, lr):
#     lam = torch.as_tensor(eigenvalues, dtype=torch.float64)
#     return float((1 - lr * lam).abs().max())
# ```
# </details>

# %% tags=["exercise"]
def contraction_factor(eigenvalues: torch.Tensor, lr: float) -> float:
    """Return max_i |1 - lr * lambda_i| over the Hessian's eigenvalues, as a Python float."""
    raise NotImplementedError("one line: the largest |1 - lr * lambda| over the eigenvalues")


# %% tags=["solution"]
def contraction_factor(eigenvalues: torch.Tensor, lr: float) -> float:
    """Return max_i |1 - lr * lambda_i| over the Hessian's eigenvalues, as a Python float."""
    lam = torch.as_tensor(eigenvalues, dtype=torch.float64)
    return float((1 - lr * lam).abs().max())


# %% tags=["check"]
from transfer_utils.core.exercises import check_function

fresh = torch.Generator().manual_seed(106)
cases = []
for _ in range(6):
    spectrum = 10 ** (3 * torch.rand(5, generator=fresh, dtype=torch.float64) - 1)
    cases.append((spectrum, float(2.5 * torch.rand((), generator=fresh)) / float(spectrum.max())))
check_function("6 (the contraction factor)", contraction_factor, tu_optim.quadratic_gd_rate, cases, rtol=1e-10,
               hint="the factor is the largest |1 - lr * lambda_i|, not the one of the largest eigenvalue alone.")

# %% [markdown]
# ## References
#
# - A. Cauchy (1847). Méthode générale pour la résolution des systèmes d'équations simultanées.
#   *Comptes Rendus de l'Académie des Sciences* 25, 536-538.
# - B. T. Polyak (1964). Some methods of speeding up the convergence of iteration methods. *USSR
#   Computational Mathematics and Mathematical Physics* 4(5), 1-17.
# - Y. Nesterov (1983). A method for solving the convex programming problem with convergence rate
#   $O(1/k^2)$. *Soviet Mathematics Doklady* 27, 372-376.
# - H. Robbins and S. Monro (1951). A stochastic approximation method. *Annals of Mathematical
#   Statistics* 22(3), 400-407.
# - D. P. Kingma and J. Ba (2015). Adam: A Method for Stochastic Optimization. *ICLR*.
# - L. Bottou, F. E. Curtis and J. Nocedal (2018). Optimization Methods for Large-Scale Machine
#   Learning. *SIAM Review* 60(2), 223-311.
# - J. D. Lee, M. Simchowitz, M. I. Jordan and B. Recht (2016). Gradient Descent Only Converges to
#   Minimizers. *COLT*.
# - G. Goh (2017). Why Momentum Really Works. *Distill*.
# - L. Lessard, B. Recht and A. Packard (2016). Analysis and Design of Optimization Algorithms via
#   Integral Quadratic Constraints. *SIAM Journal on Optimization* 26(1), 57-95.
# - H. H. Rosenbrock (1960). An automatic method for finding the greatest or least value of a
#   function. *The Computer Journal* 3(3), 175-184.
# - J. Nocedal and S. J. Wright (2006). *Numerical Optimization*, 2nd ed. Springer (chapters 2-3).
