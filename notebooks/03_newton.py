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
# # 03 Newton's method and second-order optimisation
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/PLACEHOLDER-ORG/calculus-in-transfer-learning/blob/main/notebooks/03_newton.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/PLACEHOLDER-ORG/calculus-in-transfer-learning/main?labpath=notebooks%2F03_newton.ipynb)
#
# Gradient descent uses the slope; Newton's method also uses the curvature. Where it works, it is
# spectacularly fast: the number of correct digits doubles at every step, and a quadratic is solved
# in one step whatever its condition number. Where it fails, it fails badly: it is drawn to saddles
# and maxima as readily as to minima, and it can fly off from a start that is too far away. This
# notebook shows both sides, the standard fixes (damping, line search, regularised Hessians), its
# classic use in statistics (logistic regression by iteratively reweighted least squares) against
# gradient descent and L-BFGS on real data, and the Hessian-free tools that carry second-order ideas
# to large models. It closes with why Newton's *local* speed makes a good starting point, such as a
# model trained on a related task, so valuable: the theme of Part II.
#
# **In one line:** Newton's method, its quadratic convergence, its failures and fixes, and IRLS.
#
# **Learning objectives.** After this notebook you can
# 1. derive Newton's method for roots and for minima from a Taylor expansion, and recognise quadratic convergence;
# 2. explain why Newton takes one step on a quadratic and fails on an indefinite Hessian or from far away;
# 3. write Newton's method with damping, a backtracking line search and a regularised Hessian, and say what
#    each fixes;
# 4. fit logistic regression by Newton (IRLS) and compare it with GD and L-BFGS in iterations and time;
# 5. solve a Newton system with Hessian-vector products and conjugate gradient, without forming the Hessian.
#
# **Prerequisites.** Notebooks 01 (Hessians, Hessian-vector products) and 02 (gradient descent,
# condition numbers); solving linear systems; eigenvalues.
#
# **Run time:** quick profile about 15 s on a 2-core laptop CPU; full profile the same experiments
# with more seeds and starts (under a minute on any device; it is CPU-bound).

# %% [markdown]
# ## Setup
#
# One setup cell: explicit imports from `transfer_utils`, the device, profile and seed. Newton's
# method lives in `transfer_utils.calculus.newton`; the first-order methods we compare it with in
# `transfer_utils.calculus.optim`.

# %%
# On Colab only, install the course when it is missing (scripts/badges.py writes the address, from pyproject.toml).
import importlib.util, subprocess, sys  # noqa: E401
if "google.colab" in sys.modules and importlib.util.find_spec("transfer_utils") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "git+https://github.com/PLACEHOLDER-ORG/calculus-in-transfer-learning@main"], check=True)

import math
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import mpmath
import numpy as np
import scipy.optimize
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from IPython.display import display
from tqdm.auto import tqdm

from transfer_utils.calculus import irls as tu_irls  # the package's IRLS, next to the one built here
from transfer_utils.calculus import newton as tu_newton  # the package's Newton methods, next to the ones built here
from transfer_utils.core.device import device_report, get_device
from transfer_utils.calculus.landscapes import four_wells, logistic_loss, quadratic_with_condition
from transfer_utils.calculus.newton import SingularHessianError, hessian, hvp, newton_root
from transfer_utils.calculus.plots import plot_contour_paths, plot_convergence
from transfer_utils.calculus.optim import gradient_descent, lbfgs, optimal_gd_lr
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
# ## 1. Newton's method for roots
#
# To solve $F(x) = 0$, replace $F$ near the current guess by its tangent line,
# $F(x_k + p) \approx F(x_k) + F'(x_k)\,p$, and solve the linear model exactly:
# $$x_{k+1} = x_k - \frac{F(x_k)}{F'(x_k)} \qquad\Big(\text{in } \mathbb{R}^d:\ x_{k+1} = x_k - J_F(x_k)^{-1}F(x_k)\Big).$$
# If $F(r) = 0$, $F'(r) \ne 0$ and $F$ is twice differentiable, a second-order Taylor expansion of
# $F$ around $x_k$ evaluated at $r$ gives $e_{k+1} = x_{k+1} - r = \frac{F''(\xi)}{2F'(x_k)} e_k^2$, so
# $$\frac{|e_{k+1}|}{|e_k|^2} \to C = \left|\frac{F''(r)}{2F'(r)}\right| :$$
# **quadratic convergence**, the number of correct digits roughly doubling at each step once
# $C|e_k| < 1$. We watch it on $F(x) = \cos x - x$, whose root is the *Dottie number*
# $r \approx 0.739085$, with $C = \cos r / (2(1 + \sin r)) \approx 0.22$. Float64 only shows three or
# four doublings before it runs out of digits, so we also run the same three lines of Newton with
# 250 significant digits (`mpmath`).

# %% [markdown] slideshow={"slide_type": "notes"}
# Derive quadratic convergence from the Taylor expansion with remainder. Ask the class how many
# correct digits they expect after each step, then show the figure where the digits double.

# %%
mpmath.mp.dps = 250
r_mp = mpmath.findroot(lambda t: mpmath.cos(t) - t, 0.7)  # a reference root to 250 digits
C_theory = float(mpmath.cos(r_mp) / (2 * (1 + mpmath.sin(r_mp))))
x_mp = mpmath.mpf(2)
errors_mp = [abs(x_mp - r_mp)]
for _ in range(7):
    x_mp = x_mp - (mpmath.cos(x_mp) - x_mp) / (-mpmath.sin(x_mp) - 1)
    errors_mp.append(abs(x_mp - r_mp))

res_root = newton_root(lambda x: torch.cos(x) - x, torch.tensor([2.0], dtype=torch.float64), tol=1e-15)
r_brent = scipy.optimize.brentq(lambda t: math.cos(t) - t, 0.0, 1.0, xtol=1e-16)
print(f"root: float64 Newton {res_root.x.item():.16f}, scipy brentq {r_brent:.16f}")
print(f"{'k':>2} {'error (250 digits)':>20} {'correct digits':>15} {'e_k+1 / e_k^2':>14}")
for k, e in enumerate(errors_mp):
    digits = -float(mpmath.log10(e)) if e > 0 else float("inf")
    ratio = float(errors_mp[k + 1] / e**2) if k + 1 < len(errors_mp) and errors_mp[k + 1] > 0 else float("nan")
    print(f"{k:>2} {mpmath.nstr(e, 5):>20} {digits:>15.1f} {ratio:>14.6f}")
print(f"predicted constant C = cos r / (2 (1 + sin r)) = {C_theory:.6f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The figure puts Newton's correct digits next to two linearly convergent methods on the same
# equation: bisection (one bit, 0.3 digits, per step) and the fixed-point iteration
# $x \leftarrow \cos x$ (a constant factor $|\sin r| \approx 0.67$ per step).

# %% slideshow={"slide_type": "-"}
bisect, lo, hi = [], 0.0, 2.0
fixed, xf = [], 2.0
for _ in range(30):
    mid = (lo + hi) / 2
    bisect.append(abs(mid - r_brent))
    lo, hi = (mid, hi) if math.cos(mid) - mid > 0 else (lo, mid)
    fixed.append(abs(xf - r_brent))
    xf = math.cos(xf)


def positive(digits):
    """Hide non-positive digit counts, which a log axis cannot show."""
    digits = np.asarray(digits, dtype=float)
    return np.where(digits > 0, digits, np.nan)


fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(positive([-float(mpmath.log10(e)) for e in errors_mp]), "o-", label="Newton (250-digit arithmetic)")
ax.plot(positive(-np.log10(np.maximum(bisect, 1e-17))), ".-", label="bisection")
ax.plot(positive(-np.log10(np.maximum(fixed, 1e-17))), ".-", label=r"fixed point $x \leftarrow \cos x$")
ax.axhline(16, color="gray", ls=":", label="float64 precision")
ax.set(xlabel="iteration k", ylabel="correct digits $-\\log_{10}|x_k - r|$", yscale="log", ylim=(0.3, 300),
       title=r"Solving $\cos x = x$ from $x_0 = 2$ (log scale: doubling is a straight line)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Check (the notebook's main claim).** The ratios $e_{k+1}/e_k^2$ settle to the predicted constant
# (within 1% from the third step on), the correct digits at least double per step once below
# $10^{-3}$, and the float64 run agrees with both the 250-digit run and scipy's bracketing solver.

# %%
ratios = [float(errors_mp[k + 1] / errors_mp[k] ** 2) for k in range(len(errors_mp) - 1) if errors_mp[k + 1] > 0]
assert len(ratios) >= 5
for rho in ratios[2:]:
    assert abs(rho / C_theory - 1) < 0.01, (rho, C_theory)
digits_seq = [-float(mpmath.log10(e)) for e in errors_mp if e > 0]
for a, b in zip(digits_seq, digits_seq[1:]):
    if a > 3:
        assert b > 1.9 * a, (a, b)
assert abs(res_root.x.item() - r_brent) < 1e-15 and abs(res_root.x.item() - float(r_mp)) < 1e-15
assert res_root.n_iter <= 6

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Newton's method for minima
#
# For minimisation, apply the same idea to the gradient ($F = \nabla f$, $J_F = \nabla^2 f$), or,
# equivalently, minimise the second-order Taylor model
# $$m_k(p) = f(x_k) + \nabla f(x_k)^\top p + \tfrac12 p^\top \nabla^2 f(x_k)\,p
#   \quad\Longrightarrow\quad p_k = -\big[\nabla^2 f(x_k)\big]^{-1}\nabla f(x_k).$$
# If $f$ is itself quadratic, the model is exact and **one step lands on the minimiser**, whatever the
# condition number, where GD would need about $\frac{\kappa}{2}\log(1/\text{tol})$ steps. We check it on
# a 20-dimensional quadratic with $\kappa = 10^4$.

# %%
q = quadratic_with_condition(1e4, d=20, generator=generator)
x0 = q.x_star + torch.randn(20, generator=generator, dtype=torch.float64)
one = tu_newton.newton_minimize(q, x0, tol=1e-9)
lr_gd, rho_gd = optimal_gd_lr(q.L, q.mu)
gd_needed = math.ceil(math.log(1e-9 / one.grad_norms[0]) / math.log(rho_gd))
print(f"Newton: {one.n_iter} step, |x_1 - x*| = {(one.x - q.x_star).norm().item():.1e}; "
      f"GD at its best step would need about {gd_needed:,} steps")
assert one.n_iter == 1 and one.converged
torch.testing.assert_close(one.x, q.x_star)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Where Newton breaks, and the fixes
#
# Newton solves $\nabla f = 0$; it does not know whether it is looking for a minimum. When the
# Hessian is **indefinite** (or negative definite) the step $-H^{-1}\nabla f$ need not be a descent
# direction, and the iteration converges just as happily to a saddle or a maximum. And far from a
# solution the quadratic model can be a poor guide, so a full step can overshoot. Three fixes:
#
# * **Damping / regularised Hessian.** Solve $(H + \lambda I)p = -\nabla f$. If $\lambda > -\lambda_{\min}(H)$
#   the matrix is positive definite and $p$ is a descent direction; large $\lambda$ turns the step into
#   a short gradient step $-\nabla f/\lambda$ (Levenberg, 1944; Marquardt, 1963). `damping=` uses a
#   fixed $\lambda$; `regularize=True` picks, at each step,
#   $\lambda_k = \max(\lambda,\ \mu - \lambda_{\min}(H_k),\ -2\lambda_{\min}(H_k))$ with $\mu = 10^{-6}$, so
#   that every eigenvalue of $H_k + \lambda_k I$ is at least $\max(\mu, |\lambda_{\min}|)$.
# * **Backtracking line search.** Take $x_{k+1} = x_k + t p_k$ with the largest $t\in\{1, \frac12, \frac14, \dots\}$
#   satisfying Armijo's condition $f(x_k + tp_k) \le f(x_k) + c_1 t\,\nabla f^\top p_k$ (Armijo, 1966);
#   when $p_k$ is not a descent direction, fall back to $-\nabla f$.
# * Together they give a globally convergent method that still takes full Newton steps, and converges
#   quadratically, near a minimum with positive-definite Hessian.
#
# Here is the whole method, written out: the Newton step solves the linear system $(H + \lambda I)p = -\nabla f$
# (never an explicit inverse), and the line search halves $t$ until Armijo's condition holds.

# %% [markdown] slideshow={"slide_type": "notes"}
# Newton is not safe by default: it goes to any stationary point. Ask which fix handles which
# failure (damping, line search, a modified Hessian) before showing the contour plot.

# %%
def armijo_backtrack(f, x, g, p, *, c1=1e-4, shrink=0.5):
    """The largest t in 1, shrink, shrink^2, ... with f(x + t p) <= f(x) + c1 t g.p (Armijo)."""
    t = 1.0
    while f(x + t * p) > f(x) + c1 * t * (g @ p):
        t *= shrink
    return t


def newton_minimize(f, x0, *, max_iter, damping=0.0, regularize=False, line_search=False, min_eig=1e-6):
    """Newton's method with damping, a regularised Hessian and a line search; every iterate."""
    xs = [x0]
    for _ in range(max_iter):
        x = xs[-1]
        g, H = torch.func.grad(f)(x), torch.func.hessian(f)(x)
        lam = damping
        if regularize:  # shift H until it is positive definite
            lam_min = torch.linalg.eigvalsh(H)[0].item()
            lam = max(lam, min_eig - lam_min, -2 * lam_min)
        p = torch.linalg.solve(H + lam * torch.eye(len(x), dtype=x.dtype), -g)  # the Newton step
        t = 1.0
        if line_search:
            if g @ p >= 0:  # not a descent direction: fall back to steepest descent
                p = -g
            t = armijo_backtrack(f, x, g, p)
        xs.append(x + t * p)
    return torch.stack(xs)


# %% [markdown]
# **Check.** From $(0.2, 0.2)$ on the four-wells function below (a start near a maximum, where the
# Hessian is indefinite) each combination of fixes takes the same steps as the package's
# `tu_newton.newton_minimize`, for as many steps as the package needs to reach $\|\nabla f\| \le 10^{-6}$.
# The package adds stopping rules and a guard for the last steps, where $f$ changes by less than its
# rounding error and Armijo's test compares noise; stopping at $10^{-6}$ keeps every comparison here
# far above that level. The two
# perform the same floating-point operations, so the tolerance $10^{-12}$ (about 5,000 units of
# float64's rounding unit) only leaves room for autograd summing in another order.

# %%
x_ws = torch.tensor([0.2, 0.2], dtype=torch.float64)
for options in ({}, {"damping": 5.0}, {"line_search": True}, {"regularize": True, "line_search": True}):
    steps = tu_newton.newton_minimize(four_wells, x_ws, tol=1e-6, max_iter=100, **options).n_iter
    torch.testing.assert_close(newton_minimize(four_wells, x_ws, max_iter=steps, **options),
                               tu_newton.newton_minimize(four_wells, x_ws, tol=0.0, max_iter=steps, **options).xs,
                               rtol=1e-12, atol=1e-12)

# %% [markdown]
# First, a singular Hessian: $f(x) = (x_1 - x_2)^2 + x_1$ has a Hessian of rank one. Newton's system
# has no solution; the solver says so and suggests damping.

# %%
try:
    tu_newton.newton_minimize(lambda x: (x[0] - x[1]) ** 2 + x[0], [1.0, 0.0])
    raise AssertionError("a singular Hessian should have been reported")
except SingularHessianError as error:
    print("SingularHessianError:", error)

# %% [markdown]
# Next, the four-wells function from notebook 02 (four minima, four saddles, one maximum). From
# starts near its central maximum and near its saddles, pure Newton converges to those critical
# points; each fix converges to a minimum. We classify every end point by its Hessian.

# %%
def end_type(x):
    """'minimum', 'maximum' or 'saddle' from the eigenvalues of the Hessian of four_wells at x."""
    eig = torch.linalg.eigvalsh(hessian(four_wells, x))
    return "minimum" if eig.min() > 0 else "maximum" if eig.max() < 0 else "saddle"


starts = [[0.2, 0.2], [-0.3, 0.1], [0.1, 0.9], [1.1, -0.2], [-0.2, -1.1]]
fixes = {
    "pure Newton": {},
    "damping = 5": {"damping": 5.0},
    "line search": {"line_search": True},
    "regularised + line search": {"regularize": True, "line_search": True},
}
outcomes = {name: [] for name in fixes}
paths = {}
for s in starts:
    for name, kw in fixes.items():
        res = tu_newton.newton_minimize(four_wells, s, max_iter=100, **kw)
        outcomes[name].append((end_type(res.x), res.n_iter, res.values[-1] < res.values[0]))
        if s == starts[0]:
            paths[name] = res
print(f"{'start':>12} | " + " | ".join(f"{n:>26}" for n in fixes))
for i, s in enumerate(starts):
    print(f"{str(s):>12} | " + " | ".join(f"{outcomes[n][i][0]:>16} ({outcomes[n][i][1]:>2} it.)" for n in fixes))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The paths from the first start, $(0.2, 0.2)$, on the contour plot: pure Newton climbs to the
# maximum; the fixes walk downhill to a minimum.

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(6, 5.5))
plot_contour_paths(four_wells, paths, (-1.6, 1.6), (-1.6, 1.6), ax=ax, levels=30,
                   title="Newton from (0.2, 0.2): pure and safeguarded")
plt.show()

# %% [markdown]
# **Check.** Pure Newton ends at a maximum or saddle from every one of these starts. A fixed damping
# $\lambda = 5 > |\lambda_{\min}|$ and the regularised Hessian with line search end at a minimum from
# every start; the fixed damping pays with slow, linear final convergence (in the table above, more
# than twice as many iterations as the regularised Hessian from every start), because it never stops
# perturbing the Hessian. The line search *alone* is not
# enough: it guarantees that $f$ decreases, so it can never end at the maximum, but from $(0.1, 0.9)$
# the Newton direction towards a saddle is also a descent direction, and it converges there. Only
# modifying the Hessian removes the attraction of saddles.

# %%
assert all(kind != "minimum" for kind, _, _ in outcomes["pure Newton"])
for name in ("damping = 5", "regularised + line search"):
    assert all(kind == "minimum" and lowered for kind, _, lowered in outcomes[name]), (name, outcomes[name])
assert all(kind != "maximum" and lowered for kind, _, lowered in outcomes["line search"])
assert any(kind == "saddle" for kind, _, _ in outcomes["line search"])
damped_iters = [k for _, k, _ in outcomes["damping = 5"]]
regularised_iters = [k for _, k, _ in outcomes["regularised + line search"]]
assert min(damped_iters) > 2 * max(regularised_iters), (damped_iters, regularised_iters)

# %% [markdown]
# ### Sliders: start point and damping
#
# Damped Newton, $(H + \lambda I)p = -\nabla f$, on the four-wells function from a start you choose.
# The title says where the run ends (classified by the Hessian there) and after how many
# iterations. Try the first start of the table, $(0.2, 0.2)$: with $\lambda = 0$ Newton climbs to
# the maximum; raise $\lambda$ and watch the end point switch to a minimum once the damping
# outweighs the negative curvature near the origin (the Hessian there is $\mathrm{diag}(-4, -4)$),
# while the iteration count grows. Then start near a minimum, e.g. $(1.2, 1.2)$: pure Newton is the
# fastest, and every bit of damping only slows it down.

# %%
last_newton = {}  # what the latest redraw computed, so we can check that the sliders drive it


def draw_damped_newton(x0=0.2, y0=0.2, damping=0.0):
    """Contours of four_wells and the damped Newton path from (x0, y0), to a gradient norm of 1e-8."""
    res = tu_newton.newton_minimize(four_wells, [x0, y0], damping=damping, tol=1e-8, max_iter=100)
    kind = end_type(res.x)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    plot_contour_paths(four_wells, {f"$\\lambda$ = {damping:g}": res.xs.clamp(-1.6, 1.6)}, (-1.6, 1.6), (-1.6, 1.6),
                       ax=ax, levels=30, title=f"ends at a {kind} after {res.n_iter} iterations")
    plt.show()
    last_newton.update(start=(x0, y0), damping=damping, kind=kind, n_iter=res.n_iter, status=res.status)


def newton_sliders():
    """Three sliders (start x, start y, damping), wired to `draw_damped_newton`."""
    return widgets.interactive(
        draw_damped_newton,
        x0=widgets.FloatSlider(value=0.2, min=-1.5, max=1.5, step=0.1, description="start x"),
        y0=widgets.FloatSlider(value=0.2, min=-1.5, max=1.5, step=0.1, description="start y"),
        damping=widgets.FloatSlider(value=0.0, min=0.0, max=8.0, step=0.5, description="damping"),
    )


display(newton_sliders())

# %% [markdown]
# **Check.** Driving a second, hidden set of the same sliders from code redraws the run: from
# $(0.2, 0.2)$ pure Newton ends at the maximum and $\lambda = 5$ at a minimum; from $(1.2, 1.2)$
# both reach a minimum, and the damped run needs more iterations.

# %%
check_newton = newton_sliders()  # the same sliders and drawing function, not displayed
x_box, y_box, damping_box = check_newton.children[:3]
assert last_newton["start"] == (0.2, 0.2) and last_newton["kind"] == "maximum"
damping_box.value = 5.0
assert last_newton["damping"] == 5.0 and last_newton["kind"] == "minimum" and last_newton["status"] == "converged"
x_box.value, y_box.value = 1.2, 1.2
damped_near = last_newton["n_iter"]
damping_box.value = 0.0
assert last_newton["start"] == (1.2, 1.2) and last_newton["kind"] == "minimum"
assert last_newton["n_iter"] < damped_near, (last_newton, damped_near)
print("slider checks passed:", last_newton, "damped from (1.2, 1.2):", damped_near, "iterations")

# %% [markdown]
# A far start on a convex function is the other failure. For $f(x) = \sqrt{1 + x^2}$ (convex, minimum
# at 0) the gradient is $x/\sqrt{1+x^2}$ and the Hessian $(1+x^2)^{-3/2}$, so the Newton step maps $x$
# to $-x^3$: cubic convergence for $|x_0| < 1$, divergence for $|x_0| > 1$. The line search rescues it.

# %%
def soft_abs(x):
    return torch.sqrt(1 + x**2).sum()


near = tu_newton.newton_minimize(soft_abs, [0.9], tol=1e-12)
far = tu_newton.newton_minimize(soft_abs, [1.1], max_iter=4, tol=0.0)
print(f"from x0 = 0.9 pure Newton: {near.n_iter} iterations, iterates {near.xs[:4, 0].numpy().round(4)}")
print(f"from x0 = 1.1 pure Newton: iterates {far.xs[:, 0].numpy().round(3)}")
try:
    tu_newton.newton_minimize(soft_abs, [1.1], max_iter=50)
    raise AssertionError("pure Newton from 1.1 should fail")
except (SingularHessianError, FloatingPointError) as error:  # the Hessian underflows to 0 at |x| ~ 1e10
    print("run on, it stops with", type(error).__name__ + ":", error)
rescued = tu_newton.newton_minimize(soft_abs, [1.1], line_search=True, tol=1e-12)
print(f"from x0 = 1.1 with line search: {rescued.n_iter} iterations, steps t_k = {rescued.extra['step']}")

# %% [markdown]
# **Check.** The Newton step is exactly $x \mapsto -x^3$; from 0.9 it converges, from 1.1 the iterates
# grow without bound, and with the line search the same start converges to the minimum.

# %%
torch.testing.assert_close(near.xs[1:], -near.xs[:-1] ** 3)
torch.testing.assert_close(far.xs[1:], -far.xs[:-1] ** 3)
assert all(abs(a) < abs(b) for a, b in zip(far.xs[:-1, 0], far.xs[1:, 0])) and abs(far.x.item()) > 1e3
assert near.converged and rescued.converged and abs(rescued.x.item()) < 1e-10

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Logistic regression by Newton (IRLS) against GD and L-BFGS
#
# For L2-regularised logistic regression with labels $y_i\in\{0,1\}$ and $p = \sigma(Xw)$,
# $$f(w) = \frac1n\sum_i\big[\log(1 + e^{x_i^\top w}) - y_i x_i^\top w\big] + \frac{\ell_2}{2}\|w\|^2,\quad
#   \nabla f = \frac1n X^\top(p - y) + \ell_2 w,\quad \nabla^2 f = \frac1n X^\top W X + \ell_2 I,$$
# with $W = \operatorname{diag}(p_i(1-p_i))$. The Hessian is positive definite, so pure Newton is safe
# near the solution, and each Newton step is a weighted least-squares problem: **iteratively
# reweighted least squares** (IRLS), the standard fitting algorithm for generalised linear models.
# IRLS forms $X^\top W X$ in closed form (the loop below; `tu_irls.logistic_irls` in the package);
# `newton_minimize` gets the same Hessian from autograd. Between Newton and GD sits **L-BFGS** (Liu
# and Nocedal, 1989), which builds a low-rank approximation of the inverse Hessian from the last few
# gradient differences.

# %%
def logistic_irls(X, y, *, l2, max_iter):
    """Newton's method for L2-regularised logistic regression from w = 0; every iterate."""
    n, d = X.shape
    ws = [torch.zeros(d, dtype=X.dtype)]
    for _ in range(max_iter):
        w = ws[-1]
        p = torch.sigmoid(X @ w)
        g = X.T @ (p - y) / n + l2 * w  # the gradient
        H = (X.T * (p * (1 - p))) @ X / n + l2 * torch.eye(d, dtype=X.dtype)  # X^T W X / n + l2 I
        ws.append(w + torch.linalg.solve(H, -g))
    return torch.stack(ws)


# %% [markdown]
# Two real data sets ship with scikit-learn: breast cancer (569 tumours, 30 features) and the 8x8
# digits (1,797 images, 64 pixels; task: digit $\ge 5$). Features are standardised, an intercept
# column added, $\ell_2 = 10^{-2}$, and every method runs until $\|\nabla f\| \le 10^{-7}$. Why not
# smaller? A step that removes a gradient $g$ along a direction of curvature $\lambda$ lowers $f$ by
# about $\|g\|^2/(2\lambda)$; along the flattest direction ($\lambda \approx \ell_2$) and at
# $\|g\| = 10^{-8}$ that is $5\times10^{-15}$, the size of the rounding error in computing
# $f \approx 0.3$. A method that must *see* $f$ decrease, like L-BFGS with its line search, cannot
# certify a much smaller gradient; $10^{-7}$ leaves a factor 10 (every method reached it on every
# CPU kernel set of the claims sweep). Strong convexity ($\nabla^2 f \succeq \ell_2 I$) turns it
# into a distance: $\|w - w^\star\| \le \|\nabla f(w)\|/\ell_2 \le 10^{-5}$.

# %%
def design(features, labels):
    """Standardised features with an intercept column, and float labels."""
    X = torch.tensor(features, dtype=torch.float64)
    std = X.std(0)
    std[std == 0] = 1.0
    X = torch.cat([(X - X.mean(0)) / std, torch.ones(len(X), 1, dtype=torch.float64)], dim=1)
    return X, torch.tensor(labels, dtype=torch.float64)


cancer, digits = load_breast_cancer(), load_digits()
datasets = {"breast cancer": design(cancer.data, cancer.target),
            "digits (>= 5)": design(digits.data, (digits.target >= 5).astype(float))}
l2, tol = 1e-2, 1e-7
max_gd = profile.pick(quick=5000, full=50000)
comparison, curves = {}, {}
for dname, (X, y) in tqdm(datasets.items(), desc="data sets"):
    n, d = X.shape
    f = lambda w, X=X, y=y: logistic_loss(w, X, y, l2)  # noqa: E731
    L = torch.linalg.eigvalsh(X.T @ X / n)[-1].item() / 4 + l2
    w0 = torch.zeros(d, dtype=torch.float64)
    tu_newton.newton_minimize(f, w0, max_iter=1)  # warm up torch.func once, so that timings are fair
    methods = {
        "Newton (IRLS, closed-form Hessian)": lambda: tu_irls.logistic_irls(X, y, l2=l2, tol=tol),
        "Newton (autograd Hessian)": lambda: tu_newton.newton_minimize(f, w0, tol=tol),
        "L-BFGS (m = 10)": lambda: lbfgs(f, w0, tol=tol, max_iter=1000),
        "GD (lr = 1/L)": lambda: gradient_descent(f, w0, lr=1 / L, tol=tol, max_iter=max_gd),
    }
    for mname, run in methods.items():
        start = time.perf_counter()
        res = run()
        seconds = time.perf_counter() - start
        comparison[dname, mname] = (res, seconds)
    curves[dname] = {m: np.array(comparison[dname, m][0].grad_norms) for m in methods}
    sk = LogisticRegression(C=1 / (l2 * n), fit_intercept=False, tol=1e-12, max_iter=10_000).fit(X.numpy(), y.numpy())
    comparison[dname, "sklearn"] = sk.coef_.ravel()
    print(f"{dname}: n = {n}, d = {d}, kappa <= L/l2 = {L / l2:.0f}")

print(f"\n{'data':14s} {'method':36s} {'iterations':>10} {'time (s)':>9} {'ms / iteration':>15} {'converged':>9}")
for (dname, mname), value in comparison.items():
    if mname == "sklearn":
        continue
    res, seconds = value
    print(f"{dname:14s} {mname:36s} {res.n_iter:>10} {seconds:>9.3f} {1e3 * seconds / max(res.n_iter, 1):>15.2f} {str(res.converged):>9}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The gradient norm against the iteration (left) and against wall-clock time (right) on the digits:
# Newton's curve falls off a cliff after a few steps, L-BFGS is superlinear, GD is linear.

# %% slideshow={"slide_type": "-"}
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
dname = "digits (>= 5)"
plot_convergence(curves[dname], x={m: np.arange(1, len(c) + 1) for m, c in curves[dname].items()}, ax=axes[0],
                 ylabel=r"$\|\nabla f(w_k)\|$", xlabel="iteration k + 1", title=f"{dname}: per iteration")
axes[0].set_xscale("log")
times = {m: np.linspace(0, comparison[dname, m][1], len(curves[dname][m])) for m in curves[dname]}
plot_convergence(curves[dname], x=times, ax=axes[1], ylabel=r"$\|\nabla f(w_k)\|$", xlabel="wall time (s)",
                 title=f"{dname}: per second (iterations spread evenly)")
plt.show()

# %% [markdown]
# **Check.** The IRLS loop above takes the same steps as the package's `tu_irls.logistic_irls` on
# both data sets, for as many steps as the package needs to reach the tolerance (same operations:
# tolerance $10^{-12}$, as for `newton_minimize`).

# %%
for X_d, y_d in datasets.values():
    steps = tu_irls.logistic_irls(X_d, y_d, l2=l2, tol=tol).n_iter
    torch.testing.assert_close(logistic_irls(X_d, y_d, l2=l2, max_iter=steps),
                               tu_irls.logistic_irls(X_d, y_d, l2=l2, tol=0.0, max_iter=steps).xs,
                               rtol=1e-12, atol=1e-12)

# %% [markdown]
# **Check.** All methods agree on the solution (with each other and with scikit-learn's solver, to
# within $2\,\text{tol}/\ell_2$, the most two points with $\|\nabla f\| \le \text{tol}$ can differ); both
# Newton variants take the same, very small number of iterations (at most 15); L-BFGS needs more
# but at least 5 times fewer than GD, which needs more than a thousand. Wall time depends on this
# machine's load, so it is reported, not asserted: a Newton iteration costs a $d\times d$ solve plus
# forming $X^\top WX$ ($O(nd^2)$), an L-BFGS or GD iteration $O(nd)$; the table above has this run's
# timings to set against these costs.

# %%
for dname in datasets:
    irls, _ = comparison[dname, "Newton (IRLS, closed-form Hessian)"]
    auto, _ = comparison[dname, "Newton (autograd Hessian)"]
    quasi, _ = comparison[dname, "L-BFGS (m = 10)"]
    gd, _ = comparison[dname, "GD (lr = 1/L)"]
    assert all(r.converged for r in (irls, auto, quasi, gd)), dname
    for r in (auto, quasi, gd):
        torch.testing.assert_close(r.x, irls.x, atol=2 * tol / l2, rtol=0)
    np.testing.assert_allclose(irls.x.numpy(), comparison[dname, "sklearn"], atol=2 * tol / l2)
    assert irls.n_iter == auto.n_iter <= 15
    assert irls.n_iter < quasi.n_iter and 5 * quasi.n_iter < gd.n_iter, (dname, quasi.n_iter, gd.n_iter)
    torch.testing.assert_close(irls.xs, auto.xs, atol=1e-9, rtol=0)  # the same iterates
print("solutions agree; iterations (IRLS, L-BFGS, GD):",
      {dn: [comparison[dn, m][0].n_iter for m in ("Newton (IRLS, closed-form Hessian)", "L-BFGS (m = 10)", "GD (lr = 1/L)")]
       for dn in datasets})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Hessian-free: Hessian-vector products and conjugate gradient
#
# For a network with $d = 10^7$ weights the Hessian has $10^{14}$ entries: it cannot be formed, let
# alone factorised. But the Newton system $Hp = -\nabla f$ can be solved by **conjugate gradient**
# (Hestenes and Stiefel, 1952), which touches $H$ only through products $Hv$, and those cost two
# backward passes (notebook 01): $Hv = \nabla\big(\nabla f^\top v\big)$. CG needs at most $d$ products
# in exact arithmetic, and its error falls like $2\big(\frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}\big)^k$, so
# a handful often suffices (*truncated Newton*, Newton-CG; Martens, 2010, for deep networks).
#
# CG for $Ax = b$ ($A$ symmetric positive definite) starts at $x_0 = 0$ with the residual
# $r_0 = b$ as the first direction $p_0$, and repeats: step along $p_k$ to the minimum of
# $\frac12 x^\top Ax - b^\top x$ on that line, $\alpha_k = r_k^\top r_k / p_k^\top Ap_k$,
# $x_{k+1} = x_k + \alpha_k p_k$, $r_{k+1} = r_k - \alpha_k Ap_k$; then make the next direction
# $A$-conjugate to the previous ones, $p_{k+1} = r_{k+1} + \frac{r_{k+1}^\top r_{k+1}}{r_k^\top r_k}\,p_k$.
# One product $Ap_k$ per step:

# %%
def conjugate_gradient(matvec, b, *, tol):
    """Solve A x = b for symmetric positive-definite A given as v -> A v; (x, residual norms)."""
    x, r = torch.zeros_like(b), b.clone()
    p, rr = r.clone(), r @ r
    residuals = [rr.sqrt().item()]
    for _ in range(2 * len(b)):
        if residuals[-1] <= tol * b.norm():
            break
        Ap = matvec(p)
        alpha = rr / (p @ Ap)
        x, r = x + alpha * p, r - alpha * Ap
        rr_new = r @ r
        p, rr = r + (rr_new / rr) * p, rr_new
        residuals.append(rr.sqrt().item())
    return x, residuals


# %% [markdown]
# On the digits problem at $w = 0$ we check `hvp` against the explicit Hessian and solve the Newton
# system by the package's CG, recording the residual.

# %%
X, y = datasets["digits (>= 5)"]
n, d = X.shape
f_dig = lambda w: logistic_loss(w, X, y, l2)  # noqa: E731
w = torch.zeros(d, dtype=torch.float64)
g = torch.func.grad(f_dig)(w)
H = hessian(f_dig, w)
v = torch.randn(d, generator=generator, dtype=torch.float64)
torch.testing.assert_close(hvp(f_dig, w, v), H @ v)
p_cg, residuals = tu_newton.conjugate_gradient(lambda u: hvp(f_dig, w, u), -g, tol=1e-10)
p_direct = torch.linalg.solve(H, -g)
eig = torch.linalg.eigvalsh(H)
kappa_H = (eig[-1] / eig[0]).item()
bound = [2 * ((math.sqrt(kappa_H) - 1) / (math.sqrt(kappa_H) + 1)) ** k for k in range(len(residuals))]
print(f"d = {d}, kappa(H) = {kappa_H:.0f}; CG used {len(residuals) - 1} Hessian-vector products; "
      f"|p_cg - p_direct| = {(p_cg - p_direct).norm().item():.1e}")

# %% [markdown]
# **Check.** The CG loop above returns the same solution and the same residuals as the package's
# `tu_newton.conjugate_gradient` on this system, step for step (the same operations: tolerance
# $10^{-12}$, as in section 3).

# %%
torch.testing.assert_close(conjugate_gradient(lambda u: hvp(f_dig, w, u), -g, tol=1e-10),
                           tu_newton.conjugate_gradient(lambda u: hvp(f_dig, w, u), -g, tol=1e-10),
                           rtol=1e-12, atol=1e-12)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The relative residual of CG against the number of Hessian-vector products, with the
# $\sqrt\kappa$ bound (an upper bound for the error in the $H$-norm; the residual tracks it loosely).
# CG does much better than the bound because the spectrum is clustered.

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogy(np.array(residuals) / residuals[0], "o-", ms=3, label="CG relative residual")
ax.semilogy(bound, "--", label=r"$2((\sqrt{\kappa}-1)/(\sqrt{\kappa}+1))^k$")
ax.set(xlabel="Hessian-vector products", ylabel="relative residual", title="Newton system by conjugate gradient",
       ylim=(1e-12, 10))
ax.legend()
plt.show()

# %% [markdown]
# **Check.** CG's step equals the direct solve, using fewer products than the dimension. A full
# Newton-CG run (a few CG steps per Newton iteration, starting from $w = 0$) reaches the same
# solution as IRLS.

# %%
torch.testing.assert_close(p_cg, p_direct, atol=1e-8, rtol=0)
assert len(residuals) - 1 < d
w_ncg = torch.zeros(d, dtype=torch.float64)
products = 0
for it in range(20):
    g = torch.func.grad(f_dig)(w_ncg)
    if g.norm() <= tol:
        break
    step, res_cg = tu_newton.conjugate_gradient(lambda u, w_at=w_ncg: hvp(f_dig, w_at, u), -g, tol=min(0.5, g.norm().item()))
    products += len(res_cg) - 1
    w_ncg = w_ncg + step
print(f"Newton-CG: {it} Newton iterations, {products} Hessian-vector products in total, "
      f"|w - w_IRLS| = {(w_ncg - comparison['digits (>= 5)', 'Newton (IRLS, closed-form Hessian)'][0].x).norm().item():.1e}")
torch.testing.assert_close(w_ncg, comparison["digits (>= 5)", "Newton (IRLS, closed-form Hessian)"][0].x,
                           atol=2 * tol / l2, rtol=0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Why the starting point matters: towards transfer
#
# Newton's quadratic convergence is **local**: once $C\|e_k\| < 1$ the digits double, but getting
# there can take many damped steps. Counting Newton iterations on the breast-cancer problem from
# starts $w_0 = (1 - t)\,w^\star$ at shrinking distances $t$ from the solution makes this concrete.
# A model trained on a related task is exactly such a start: if the source and target solutions are
# close, fitting the target from the source's weights (a *warm start*) saves most of the work. Whether
# they are close is the question Part II asks; notebook 04 measures it on real domain shifts.

# %% [markdown] slideshow={"slide_type": "notes"}
# The bridge to transfer: a start close to the solution costs fewer Newton iterations. Ask where a
# good start would come from; the answer, a related source problem, is the subject of Part II.

# %%
X, y = datasets["breast cancer"]
f_bc = lambda w: logistic_loss(w, X, y, l2)  # noqa: E731
w_star = comparison["breast cancer", "Newton (IRLS, closed-form Hessian)"][0].x
distances = [1.0, 0.5, 0.2, 0.05, 0.01, 1e-3]
iters = {t: tu_newton.newton_minimize(f_bc, (1 - t) * w_star, tol=1e-10, line_search=True).n_iter for t in distances}
gd_iters = {t: gradient_descent(f_bc, (1 - t) * w_star, lr=1 / (torch.linalg.eigvalsh(X.T @ X / len(y))[-1].item() / 4 + l2),
                                tol=1e-6, max_iter=max_gd).n_iter for t in (1.0, 0.01)}
for t, k in iters.items():
    print(f"start at relative distance {t:>6}: {k} Newton iterations")
print(f"GD to |grad| <= 1e-6: {gd_iters[1.0]} iterations from w = 0, {gd_iters[0.01]} from 1% away")

# %% [markdown]
# **Check.** Iterations never increase as the start approaches the solution, and the closest start
# needs at most half as many as the cold start $w_0 = 0$; for GD, with its linear rate, the saving is
# smaller in proportion ($\log$ of the distance, not $\log\log$) but large in absolute terms.

# %%
ks = [iters[t] for t in distances]
assert all(a >= b for a, b in zip(ks, ks[1:])), ks
assert 2 * iters[1e-3] <= iters[1.0]
assert gd_iters[0.01] < gd_iters[1.0]

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * Newton's method replaces $F$ (or $\nabla f$) by its linearisation and solves it exactly. Near a
#   regular root it converges quadratically: we measured $e_{k+1}/e_k^2 \to |F''/(2F')|$ to within 1%
#   and watched the digits double up to about 190. On a quadratic it takes exactly one step, at any $\kappa$.
# * It finds critical points, not minima: with an indefinite Hessian it converged to maxima and
#   saddles, and from a far start it diverged. A line search fixes divergence and maxima but not
#   saddles; modifying the Hessian (damping, or a shift by $-2\lambda_{\min}$) fixes those too. A
#   singular Hessian is reported with the advice to damp.
# * On logistic regression (IRLS) Newton needed under 10 iterations where L-BFGS needed tens and GD
#   thousands; its iterations are the most expensive, $O(nd^2 + d^3)$, which is why it wins for
#   moderate $d$ and loses for networks.
# * Hessian-vector products (two backward passes) and conjugate gradient solve Newton systems without
#   forming the Hessian.
# * Newton is fastest near the solution: a good start, such as a related task's solution, turns many
#   iterations into a few. That is the calculus behind warm starts in transfer learning (notebook 04).

# %% [markdown]
# ## Exercises
#
# **1.** Apply Newton's method to $F(x) = x^2$ (a double root at 0). Show that the convergence is only
# linear, with factor $1/2$, and explain why the theorem does not apply. How does the modification
# $x_{k+1} = x_k - 2F(x_k)/F'(x_k)$ behave?
#
# <details><summary>Solution</summary>
#
# $x_{k+1} = x_k - x_k^2/(2x_k) = x_k/2$: linear with factor $1/2$. The quadratic-convergence theorem
# needs $F'(r) \ne 0$; at a double root $F'(0) = 0$ and the constant $F''/(2F')$ blows up. With
# the multiplicity $m = 2$ built in, $x_{k+1} = x_k - 2x_k^2/(2x_k) = 0$: exact in one step (for a
# general root of multiplicity $m$, $x - mF/F'$ restores quadratic convergence).
#
# ```python
# res = newton_root(lambda x: x**2, torch.tensor([1.0], dtype=torch.float64), max_iter=10)
# print(res.xs.ravel())   # 1, 0.5, 0.25, ...
# ```
# </details>
#
# *Runnable:* for $F(x) = (x - r)^p$ (a root of multiplicity $p$) write `newton_iterates(r, p, x0,
# num_steps, m)`, the iterates $x_0, \dots, x_K$ of the modified step $x_{k+1} = x_k - mF(x_k)/F'(x_k)$
# with $F'$ from autograd. The check compares them with the closed form
# $x_k - r = (1 - m/p)^k (x_0 - r)$ (derive it: the step maps $x - r$ to $(1 - m/p)(x - r)$), so $m = 1$
# is linear with factor $1 - 1/p$ and $m = p$ exact in one step.

# %% tags=["exercise"]
def newton_iterates(r: float, p: int, x0: float, num_steps: int, m: int = 1) -> torch.Tensor:
    """Return the float64 tensor [x_0, ..., x_num_steps] of x <- x - m F(x)/F'(x), F(x) = (x - r)**p,
    with F'(x) computed by torch.autograd."""
    raise NotImplementedError("loop num_steps times: F'(x) by torch.autograd.grad, then the step")


# %% tags=["solution"]
def newton_iterates(r: float, p: int, x0: float, num_steps: int, m: int = 1) -> torch.Tensor:
    """Return the float64 tensor [x_0, ..., x_num_steps] of x <- x - m F(x)/F'(x), F(x) = (x - r)**p,
    with F'(x) computed by torch.autograd."""
    xs = [torch.tensor(x0, dtype=torch.float64)]
    for _ in range(num_steps):
        x = xs[-1].clone().requires_grad_(True)
        F = (x - r) ** p
        (dF,) = torch.autograd.grad(F, x)
        xs.append((x - m * F / dF).detach())
    return torch.stack(xs)


# %% tags=["check"]
from transfer_utils.core.exercises import check_function


def iterates_closed_form(r: float, p: int, x0: float, num_steps: int, m: int = 1) -> torch.Tensor:
    """x_k = r + (1 - m/p)^k (x0 - r)."""
    k = torch.arange(num_steps + 1, dtype=torch.float64)
    return r + (1 - m / p) ** k * (x0 - r)


fresh = torch.Generator().manual_seed(107)
cases = [(float(torch.randn((), generator=fresh, dtype=torch.float64)), p_k,
          float(4 * torch.rand((), generator=fresh, dtype=torch.float64) - 2), 8, m_k)
         for p_k, m_k in ((2, 1), (3, 1), (3, 2), (4, 3), (5, 1))]
check_function("1 (Newton at a multiple root)", newton_iterates, iterates_closed_form, cases, rtol=1e-9, atol=1e-12,
               hint="F'(x) = p (x - r)^(p - 1); return all num_steps + 1 iterates, x_0 included.")

# %% [markdown]
# **2.** Show that on $f(x) = \sqrt{1+x^2}$ the Newton step maps $x \mapsto -x^3$. What is the order of
# convergence for $|x_0| < 1$, and from which $|x_0|$ does the *line-search* version take a full step?
#
# <details><summary>Solution</summary>
#
# $f' = x(1+x^2)^{-1/2}$, $f'' = (1+x^2)^{-3/2}$, so $x - f'/f'' = x - x(1+x^2) = -x^3$: cubic
# convergence ($|e_{k+1}| = |e_k|^3$) for $|x_0| < 1$, since $f'''(0) = 0$ kills the quadratic term.
# The full step is accepted when $f(-x^3) \le f(x) + c_1 f'(x)(-x^3 - x)$, i.e. roughly when
# $|x^3| < |x|$ by a margin: $|x| < 1$ (for small $c_1$). Check with
# `tu_newton.newton_minimize(soft_abs, [x0], line_search=True).extra["step"]` for a few $x_0$.
# </details>
#
# **3.** With `regularize=True` the solver shifts the Hessian by $\lambda_k = -2\lambda_{\min}$ when
# $\lambda_{\min} < 0$. Show that the resulting step is a descent direction, and compare it with the
# *saddle-free Newton* step that replaces each eigenvalue by its absolute value (Dauphin et al., 2014).
#
# <details><summary>Solution</summary>
#
# $H + \lambda_k I$ has eigenvalues $\lambda_i - 2\lambda_{\min} \ge |\lambda_{\min}| > 0$, so it is positive
# definite and $\nabla f^\top p = -\nabla f^\top (H+\lambda_k I)^{-1}\nabla f < 0$. Saddle-free Newton
# uses $|H| = V|\Lambda|V^\top$: along negative-curvature directions it *moves away* with step
# $|g_i|/|\lambda_i|$, the same size as Newton would take towards the saddle, while the shift shrinks
# every component. On four wells from $(0.2, 0.2)$:
#
# ```python
# x = torch.tensor([0.2, 0.2], dtype=torch.float64)
# for _ in range(20):
#     lam, V = torch.linalg.eigh(hessian(four_wells, x))
#     x = x - V @ ((V.T @ torch.func.grad(four_wells)(x)) / lam.abs())
# print(x, end_type(x))
# ```
# </details>
#
# *Runnable:* write `saddle_free_step(g, H)`, the saddle-free Newton step $-|H|^{-1}g$ with
# $|H| = V|\Lambda|V^\top$ from the eigendecomposition of the symmetric $H$. The check compares it
# with the same step built from a singular value decomposition (for a symmetric matrix the singular
# values are the $|\lambda_i|$) on random indefinite Hessians.

# %% tags=["exercise"]
def saddle_free_step(g: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """Return -|H|^{-1} g, where |H| replaces each eigenvalue of the symmetric H by its absolute value."""
    raise NotImplementedError("torch.linalg.eigh(H) gives (lam, V); divide V^T g by |lam| and map back")


# %% tags=["solution"]
def saddle_free_step(g: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """Return -|H|^{-1} g, where |H| replaces each eigenvalue of the symmetric H by its absolute value."""
    lam, V = torch.linalg.eigh(H)
    return -V @ ((V.T @ g) / lam.abs())


# %% tags=["check"]
from transfer_utils.core.exercises import check_function


def saddle_free_by_svd(g: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """H = U S W^T with W = U up to the signs of the columns, so |H| = W S W^T."""
    _, S, Wt = torch.linalg.svd(H)
    return -torch.linalg.solve(Wt.T @ torch.diag(S) @ Wt, g)


fresh = torch.Generator().manual_seed(108)
cases = []
for d_k in (2, 3, 6):
    Q, _ = torch.linalg.qr(torch.randn(d_k, d_k, generator=fresh, dtype=torch.float64))
    signs = torch.where(torch.arange(d_k) % 2 == 0, 1.0, -1.0).to(torch.float64)
    lam_k = signs * (0.5 + 3 * torch.rand(d_k, generator=fresh, dtype=torch.float64))
    H_k = Q @ torch.diag(lam_k) @ Q.T
    cases.append((torch.randn(d_k, generator=fresh, dtype=torch.float64), (H_k + H_k.T) / 2))
check_function("3 (the saddle-free Newton step)", saddle_free_step, saddle_free_by_svd, cases, rtol=1e-9, atol=1e-12,
               hint="Newton's step is -H^{-1} g = -V diag(1/lam) V^T g; take |lam| instead of lam.")

# %% [markdown]
# **4.** Time one IRLS iteration and one GD iteration on synthetic logistic data with $n = 2000$ and
# $d \in \{10, 100, 400\}$. How do they scale with $d$, and at which $d$ would GD with $\kappa = 1000$
# become competitive?
#
# <details><summary>Solution</summary>
#
# ```python
# for d_syn in (10, 100, 400):
#     Xs = torch.randn(2000, d_syn, dtype=torch.float64)
#     ys = (torch.rand(2000, dtype=torch.float64) < torch.sigmoid(Xs[:, 0])).double()
#     t0 = time.perf_counter(); r = tu_irls.logistic_irls(Xs, ys, l2=1e-2, max_iter=1, tol=0.0); t1 = time.perf_counter()
#     gradient_descent(lambda w: logistic_loss(w, Xs, ys, 1e-2), torch.zeros(d_syn, dtype=torch.float64),
#                      lr=0.1, max_iter=10, tol=0.0); t2 = time.perf_counter()
#     print(d_syn, t1 - t0, (t2 - t1) / 10)
# ```
# An IRLS step costs $O(nd^2 + d^3)$, a GD step $O(nd)$. GD needs about $\kappa\log(1/\text{tol})/2$
# steps against Newton's $\sim 10$, so GD wins once $d \gtrsim \kappa$ times a constant; for $\kappa = 1000$
# that means thousands of features, which is where L-BFGS (cost $O(nd + md)$, few iterations) is the
# usual choice.
# </details>
#
# **5.** In section 6, instead of shrinking towards $w^\star$ along a line, start from the solution of
# the *same* problem with a different regularisation, $\ell_2' \in \{10^{-1}, 10^{-3}\}$. How many
# Newton iterations does each warm start save?
#
# <details><summary>Solution</summary>
#
# ```python
# for l2_source in (1e-1, 1e-3):
#     w_src = tu_irls.logistic_irls(X, y, l2=l2_source).x
#     warm = tu_newton.newton_minimize(f_bc, w_src, tol=1e-10, line_search=True).n_iter
#     cold = tu_newton.newton_minimize(f_bc, torch.zeros_like(w_src), tol=1e-10, line_search=True).n_iter
#     print(l2_source, cold, warm)
# ```
# The solution path $w^\star(\ell_2)$ is smooth, so nearby regularisation strengths give nearby solutions
# and warm starts save iterations; *continuation* (solving a sequence of problems, each from the
# previous solution) is the numerical-analysis ancestor of fine-tuning from a pretrained model.
# </details>
#
# ## References
#
# - J. Nocedal and S. J. Wright (2006). *Numerical Optimization*, 2nd ed. Springer (chapters 3, 6, 7).
# - S. Boyd and L. Vandenberghe (2004). *Convex Optimization*. Cambridge University Press (chapter 9:
#   damped Newton, backtracking, quadratic convergence).
# - L. Armijo (1966). Minimization of functions having Lipschitz continuous first partial derivatives.
#   *Pacific Journal of Mathematics* 16(1), 1-3.
# - K. Levenberg (1944). A method for the solution of certain non-linear problems in least squares.
#   *Quarterly of Applied Mathematics* 2(2), 164-168; D. W. Marquardt (1963), *SIAM Journal on
#   Applied Mathematics* 11(2), 431-441.
# - D. C. Liu and J. Nocedal (1989). On the limited memory BFGS method for large scale optimization.
#   *Mathematical Programming* 45, 503-528.
# - M. R. Hestenes and E. Stiefel (1952). Methods of conjugate gradients for solving linear systems.
#   *Journal of Research of the National Bureau of Standards* 49(6), 409-436.
# - J. Martens (2010). Deep learning via Hessian-free optimization. *ICML*.
# - P. McCullagh and J. A. Nelder (1989). *Generalized Linear Models*, 2nd ed. Chapman and Hall (IRLS).
# - Y. N. Dauphin, R. Pascanu, C. Gulcehre, K. Cho, S. Ganguli and Y. Bengio (2014). Identifying and
#   attacking the saddle point problem in high-dimensional non-convex optimization. *NeurIPS*.
# - B. A. Pearlmutter (1994). Fast exact multiplication by the Hessian. *Neural Computation* 6(1).
