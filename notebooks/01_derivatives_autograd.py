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
# # 01 Derivatives and automatic differentiation
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/PLACEHOLDER-ORG/calculus-in-transfer-learning/blob/main/notebooks/01_derivatives_autograd.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/PLACEHOLDER-ORG/calculus-in-transfer-learning/main?labpath=notebooks%2F01_derivatives_autograd.ipynb)
#
# Every method in this course, from fine-tuning a pretrained network to adapting it to a new
# domain, moves parameters along a gradient. There are three ways to get a derivative out of a
# computer: derive it by hand, approximate it by *finite differences*, or let *automatic
# differentiation* (autodiff) apply the chain rule to the program itself. This notebook measures
# how good finite differences can be (and why they can never be perfect), builds a tiny reverse-mode
# differentiator from scratch, and then uses PyTorch's autograd with confidence: gradients,
# higher derivatives, Jacobians, Hessians and Hessian-vector products, each checked against an
# independent reference.
#
# **In one line:** finite differences, the chain rule as reverse-mode autodiff, and PyTorch autograd.
#
# **Learning objectives.** After this notebook you can
# 1. explain the error of forward and central differences as truncation plus round-off, and predict the best step;
# 2. write a reverse-mode differentiator on a computational graph and check it against `torch.autograd`;
# 3. use `backward`, `torch.autograd.grad`, `no_grad`, `detach` and `create_graph` correctly;
# 4. compute Jacobians, Hessians and Hessian-vector products with `torch.func` and double backward;
# 5. verify any gradient with a gradient check (ours and `torch.autograd.gradcheck`).
#
# **Prerequisites.** Notebook 00; single-variable calculus (Taylor's theorem); the chain rule for
# functions of several variables; basic PyTorch tensors.
#
# **Run time:** quick profile about 10 s on a 2-core laptop CPU; full profile checks on all 1,797
# digits instead of 200 (a few seconds more, on any device).

# %% [markdown]
# ## Setup
#
# One cell: explicit imports from `transfer_utils`, then the device, the run profile and the seed.
# Everything in this notebook is small and computed in double precision on the CPU (finite
# differences need float64); the device is reported for completeness.

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
from sklearn.datasets import load_digits

from transfer_utils.calculus import numdiff as tu_numdiff  # the package's finite differences, next to the ones built here
from transfer_utils.core.device import device_report, get_device
from transfer_utils.calculus.numdiff import check_gradient, numerical_jacobian, optimal_step
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
# ## 1. Finite differences: truncation against round-off
#
# The derivative is a limit, $f'(x) = \lim_{h\to 0} \frac{f(x+h)-f(x)}{h}$. A computer cannot take
# the limit, so it stops at a small $h$. Taylor's theorem says what that costs:
# $$f(x\pm h) = f(x) \pm h f'(x) + \tfrac{h^2}{2} f''(x) \pm \tfrac{h^3}{6} f'''(x) + O(h^4),$$
# so the **forward difference** and the **central difference** satisfy
# $$D_h^{+} f = \frac{f(x+h)-f(x)}{h} = f'(x) + \tfrac{h}{2} f''(\xi), \qquad
#   D_h^{0} f = \frac{f(x+h)-f(x-h)}{2h} = f'(x) + \tfrac{h^2}{6} f'''(\xi).$$
# That *truncation error* shrinks with $h$ ($O(h)$ and $O(h^2)$). But every evaluation of $f$ is
# rounded to a relative precision $\epsilon$ (float64: $\epsilon = 2.2\times 10^{-16}$), and the
# subtraction of two nearly equal numbers divided by $h$ amplifies that *round-off* to about
# $\epsilon|f|/h$. The total error is therefore roughly
# $$E^{+}(h) \approx \tfrac{h}{2}|f''| + \tfrac{2\epsilon |f|}{h}, \qquad
#   E^{0}(h) \approx \tfrac{h^2}{6}|f'''| + \tfrac{\epsilon |f|}{h},$$
# minimised at
# $$h^{+}_\star = 2\sqrt{\epsilon |f|/|f''|} \sim \epsilon^{1/2}, \qquad
#   h^{0}_\star = \big(3\epsilon|f|/|f'''|\big)^{1/3} \sim \epsilon^{1/3}.$$
# We test this on $f = \exp$, where $f = f'' = f'''$, so the predictions do not depend on $x$:
# $h^{+}_\star = 2\sqrt\epsilon \approx 3\times10^{-8}$ and $h^{0}_\star = (3\epsilon)^{1/3} \approx 9\times 10^{-6}$.
#
# Each quotient is one line of code (elementwise, so `x` may hold many points at once):

# %% [markdown] slideshow={"slide_type": "notes"}
# Before the formulas, ask: which step h would you pick for a finite difference, and why not the
# smallest one the machine allows? Collect guesses; the log-log figure on the next slide answers it.

# %%
def forward_difference(f, x, h):
    """(f(x + h) - f(x)) / h, error O(h)."""
    return (f(x + h) - f(x)) / h


def central_difference(f, x, h):
    """(f(x + h) - f(x - h)) / (2h), error O(h^2)."""
    return (f(x + h) - f(x - h)) / (2 * h)


# %% [markdown]
# **Check.** The package's `tu_numdiff.forward_difference` and `tu_numdiff.central_difference`
# (which also validate the step) return the same quotients on the same input: 101 points in
# $[-2, 2]$ with $h = 10^{-5}$. They evaluate the same expression in the same order, so the results
# agree to the last bit; the tolerance $10^{-12}$ (relative) is far below the round-off of the
# quotients themselves (about $\epsilon/h pprox 2	imes10^{-11}$), so a quotient written any other way
# would not pass by accident.

# %%
x_chk = torch.linspace(-2.0, 2.0, 101, dtype=torch.float64)
torch.testing.assert_close(forward_difference(torch.exp, x_chk, 1e-5),
                           tu_numdiff.forward_difference(torch.exp, x_chk, 1e-5), rtol=1e-12, atol=0)
torch.testing.assert_close(central_difference(torch.exp, x_chk, 1e-5),
                           tu_numdiff.central_difference(torch.exp, x_chk, 1e-5), rtol=1e-12, atol=0)

# %% [markdown]
# The measurement uses the package versions. To average out the erratic round-off we measure the
# relative error at 64 points in $[0, 1]$ and take its geometric mean for each of 141 step sizes.

# %%
x_pts = torch.linspace(0.0, 1.0, 64, dtype=torch.float64)
hs = torch.logspace(-15, -1, 141, dtype=torch.float64)
exact = torch.exp(x_pts)


def fd_error(method, h, x=x_pts):
    """Geometric-mean relative error of a finite-difference derivative of exp over the points x."""
    estimate = method(torch.exp, x, float(h))
    rel = ((estimate - torch.exp(x)).abs() / torch.exp(x)).clamp_min(1e-17)
    return rel.log().mean().exp().item()


err_fwd = np.array([fd_error(tu_numdiff.forward_difference, h) for h in hs])
err_cen = np.array([fd_error(tu_numdiff.central_difference, h) for h in hs])
eps64 = torch.finfo(torch.float64).eps
h_theory = {"forward": 2 * math.sqrt(eps64), "central": (3 * eps64) ** (1 / 3)}
h_best = {"forward": hs[err_fwd.argmin()].item(), "central": hs[err_cen.argmin()].item()}
for name in h_theory:
    print(f"{name:8s} best step measured {h_best[name]:.1e}, predicted {h_theory[name]:.1e}, "
          f"ratio {h_best[name] / h_theory[name]:.2f}")
print(f"smallest error: forward {err_fwd.min():.1e}, central {err_cen.min():.1e}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The log-log plot shows the two regimes: on the right the truncation error falls with slope 1
# (forward) or 2 (central); on the left round-off rises with slope $-1$. The dashed lines are the
# error model above, the dotted verticals the predicted best steps.

# %% slideshow={"slide_type": "-"}
h_np = hs.numpy()
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.loglog(h_np, err_fwd, label="forward difference (measured)")
ax.loglog(h_np, err_cen, label="central difference (measured)")
ax.loglog(h_np, h_np / 2 + 2 * eps64 / h_np, "--", color="C0", alpha=0.6, label=r"model $h/2 + 2\epsilon/h$")
ax.loglog(h_np, h_np**2 / 6 + eps64 / h_np, "--", color="C1", alpha=0.6, label=r"model $h^2/6 + \epsilon/h$")
for name, color in (("forward", "C0"), ("central", "C1")):
    ax.axvline(h_theory[name], color=color, ls=":", lw=1.5)
ax.set(xlabel="step size h", ylabel="relative error of f'(x) (geometric mean)",
       title="Finite differences of exp in float64", ylim=(1e-13, 1))
ax.legend(fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Check.** The slopes in the two regimes match the theory (1 and 2 for truncation, $-1$ for
# round-off), the measured best steps lie within a factor 10 of the predictions, and the central
# difference's best error (order $\epsilon^{2/3}$) is far below the forward difference's (order
# $\epsilon^{1/2}$): the ratio $\epsilon^{1/6}$ predicts a factor of about 400; we require 50.

# %%
def loglog_slope(err, lo, hi):
    """Least-squares slope of log(err) against log(h) for lo <= h <= hi."""
    m = (h_np >= lo) & (h_np <= hi)
    return np.polyfit(np.log(h_np[m]), np.log(err[m]), 1)[0]


slopes = {
    "forward truncation": loglog_slope(err_fwd, 1e-5, 1e-2),
    "central truncation": loglog_slope(err_cen, 1e-3, 1e-1),
    "forward round-off": loglog_slope(err_fwd, 1e-15, 1e-10),
    "central round-off": loglog_slope(err_cen, 1e-15, 1e-8),
}
for name, s in slopes.items():
    print(f"{name:20s} slope {s:+.2f}")
assert abs(slopes["forward truncation"] - 1) < 0.1 and abs(slopes["central truncation"] - 2) < 0.1
assert abs(slopes["forward round-off"] + 1) < 0.15 and abs(slopes["central round-off"] + 1) < 0.15
for name in h_theory:
    assert 0.1 < h_best[name] / h_theory[name] < 10, (name, h_best[name], h_theory[name])
assert err_cen.min() < err_fwd.min() / 50
assert abs(math.log10(h_best["central"]) - math.log10(optimal_step("central"))) < 1

# %% [markdown]
# ### A slider for the step size
#
# Move the slider (it sets $\log_{10} h$) to see both effects at one point, $x_0 = 0.5$: on the
# left the forward and central secants of $\exp$ (visible only for large $h$); on the right where
# that $h$ sits on the error curves. Too large a step is visibly wrong; too small a step looks
# perfect on the left but is ruined by round-off on the right.

# %%
x0 = torch.tensor(0.5, dtype=torch.float64)
grid = torch.linspace(-1.0, 2.0, 300, dtype=torch.float64)
last = {}  # what the most recent redraw computed, to check that the slider drives the figure


def draw_step(log10_h=-2.0):
    """Secants at x0 for step 10**log10_h, and the error curves with that step marked."""
    h = 10.0**log10_h
    fwd = tu_numdiff.forward_difference(torch.exp, x0, h).item()
    cen = tu_numdiff.central_difference(torch.exp, x0, h).item()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(grid, torch.exp(grid), color="black", label="exp")
    ax1.plot(grid, math.exp(0.5) + fwd * (grid - x0), "--", label=f"forward slope {fwd:.6f}")
    ax1.plot(grid, math.exp(0.5) + cen * (grid - x0), ":", label=f"central slope {cen:.6f}")
    ax1.set(xlabel="x", ylabel="f(x)", title=f"h = {h:.1e}, exact slope {math.exp(0.5):.6f}", ylim=(0, 8))
    ax1.legend(fontsize=8)
    ax2.loglog(h_np, err_fwd, label="forward")
    ax2.loglog(h_np, err_cen, label="central")
    ax2.axvline(h, color="red", lw=1)
    ax2.set(xlabel="step size h", ylabel="relative error", title="where this h sits")
    ax2.legend(fontsize=8)
    plt.show()
    last.update(h=h, fwd_error=abs(fwd - math.exp(0.5)), cen_error=abs(cen - math.exp(0.5)))


step_slider = widgets.interactive(
    draw_step, log10_h=widgets.FloatSlider(value=-2.0, min=-15.0, max=0.0, step=0.25, description="log10 h"))
display(step_slider)

# %% [markdown]
# **Check.** Setting the slider from code redraws the figure: at $h = 10^{-5}$ the central
# difference is accurate to about $10^{-10}$ or better; at $h = 10^{-13}$ round-off has made it at
# least a hundred times worse (in fact many orders of magnitude).

# %%
step_slider.children[0].value = -5.0
assert last["h"] == 1e-5 and last["cen_error"] < 1e-9
good = last["cen_error"]
step_slider.children[0].value = -13.0
assert last["h"] == 1e-13 and last["cen_error"] > 100 * good
print(f"central error at h=1e-5: {good:.1e}; at h=1e-13: {last['cen_error']:.1e}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The chain rule on a computational graph
#
# A program that computes $f$ is a sequence of elementary operations; draw each intermediate value
# as a node and each use as an edge and you get a **computational graph**. For
# $f(x, y) = \sin(xy) + e^x / y$ the nodes are $v_1 = xy$, $v_2 = \sin v_1$, $v_3 = e^x$,
# $v_4 = v_3 / y$, $f = v_2 + v_4$. Each node knows its *local* derivatives (for
# $v_1 = xy$: $\partial v_1/\partial x = y$, $\partial v_1/\partial y = x$).
#
# The multivariable chain rule says that the derivative of the output with respect to any node,
# its **adjoint** $\bar v = \partial f/\partial v$, is the sum over the node's children $c$:
# $$\bar v = \sum_{c\,:\,v \to c} \bar c \,\frac{\partial c}{\partial v}, \qquad \bar f = 1 .$$
# **Reverse mode** evaluates the graph forwards once, then visits the nodes in reverse topological
# order, pushing each adjoint to the node's parents. One backward sweep gives the derivative of one
# output with respect to *every* input, at a cost of a small multiple of evaluating $f$. That is
# why training a network with millions of weights needs one backward pass per loss, not one pass per
# weight (forward mode, or finite differences, need one per input).
#
# Here is a complete reverse-mode differentiator for scalars, in about forty lines. Each `Var` holds
# its value, its adjoint `grad`, and its parents with the local derivatives.

# %% [markdown] slideshow={"slide_type": "notes"}
# Draw the graph of the example function on the board and run the backward sweep by hand, one
# adjoint per node. This is the slide to spend the most time on; the code only repeats the board.

# %%
class Var:
    """A scalar node of a computational graph: value, adjoint and (parent, local derivative) pairs."""

    def __init__(self, value, parents=(), op="input"):
        self.value = float(value)
        self.parents = parents
        self.op = op
        self.grad = 0.0

    def __add__(self, other):
        other = other if isinstance(other, Var) else Var(other, op="const")
        return Var(self.value + other.value, ((self, 1.0), (other, 1.0)), "+")

    def __mul__(self, other):
        other = other if isinstance(other, Var) else Var(other, op="const")
        return Var(self.value * other.value, ((self, other.value), (other, self.value)), "*")

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-other if isinstance(other, Var) else Var(-other, op="const"))

    def __truediv__(self, other):
        other = other if isinstance(other, Var) else Var(other, op="const")
        return self * other ** -1.0

    def __pow__(self, p):  # p a constant
        return Var(self.value**p, ((self, p * self.value ** (p - 1)),), f"**{p:g}")

    __radd__ = __add__
    __rmul__ = __mul__


def v_sin(a):
    return Var(math.sin(a.value), ((a, math.cos(a.value)),), "sin")


def v_exp(a):
    e = math.exp(a.value)
    return Var(e, ((a, e),), "exp")


def v_log(a):
    return Var(math.log(a.value), ((a, 1.0 / a.value),), "log")


def v_tanh(a):
    t = math.tanh(a.value)
    return Var(t, ((a, 1.0 - t * t),), "tanh")


def reverse_sweep(output):
    """Set output.grad = 1 and propagate adjoints to every node in reverse topological order."""
    order, seen = [], set()

    def visit(node):
        if id(node) not in seen:
            seen.add(id(node))
            for parent, _ in node.parents:
                visit(parent)
            order.append(node)

    visit(output)
    for node in order:
        node.grad = 0.0
    output.grad = 1.0
    for node in reversed(order):
        for parent, local in node.parents:
            parent.grad += node.grad * local
    return order


# %% [markdown] slideshow={"slide_type": "subslide"}
# We differentiate the example $f(x, y) = \sin(xy) + e^x/y$ at $(x, y) = (0.7, -1.3)$ and print the
# graph in the order the forward pass created it, with each node's value and adjoint.

# %% slideshow={"slide_type": "-"}
x_v, y_v = Var(0.7), Var(-1.3)
f_v = v_sin(x_v * y_v) + v_exp(x_v) / y_v
order = reverse_sweep(f_v)
print(f"{'node':>4} {'op':>6} {'value':>10} {'adjoint':>10}")
for i, node in enumerate(order):
    print(f"{i:>4} {node.op:>6} {node.value:>10.5f} {node.grad:>10.5f}")
print(f"df/dx = {x_v.grad:.12f}, df/dy = {y_v.grad:.12f}")

# %% [markdown]
# **Check.** Our adjoints equal the hand-derived partials
# $\partial f/\partial x = y\cos(xy) + e^x/y$ and $\partial f/\partial y = x\cos(xy) - e^x/y^2$,
# and `torch.autograd` on a longer function with a shared subexpression, $\tanh$, $\log$ and powers.

# %%
xv, yv = 0.7, -1.3
torch.testing.assert_close(x_v.grad, yv * math.cos(xv * yv) + math.exp(xv) / yv, rtol=1e-14, atol=1e-14)
torch.testing.assert_close(y_v.grad, xv * math.cos(xv * yv) - math.exp(xv) / yv**2, rtol=1e-14, atol=1e-14)


def g_expr(x, y, sin, exp, log, tanh):
    """One formula, written once, evaluated with our Var ops or with torch's."""
    u = x * y  # used twice: its adjoint collects two contributions
    return sin(u) + exp(x) / y + tanh(x - y) ** 2 + log(x * x + 1.0) * u - 3.0 * y**3


a_v, b_v = Var(0.7), Var(-1.3)
out = g_expr(a_v, b_v, v_sin, v_exp, v_log, v_tanh)
reverse_sweep(out)
a_t = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
b_t = torch.tensor(-1.3, dtype=torch.float64, requires_grad=True)
out_t = g_expr(a_t, b_t, torch.sin, torch.exp, torch.log, torch.tanh)
out_t.backward()
print(f"ours : value {out.value:.12f}, grads ({a_v.grad:.12f}, {b_v.grad:.12f})")
print(f"torch: value {out_t.item():.12f}, grads ({a_t.grad.item():.12f}, {b_t.grad.item():.12f})")
torch.testing.assert_close(torch.tensor([out.value, a_v.grad, b_v.grad], dtype=torch.float64),
                           torch.stack([out_t.detach(), a_t.grad, b_t.grad]), rtol=1e-13, atol=1e-13)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Autograd in practice
#
# PyTorch builds the same graph as our `Var`s, over tensors, while your code runs. The rules a
# practitioner needs:
#
# * `loss.backward()` adds $\partial\,\text{loss}/\partial x$ into `x.grad` for every leaf `x` with
#   `requires_grad=True`. It **accumulates**: zero the gradient between steps.
# * `torch.autograd.grad(y, x)` returns the gradient instead of accumulating it.
# * `with torch.no_grad():` records nothing (parameter updates, evaluation).
# * `x.detach()` is the same values cut out of the graph: a *stop-gradient*.
# * `create_graph=True` records the backward pass itself, so it can be differentiated again.

# %%
x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
loss = (x**2).sum()
loss.backward()
first = x.grad.clone()
loss = (x**2).sum()
loss.backward()  # accumulates: x.grad is now 2 * 2x
print("after two backward calls:", x.grad.tolist())
torch.testing.assert_close(x.grad, 2 * first)
x.grad = None  # what optimizer.zero_grad() does

(g,) = torch.autograd.grad((x**2).sum(), x)  # returned, not accumulated
assert x.grad is None
torch.testing.assert_close(g, 2 * x.detach())

with torch.no_grad():
    y = x * 3
assert not y.requires_grad

# stop-gradient: d/dx [x * stop(x)] = stop(x), not 2x
(g_detach,) = torch.autograd.grad((x * x.detach()).sum(), x)
torch.testing.assert_close(g_detach, x.detach())
print("grad of sum(x * x.detach()):", g_detach.tolist(), "(= x, not 2x)")

# %% [markdown]
# Higher derivatives come from differentiating a gradient that was computed with
# `create_graph=True`. For $f(x) = x^3 \sin x$ we check the first three derivatives against the
# product rule: $f' = 3x^2\sin x + x^3\cos x$, $f'' = 6x\sin x + 6x^2\cos x - x^3 \sin x$,
# $f''' = 6\sin x + 18x\cos x - 9x^2\sin x - x^3\cos x$.

# %%
x = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
f = x**3 * torch.sin(x)
(d1,) = torch.autograd.grad(f, x, create_graph=True)
(d2,) = torch.autograd.grad(d1, x, create_graph=True)
(d3,) = torch.autograd.grad(d2, x)
s, c, xv = math.sin(1.3), math.cos(1.3), 1.3
closed = [3 * xv**2 * s + xv**3 * c, 6 * xv * s + 6 * xv**2 * c - xv**3 * s,
          6 * s + 18 * xv * c - 9 * xv**2 * s - xv**3 * c]
print("autograd:", [round(d.item(), 10) for d in (d1, d2, d3)])
print("formula :", [round(v, 10) for v in closed])
torch.testing.assert_close(torch.stack([d1, d2, d3]).detach(), torch.tensor(closed, dtype=torch.float64))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Jacobians, Hessians and Hessian-vector products
#
# For $F:\mathbb{R}^n\to\mathbb{R}^m$ the Jacobian $J_{ij} = \partial F_i/\partial x_j$ is built by
# `torch.func.jacrev` (one reverse sweep per output, good when $m < n$) or `torch.func.jacfwd`
# (one forward-mode sweep per input, good when $n < m$). The Hessian of a scalar $f$ is the Jacobian
# of its gradient. A case with a closed form: for $f(x) = \log\sum_i e^{x_i}$ (log-sum-exp) the
# gradient is the softmax $p = \operatorname{softmax}(x)$ and the Hessian is
# $\nabla^2 f = \operatorname{diag}(p) - p p^\top$.

# %%
def F_map(z):
    return torch.stack([z[0] * torch.sin(z[1]), z[1] * z[2] ** 2, torch.exp(z[0] - z[2])])


z = torch.tensor([0.4, -1.1, 0.9], dtype=torch.float64)
J_rev, J_fwd = torch.func.jacrev(F_map)(z), torch.func.jacfwd(F_map)(z)
J_num = numerical_jacobian(F_map, z)
print("Jacobian (jacrev):\n", J_rev.numpy().round(6))
torch.testing.assert_close(J_rev, J_fwd)
torch.testing.assert_close(J_rev, J_num, rtol=1e-8, atol=1e-9)

x = torch.randn(5, generator=generator, dtype=torch.float64)
H = torch.func.hessian(lambda t: torch.logsumexp(t, 0))(x)
p = torch.softmax(x, 0)
torch.testing.assert_close(H, torch.diag(p) - torch.outer(p, p))
print("Hessian of log-sum-exp equals diag(p) - p p^T; eigenvalues:",
      torch.linalg.eigvalsh(H).numpy().round(4), "(one zero: f(x + c1) = f(x) + c)")

# %% [markdown] slideshow={"slide_type": "fragment"}
# Forming an $n\times n$ Hessian costs $n$ backward passes and $n^2$ memory, hopeless for a network.
# But many algorithms (Newton-CG in notebook 03, the Laplace approximation in Part IV) only need
# **Hessian-vector products** $Hv$, and $Hv = \nabla_x\big(\nabla f(x)^\top v\big)$ costs two
# backward passes (Pearlmutter, 1994): differentiate the scalar $\nabla f^\top v$ once more. We
# compare it with the explicit $Hv$ and with forward-over-reverse (`torch.func.jvp` of the gradient).

# %%
v = torch.randn(5, generator=generator, dtype=torch.float64)
xr = x.clone().requires_grad_(True)
(grad_f,) = torch.autograd.grad(torch.logsumexp(xr, 0), xr, create_graph=True)
(Hv_double,) = torch.autograd.grad(grad_f @ v, xr)
_, Hv_fwd = torch.func.jvp(torch.func.grad(lambda t: torch.logsumexp(t, 0)), (x,), (v,))
torch.testing.assert_close(Hv_double, H @ v)
torch.testing.assert_close(Hv_fwd, H @ v)
print("Hv by double backward:", Hv_double.numpy().round(6))

# %% [markdown]
# ### `gradcheck`: testing a hand-written backward
#
# When you write your own `torch.autograd.Function` (notebook 08's gradient reversal layer is one),
# you supply the backward yourself, and a wrong backward trains silently to a wrong answer.
# `torch.autograd.gradcheck` compares it with central differences in float64. Below, a softplus
# $\log(1+e^x)$ with the right backward, the sigmoid $\sigma(x)$, and one with a plausible bug: a sign
# slip that returns $\sigma(-x) = 1 - \sigma(x)$ instead. The two differ by $\tanh(x/2)$, zero only at
# $x = 0$, so at six random inputs the check has something to catch; we also print how far each
# backward is from the true derivative.

# %%
class SoftplusRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.nn.functional.softplus(x)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * torch.sigmoid(x)


class SoftplusWrong(SoftplusRight):
    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * torch.sigmoid(-x)  # bug: sign slip, sigma(-x) = 1 - sigma(x)


inp = torch.randn(6, generator=generator, dtype=torch.float64, requires_grad=True)
ok_right = torch.autograd.gradcheck(SoftplusRight.apply, (inp,))
ok_wrong = torch.autograd.gradcheck(SoftplusWrong.apply, (inp,), raise_exception=False)
(true_grad,) = torch.autograd.grad(torch.nn.functional.softplus(inp).sum(), inp)  # torch's own backward
for name, fn in (("right", SoftplusRight), ("wrong", SoftplusWrong)):
    (g_fn,) = torch.autograd.grad(fn.apply(inp).sum(), inp)
    print(f"{name} backward: largest error {(g_fn - true_grad).abs().max().item():.1e}")
print(f"gradcheck: right backward {ok_right}, wrong backward {ok_wrong}")
assert ok_right and not ok_wrong

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The claim: autograd equals central differences
#
# Now the notebook's central check, on several functions, including two on real data
# (scikit-learn's 8x8 handwritten digits, 64 pixel features, 10 classes). For the **softmax
# cross-entropy** $\ell(z) = -\frac1n\sum_i \log \operatorname{softmax}(z_i)_{y_i}$ of logits
# $z_i\in\mathbb{R}^{10}$ there is a closed form: with $p_i = \operatorname{softmax}(z_i)$ and
# $y_i$ the one-hot label,
# $$\frac{\partial \ell}{\partial z_i} = \frac{1}{n}\,(p_i - y_i),$$
# since $\partial_{z_{ik}} \big(\log\sum_j e^{z_{ij}} - z_{i y_i}\big) = p_{ik} - [k = y_i]$.
# We load the digits, standardise the pixels and take a subset whose size the profile picks.

# %% [markdown] slideshow={"slide_type": "notes"}
# The main claim: autograd agrees with central differences on real losses. Stress that the finite
# difference is the referee, in float64, and ask what a gradient check would catch that a unit test
# of the loss value would not.

# %%
digits = load_digits()
n_digits = profile.pick(quick=200, full=len(digits.target))
X = torch.tensor(digits.data[:n_digits], dtype=torch.float64)
X = (X - X.mean(0)) / (X.std(0) + 1.0)
y = torch.tensor(digits.target[:n_digits])
Y = torch.nn.functional.one_hot(y, 10).to(torch.float64)
W0 = 0.1 * torch.randn(64, 10, generator=generator, dtype=torch.float64)
print(f"digits: X {tuple(X.shape)}, classes {y.unique().numel()}")

logits = X @ W0
ce = lambda z: torch.nn.functional.cross_entropy(z, y)  # noqa: E731
zr = logits.clone().requires_grad_(True)
(g_ce,) = torch.autograd.grad(ce(zr), zr)
torch.testing.assert_close(g_ce, (torch.softmax(logits, 1) - Y) / n_digits, rtol=1e-12, atol=1e-15)
print("autograd gradient of cross-entropy w.r.t. logits equals (p - y)/n")

# %% [markdown] slideshow={"slide_type": "subslide"}
# A **gradient check** is built from the central difference: perturb one coordinate at a time,
# $$[\nabla f(x)]_i \approx \frac{f(x + he_i) - f(x - he_i)}{2h} \qquad (e_i \text{ the } i\text{-th unit vector}),$$
# which costs $2d$ evaluations of $f$, and compare with autograd coordinate by coordinate: a
# coordinate passes when its absolute difference is at most `atol` or its relative difference at
# most `rtol`.

# %%
def numerical_gradient(f, x, h):
    """Central-difference gradient of a scalar function f at x, one coordinate at a time."""
    grad = torch.empty_like(x)
    for i in range(x.numel()):
        e = torch.zeros_like(x)
        e.view(-1)[i] = h
        grad.view(-1)[i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


def gradient_check(f, x, *, h, rtol=1e-6, atol=1e-8):
    """Autograd's gradient of f at x against central differences: (passed, largest abs difference)."""
    x_req = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x_req), x_req)
    num = numerical_gradient(f, x, h)
    diff = (g - num).abs()
    rel = diff / torch.maximum(g.abs(), num.abs())
    return bool(((diff <= atol) | (rel <= rtol)).all()), diff.max().item()


# %% [markdown]
# **Check.** On the cross-entropy of the first ten digits as a function of their logits (100
# coordinates; $2d$ evaluations each make more of them slow), with the step $h = \epsilon^{1/3}$, the loop gives the package's `tu_numdiff.numerical_gradient`
# (same expression, same order: tolerance $10^{-12}$ relative, as for the quotients in section 1),
# and the check gives `check_gradient`'s verdict and largest difference, to the last bit.

# %%
h_chk = optimal_step("central")
ce_10 = lambda z: torch.nn.functional.cross_entropy(z, y[:10])  # noqa: E731
torch.testing.assert_close(numerical_gradient(ce_10, logits[:10], h_chk),
                           tu_numdiff.numerical_gradient(ce_10, logits[:10], h=h_chk), rtol=1e-12, atol=0)
passed, largest = gradient_check(ce_10, logits[:10], h=h_chk)
reference = check_gradient(ce_10, logits[:10], h=h_chk)
assert passed and reference.ok and largest == reference.max_abs, (largest, reference)

# %% [markdown]
# At scale we use the package's `check_gradient` (default step
# $\epsilon^{1/3}\max(1, \|x\|_\infty)$), on five functions: a polynomial, a product of
# transcendental functions, log-sum-exp, the cross-entropy of a linear classifier as a function of
# its 640 weights, and of a one-hidden-layer tanh network as a function of all its 1,210 parameters.
# From section 1, central differences are good to about $\epsilon^{2/3}\approx 4\times10^{-11}$ in
# relative terms for well-scaled functions, so we demand agreement to $10^{-6}$ relative or
# $10^{-9}$ absolute.

# %%
def mlp_loss(theta):
    """Cross-entropy of a 64-16-10 tanh network on the digits; theta holds all 1,210 parameters."""
    W1, b1 = theta[:1024].reshape(64, 16), theta[1024:1040]
    W2, b2 = theta[1040:1200].reshape(16, 10), theta[1200:]
    return torch.nn.functional.cross_entropy(torch.tanh(X @ W1 + b1) @ W2 + b2, y)


cases = {
    "polynomial": (lambda t: (t**3).sum() - 2 * t.prod() + (t[0] - t[1]) ** 4,
                   torch.randn(4, generator=generator, dtype=torch.float64)),
    "sin * exp": (lambda t: (torch.sin(t) * torch.exp(0.5 * t)).sum() / (1 + t.norm()),
                  torch.randn(6, generator=generator, dtype=torch.float64)),
    "log-sum-exp": (lambda t: torch.logsumexp(t, 0), 3 * torch.randn(8, generator=generator, dtype=torch.float64)),
    "softmax CE (linear)": (lambda w: ce(X @ w.reshape(64, 10)), W0.reshape(-1)),
    "softmax CE (tanh MLP)": (mlp_loss, 0.2 * torch.randn(1210, generator=generator, dtype=torch.float64)),
}
checks = {}
for name, (fn, point) in cases.items():
    checks[name] = check_gradient(fn, point, rtol=1e-6, atol=1e-9)
    print(f"{name:22s} d = {point.numel():5d}  {checks[name]}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The bar chart shows two measures per function: the *normwise* relative difference
# $\|g - \tilde g\|/\|g\|$, which sits near the $\epsilon^{2/3}$ accuracy that central differences
# can reach, and the largest *elementwise* relative difference, which is inflated by coordinates
# whose gradient is nearly zero (there, relative error is meaningless and the absolute tolerance
# takes over).

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(7, 3.8))
names = list(checks)
pos = np.arange(len(names))
ax.barh(pos + 0.2, [max(checks[n].norm_rel, 1e-17) for n in names], height=0.4, color="C2", label="normwise")
ax.barh(pos - 0.2, [max(checks[n].max_rel, 1e-17) for n in names], height=0.4, color="C7", label="max elementwise")
ax.set_yticks(pos, names)
ax.axvline(eps64 ** (2 / 3), color="black", ls="--", label=r"$\epsilon^{2/3}$")
ax.set(xscale="log", xlabel="relative difference, autograd vs central differences",
       title="Gradient checks in float64")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Check.** Every gradient passes coordinate by coordinate, the normwise differences are below
# $10^{-8}$, and for the linear classifier the finite-difference gradient
# with respect to the weights also equals the closed form $X^\top (P - Y)/n$ that follows from
# $p - y$ by the chain rule through $z = XW$.

# %%
assert all(c.ok for c in checks.values()), {n: str(c) for n, c in checks.items()}
assert max(c.norm_rel for c in checks.values()) < 1e-8, {n: c.norm_rel for n, c in checks.items()}
closed_W = X.T @ (torch.softmax(X @ W0, 1) - Y) / n_digits
torch.testing.assert_close(checks["softmax CE (linear)"].numerical.reshape(64, 10), closed_W,
                           rtol=1e-6, atol=1e-9)
torch.testing.assert_close(tu_numdiff.numerical_gradient(ce, logits), (torch.softmax(logits, 1) - Y) / n_digits,
                           rtol=1e-6, atol=1e-9)
print("all gradient checks passed; worst relative difference",
      f"{max(c.max_rel for c in checks.values()):.1e}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * Finite differences trade truncation ($O(h)$ forward, $O(h^2)$ central) against round-off
#   ($O(\epsilon/h)$). The best steps are $\sim\epsilon^{1/2}$ and $\sim\epsilon^{1/3}$, which we
#   measured within a small factor of the prediction; the best achievable accuracy is only about
#   $\epsilon^{1/2}$ and $\epsilon^{2/3}$.
# * Reverse-mode autodiff is the chain rule applied on the computational graph in reverse
#   topological order; one backward sweep gives every partial derivative of a scalar output, exact
#   up to round-off. Our forty-line `Var` matched `torch.autograd` to $10^{-13}$.
# * In PyTorch: gradients accumulate, `no_grad` and `detach` cut the graph, `create_graph=True`
#   gives higher derivatives, `torch.func` gives Jacobians and Hessians, and a Hessian-vector
#   product costs two backward passes.
# * Finite differences remain the referee: a gradient check in float64 (built here from the central
#   difference and matched to the package's) caught a wrong backward and
#   confirmed autograd on five functions, including the softmax cross-entropy gradient $p - y$.

# %% [markdown] slideshow={"slide_type": "notes"}
# Recap in one sentence per bullet and point to the exercises; the first one (the best forward step)
# is a good homework problem.

# %% [markdown]
# ## Exercises
#
# **1.** Derive the best forward-difference step $h^+_\star = 2\sqrt{\epsilon|f|/|f''|}$ and the
# error it achieves. What is the best step for $f = \exp$ at $x = 10$, and why is
# $\max(1, |x|)$ a sensible scale factor?
#
# <details><summary>Solution</summary>
#
# Minimise $E(h) = \frac h2 M + \frac{2\epsilon|f|}{h}$ with $M = |f''|$: $E'(h) = \frac M2 -
# \frac{2\epsilon|f|}{h^2} = 0$ gives $h_\star = 2\sqrt{\epsilon|f|/M}$ and
# $E(h_\star) = 2\sqrt{\epsilon |f| M}$, i.e. a relative error of about $2\sqrt\epsilon$ when
# $|f''|\approx|f'|\approx|f|$. For $\exp$ the ratio $|f|/|f''|$ is 1 at every $x$, so $h_\star$ is
# still $2\sqrt\epsilon \approx 3\times10^{-8}$ in exact arithmetic; but $x + h$ is itself rounded
# to a relative precision $\epsilon$, an absolute error $\epsilon|x|$ in the step, which at
# $x = 10$ is ten times larger. Scaling $h$ by $\max(1,|x|)$ keeps the rounding of $x + h$
# negligible relative to $h$:
#
# ```python
# x10 = torch.full((1,), 10.0, dtype=torch.float64)
# for h in (3e-8, 3e-7, 3e-6):
#     print(h, ((tu_numdiff.forward_difference(torch.exp, x10, h) - torch.exp(x10)) / torch.exp(x10)).abs().item())
# ```
# </details>
#
# **2.** Extend the `Var` differentiator with `v_sqrt` and a `relu`, then check
# $f(x, y) = \sqrt{x^2 + y^2} + \operatorname{relu}(x - y)$ against `torch.autograd` at
# $(3, -4)$. What does your `relu` return as the derivative at exactly 0, and what does torch?
#
# <details><summary>Solution</summary>
#
# ```python
# def v_sqrt(a):
#     r = math.sqrt(a.value)
#     return Var(r, ((a, 0.5 / r),), "sqrt")
#
# def v_relu(a):
#     return Var(max(a.value, 0.0), ((a, 1.0 if a.value > 0 else 0.0),), "relu")
#
# a, b = Var(3.0), Var(-4.0)
# out = v_sqrt(a * a + b * b) + v_relu(a - b)
# reverse_sweep(out)
# at = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
# bt = torch.tensor(-4.0, dtype=torch.float64, requires_grad=True)
# (torch.sqrt(at * at + bt * bt) + torch.relu(at - bt)).backward()
# print(a.grad, at.grad.item(), b.grad, bt.grad.item())   # 1.6 and -1.8 for both
# ```
# The derivative of relu at 0 is undefined; both this version and torch use 0 there (a
# *subgradient*). Any value in $[0, 1]$ would be a valid subgradient.
# </details>
#
# **3.** The *complex-step* derivative $f'(x) \approx \operatorname{Im} f(x + ih)/h$ involves no
# subtraction. Plot its error for $f = \exp$ at $x = 0.5$ against $h$ from $10^{-1}$ to $10^{-30}$.
# What do you see, and why does it not work for $f(x) = |x|$?
#
# <details><summary>Solution</summary>
#
# ```python
# h_c = np.logspace(-30, -1, 60)
# err_c = [abs((torch.exp(torch.tensor(0.5 + 1j * h, dtype=torch.complex128)).imag / h).item()
#              - math.exp(0.5)) / math.exp(0.5) for h in h_c]
# plt.loglog(h_c, np.maximum(err_c, 1e-17)); plt.xlabel("h"); plt.ylabel("relative error"); plt.show()
# ```
# By Taylor, $f(x+ih) = f(x) + ihf'(x) - \frac{h^2}{2}f''(x) - i\frac{h^3}{6}f'''(x) + \dots$, so
# $\operatorname{Im} f(x+ih)/h = f'(x) - \frac{h^2}{6}f'''(x)$: second-order truncation and no
# cancellation, so the error falls to machine precision and stays there for arbitrarily small $h$.
# It needs $f$ to be analytic (holomorphic); $|x|$ is not, so the Taylor expansion fails.
# </details>
#
# *Runnable:* write `complex_step_derivative(f, x, h)` that returns $\operatorname{Im} f(x + ih)/h$
# elementwise for a float64 tensor `x` of points. The check compares it with autograd for three
# analytic functions at random points, with $h = 10^{-20}$, far below any step a finite difference
# survives.

# %% tags=["exercise"]
def complex_step_derivative(f, x: torch.Tensor, h: float = 1e-20) -> torch.Tensor:
    """Return Im f(x + i h) / h, a float64 tensor shaped like x (f maps complex tensors elementwise)."""
    raise NotImplementedError("move x to torch.complex128, add 1j * h, apply f and take .imag / h")


# %% tags=["solution"]
def complex_step_derivative(f, x: torch.Tensor, h: float = 1e-20) -> torch.Tensor:
    """Return Im f(x + i h) / h, a float64 tensor shaped like x (f maps complex tensors elementwise)."""
    return f(x.to(torch.complex128) + 1j * h).imag / h


# %% tags=["check"]
from transfer_utils.core.exercises import check_function


def derivative_by_autograd(f, x: torch.Tensor, h: float = 1e-20) -> torch.Tensor:
    """f'(x) elementwise by reverse mode: the gradient of sum f(x_i)."""
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x).sum(), x)
    return g


fresh = torch.Generator().manual_seed(103)
functions = (torch.exp, torch.sin, lambda t: t**3 * torch.cos(t))
cases = [(fn, 4 * torch.rand(6, generator=fresh, dtype=torch.float64) - 2, 1e-20) for fn in functions]
check_function("3 (the complex step)", complex_step_derivative, derivative_by_autograd, cases,
               rtol=1e-12, atol=1e-14, hint="f(x + ih) needs a complex tensor: x.to(torch.complex128) + 1j * h.")

# %% [markdown]
# **4.** For $f:\mathbb{R}^n \to \mathbb{R}$, $f(x) = \|\tanh(Ax)\|^2$ with $A$ of size $n \times n$,
# time `torch.func.jacrev` against `torch.func.jacfwd` for the gradient at $n = 1000$. Which is
# faster and by roughly what factor? Relate it to the number of sweeps each needs.
#
# <details><summary>Solution</summary>
#
# ```python
# import time
# n = 1000
# A = torch.randn(n, n, dtype=torch.float64) / n**0.5
# fn = lambda t: (torch.tanh(A @ t) ** 2).sum()
# t0 = torch.randn(n, dtype=torch.float64)
# for name, jac in (("jacrev", torch.func.jacrev), ("jacfwd", torch.func.jacfwd)):
#     start = time.perf_counter(); g = jac(fn)(t0); print(name, time.perf_counter() - start)
# ```
# Reverse mode needs one backward sweep for the one output; forward mode needs one sweep per input
# direction, $n = 1000$ of them (`jacfwd` vectorises them with `vmap`, so the gap in wall time is
# smaller than 1000x but still one to two orders of magnitude, and its memory grows with $n$).
# </details>
#
# **5.** Show by hand that the Hessian of the softmax cross-entropy with respect to one sample's
# logits is $\operatorname{diag}(p) - pp^\top$, independent of the label, and check it with
# `torch.func.hessian` on a row of `logits`. Why does this make the loss convex in $z$?
#
# <details><summary>Solution</summary>
#
# The gradient is $p - y$, and $y$ is constant, so the Hessian is the Jacobian of $p =
# \operatorname{softmax}(z)$: $\partial p_k/\partial z_j = p_k([k=j] - p_j)$, i.e.
# $\operatorname{diag}(p) - pp^\top$. For any $v$, $v^\top(\operatorname{diag}(p) - pp^\top)v =
# \sum_k p_k v_k^2 - (\sum_k p_k v_k)^2 = \operatorname{Var}_{k\sim p}(v_k) \ge 0$, so the Hessian is
# positive semidefinite and the loss is convex in the logits.
#
# ```python
# z0 = logits[0]
# H0 = torch.func.hessian(lambda t: torch.nn.functional.cross_entropy(t[None], y[:1]))(z0)
# p0 = torch.softmax(z0, 0)
# torch.testing.assert_close(H0, torch.diag(p0) - torch.outer(p0, p0))
# ```
# </details>
#
# *Runnable:* write `softmax_ce_hessian(z)` that returns $\operatorname{diag}(p) - pp^\top$ for a
# vector of logits `z`. The check compares it with `torch.func.hessian` of the cross-entropy, with a
# random label, at random logits of three sizes.

# %% tags=["exercise"]
def softmax_ce_hessian(z: torch.Tensor) -> torch.Tensor:
    """Return the (K, K) Hessian of the softmax cross-entropy in the logits z of shape (K,)."""
    raise NotImplementedError("p = softmax(z); the Hessian is diag(p) - p p^T")


# %% tags=["solution"]
def softmax_ce_hessian(z: torch.Tensor) -> torch.Tensor:
    """Return the (K, K) Hessian of the softmax cross-entropy in the logits z of shape (K,)."""
    p = torch.softmax(z, dim=0)
    return torch.diag(p) - torch.outer(p, p)


# %% tags=["check"]
from transfer_utils.core.exercises import check_function

fresh = torch.Generator().manual_seed(104)


def hessian_by_autograd(z: torch.Tensor) -> torch.Tensor:
    """torch.func.hessian of the cross-entropy of one sample, with a random label."""
    label = torch.randint(z.numel(), (1,), generator=fresh)
    return torch.func.hessian(lambda t: torch.nn.functional.cross_entropy(t[None], label))(z)


cases = [(3 * torch.randn(k, generator=fresh, dtype=torch.float64),) for k in (3, 5, 10)]
check_function("5 (the softmax cross-entropy Hessian)", softmax_ce_hessian, hessian_by_autograd, cases,
               rtol=1e-10, atol=1e-12, hint="differentiate p - y once more: dp_k/dz_j = p_k ([k = j] - p_j).")

# %% [markdown]
# ## References
#
# - A. Griewank and A. Walther (2008). *Evaluating Derivatives: Principles and Techniques of
#   Algorithmic Differentiation*, 2nd ed. SIAM.
# - A. G. Baydin, B. A. Pearlmutter, A. A. Radul and J. M. Siskind (2018). Automatic
#   Differentiation in Machine Learning: a Survey. *Journal of Machine Learning Research* 18(153).
# - S. Linnainmaa (1970). The representation of the cumulative rounding error of an algorithm as a
#   Taylor expansion of the local rounding errors. Master's thesis, University of Helsinki.
# - D. E. Rumelhart, G. E. Hinton and R. J. Williams (1986). Learning representations by
#   back-propagating errors. *Nature* 323, 533-536.
# - B. A. Pearlmutter (1994). Fast exact multiplication by the Hessian. *Neural Computation* 6(1),
#   147-160.
# - J. N. Lyness and C. B. Moler (1967). Numerical differentiation of analytic functions. *SIAM
#   Journal on Numerical Analysis* 4(2), 202-210 (the complex step).
# - J. Nocedal and S. J. Wright (2006). *Numerical Optimization*, 2nd ed., Springer, chapter 8
#   (finite differences and automatic differentiation).
# - A. Paszke et al. (2019). PyTorch: An Imperative Style, High-Performance Deep Learning Library.
#   *NeurIPS*.
