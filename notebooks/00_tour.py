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
# # 00 A tour of the course
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/PLACEHOLDER-ORG/calculus-in-transfer-learning/blob/main/notebooks/00_tour.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/PLACEHOLDER-ORG/calculus-in-transfer-learning/main?labpath=notebooks%2F00_tour.ipynb)
#
# Transfer learning reuses what a model learned on one problem (the *source*) to do better on
# another (the *target*) with less data. Every step of it is calculus: a gradient moves weights, a
# Hessian says how fast Newton's method will converge from a warm start, a reversed gradient makes
# features indistinguishable between domains, and a marginal likelihood's gradient tunes a Gaussian
# process. This course walks that arc in runnable notebooks, each on real data, each checking its
# own claims in code. This first notebook shows how the course works: what is installed, which
# device and profile you are on, where the data lives, your first gradient and your first slider.
#
# **In one line:** how the course is organised, your environment, a first gradient and slider.
#
# **Learning objectives.** After this notebook you can
# 1. read the environment report and tell which device, profile and data directory a run uses;
# 2. switch the profile (`quick`/`full`) and the device (`cpu`/`cuda`/`mps`) without editing code;
# 3. compute a derivative with `torch.autograd` and check it against a closed form;
# 4. drive a figure with an `ipywidgets` slider;
# 5. use the exercises and their hidden worked solutions.
#
# **Prerequisites.** Python and a little NumPy; single-variable calculus (the derivative).
#
# **Run time:** quick profile about 5 s on a 2-core laptop CPU; full profile the same (nothing here
# grows with the profile).

# %% [markdown] slideshow={"slide_type": "notes"}
# Open by asking who has already fine-tuned a pretrained model, and what went wrong. Say that the
# course is about the calculus underneath: every method later is a gradient, a Hessian or a marginal
# likelihood. Keep this session short; most of it is getting everyone's environment to run.

# %% [markdown]
# ## Setup
#
# Every notebook starts with one setup cell: explicit imports from the course's helper package
# `transfer_utils`, then the device, the run profile and the seed, each reported in one line.

# %%
# On Colab only, install the course when it is missing (scripts/badges.py writes the address, from pyproject.toml).
import importlib.util, subprocess, sys  # noqa: E401
if "google.colab" in sys.modules and importlib.util.find_spec("transfer_utils") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "git+https://github.com/PLACEHOLDER-ORG/calculus-in-transfer-learning@main"], check=True)

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from transfer_utils.core.device import device_report, get_device
from transfer_utils.core.plotting import get_ax, use_course_style
from transfer_utils.core.profile import get_profile
from transfer_utils.report import environment_report
from transfer_utils.core.seed import seed_everything

device = get_device()
profile = get_profile()
generator = seed_everything(profile.seed)
use_course_style()
print(device_report(device))
print(profile)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## How the course is organised
#
# | part | notebooks | the calculus | the transfer |
# |---|---|---|---|
# | I Calculus foundations | 01-03 | derivatives, autograd, gradient descent, Newton | warm starts |
# | II Transfer foundations | 04-06 | gradients through a pretrained network | domains and tasks, feature extraction, fine-tuning |
# | III Domain adaptation | 07-08 | gradients of distances between distributions, a reversed gradient | CORAL, MMD, DANN, CDAN |
# | IV Uncertainty | 09-10 | the marginal likelihood and its gradient, the Laplace approximation | Gaussian-process and Bayesian transfer |
#
# Each notebook has the same shape: motivation and objectives, theory in $\LaTeX$, code with a
# sentence of prose before it, figures, **checks** (the notebook's claims asserted in code, so a
# broken claim fails loudly), a summary, exercises with hidden worked solutions, and references.
# The helpers that more than one notebook needs live in `transfer_utils`, one small module per idea;
# a notebook imports them by name, so you can always open the module and read the code.

# %% [markdown]
# ## Your environment
#
# The report below lists the package versions, the device, the profile, the data directory (where
# datasets are read from), the cache directory (where models the course trains are kept), whether
# downloads are allowed, and which datasets are present. A missing dataset line says how to get it.

# %%
print(environment_report())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A first gradient
#
# Take $f(x) = x^2 \sin x$. The product rule gives
# $$f'(x) = 2x \sin x + x^2 \cos x .$$
# Automatic differentiation computes the same number without us deriving anything: `torch` records
# the operations that produce $f(x)$ in a graph and walks it backwards with the chain rule
# (notebook 01 builds this machinery from scratch). We ask for the gradient at $x = 2$ in double
# precision and compare it with the formula.

# %% slideshow={"slide_type": "-"}
x = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
f = x**2 * torch.sin(x)
f.backward()
closed_form = 2 * x.detach() * torch.sin(x.detach()) + x.detach() ** 2 * torch.cos(x.detach())
print(f"autograd f'(2) = {x.grad.item():.12f}")
print(f"formula  f'(2) = {closed_form.item():.12f}")

# %% [markdown] slideshow={"slide_type": "notes"}
# Run the cell live if you can. Ask the class for the derivative before revealing it, then point out
# the pattern every notebook follows: compute, then assert against an independent reference.

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Check.** The two agree to double precision. This is the pattern of every check in the course:
# a computed quantity against an independent reference (here a closed form), with a tolerance.

# %%
torch.testing.assert_close(x.grad, closed_form, rtol=1e-12, atol=1e-12)

# %% [markdown]
# The next cell's printed output is also compared exactly by the test suite: it carries the marker
# `# NBVAL_CHECK_OUTPUT`, which the notebook tests honour for cells whose output is deterministic.

# %%
# NBVAL_CHECK_OUTPUT
print(f"f'(2) rounded to 6 decimals: {x.grad.item():.6f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A first slider
#
# The derivative is the slope of the tangent line. Move the slider to choose the point $x_0$; the
# figure redraws the tangent $t(x) = f(x_0) + f'(x_0)(x - x_0)$ with the slope computed by autograd.
# In JupyterLab the slider is live; in a headless test run it executes once with its default value.

# %%
xs = torch.linspace(-4, 4, 400, dtype=torch.float64)
last = {}  # what the most recent redraw computed, so we can check the slider really drives it


def draw_tangent(x0: float = 1.0) -> None:
    """Plot f and its tangent at x0 (slope from autograd)."""
    point = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    value = point**2 * torch.sin(point)
    (slope,) = torch.autograd.grad(value, point)
    ax = get_ax(figsize=(6, 3.5))
    ax.plot(xs, xs**2 * torch.sin(xs), label=r"$f(x) = x^2 \sin x$")
    ax.plot(xs, value.detach() + slope * (xs - x0), "--", label=f"tangent, slope {slope.item():.3f}")
    ax.plot([x0], [value.item()], "o", color="black")
    ax.set(xlabel="x", ylabel="f(x)", ylim=(-15, 15), title=f"tangent at $x_0$ = {x0:.2f}")
    ax.legend(loc="upper left")
    plt.show()
    last.update(x0=x0, slope=slope.item())


slider = widgets.interactive(draw_tangent, x0=widgets.FloatSlider(value=1.0, min=-4.0, max=4.0, step=0.1))
display(slider)

# %% [markdown]
# **Check.** Setting the slider's value from code (as your mouse would) must redraw the figure at the
# new point, with the slope given by the formula there.

# %%
slider.children[0].value = -2.5
assert last["x0"] == -2.5
x0 = torch.tensor(-2.5, dtype=torch.float64)
expected = (2 * x0 * torch.sin(x0) + x0**2 * torch.cos(x0)).item()
assert abs(last["slope"] - expected) < 1e-12, (last, expected)
print(f"slider redrew at x0 = {last['x0']}, slope {last['slope']:.6f} (formula {expected:.6f})")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Profiles and devices
#
# Two switches decide how big a run is and where it computes; both are environment variables, so
# no notebook needs editing:
#
# | variable | values | default |
# |---|---|---|
# | `TL_PROFILE` | `quick` (a laptop CPU, offline, minutes for the whole course) or `full` (paper-scale) | `quick` when `CI` is set or no CUDA GPU is present, else `full` |
# | `TL_DEVICE` | `auto`, `cpu`, `cuda`, `cuda:1`, `mps` | `auto`: CUDA, then Apple MPS, then CPU |
# | `TL_SEEDS` | comma-separated seeds, e.g. `7,8,9`, replacing the profile's | the profile's seeds |
# | `TL_DATA_DIR` | a folder with the datasets | `data/` in the project |
# | `TL_CACHE_DIR` | a writable folder for models the course trains | `.cache/` in the project |
# | `TL_OFFLINE` | `1` to forbid downloads | unset |
#
# Set them before starting JupyterLab (`TL_PROFILE=full make lab`), or in a notebook before the
# setup cell (`%env TL_PROFILE=full`). A notebook reads every size and every seed from the profile
# object, so the quick run is the full run made smaller, never a different program, and a run on
# other seeds (`TL_SEEDS`) repeats every random draw of a notebook with new ones. The course's checks
# assert only effects that hold on any seeds: the claims sweep (`make claims`) reruns every notebook
# on seed sets never used in development, with other CPU kernels and thread counts, and records the
# margin of every check. Here are both profiles as this run sees them (with `TL_SEEDS` set, both use
# its seeds):

# %% [markdown] slideshow={"slide_type": "notes"}
# Show how to switch the profile and the device with environment variables, without editing code.
# Ask the class to run the tour on their own machine before the next lecture and to report any
# dataset the environment report says is missing.

# %%
for name in ("quick", "full"):
    p = get_profile(name)
    print(f"{name:>5}: seeds {p.seeds}, e.g. n_train = {p.pick(quick=2_000, full=60_000):,}")

# %% [markdown]
# A name that does not exist is refused with a message that says what to do, rather than silently
# falling back:

# %%
for bad in (lambda: get_profile("fast"), lambda: get_device("gpu")):
    try:
        bad()
    except ValueError as err:
        print("ValueError:", err)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises and solutions
#
# Every notebook ends with exercises. Try each one first; the worked solution is folded under
# **Solution** (click to open). At least two exercises in every notebook are *runnable*: a stub
# cell you complete (a function that raises `NotImplementedError`, or `answer = ...`), then a check
# cell that compares your answer with a reference on fresh inputs and prints *correct* or tells you
# where it differs. The student copies in `student/` (made by `make student`) hold the stubs without
# the instructors' answers; in the instructors' version (`notebooks/`) each stub is followed by its
# answer, in a cell tagged `solution`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - The course is sixteen notebooks (00-15) in five parts; `transfer_utils` holds the shared helpers.
# - One setup cell fixes the device, the profile and the seed; environment variables switch them.
# - `torch.autograd` differentiates what you compute; every claim is checked against a reference.
# - Sliders (`ipywidgets`) make a figure something you can play with.

# %% [markdown]
# ## Exercises
#
# **1.** Use autograd to compute $g'(x)$ for $g(x) = e^{-x^2}$ at $x = 0.5$ and compare it with the
# closed form.
#
# <details><summary>Solution</summary>
#
# $g'(x) = -2x e^{-x^2}$, so $g'(0.5) = -e^{-0.25} \approx -0.7788$.
#
# ```python
# x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
# torch.exp(-x**2).backward()
# torch.testing.assert_close(x.grad, -2 * 0.5 * torch.exp(torch.tensor(-0.25, dtype=torch.float64)))
# ```
# </details>
#
# *Runnable:* complete `g_prime` so that it returns $g'(x_0)$ computed by autograd (not by the
# formula), then run the check, which compares it with the closed form at five random points.

# %% tags=["exercise"]
def g_prime(x0: float) -> float:
    """Return g'(x0) for g(x) = exp(-x**2), computed with torch.autograd, as a Python float."""
    raise NotImplementedError("make x0 a float64 tensor with requires_grad=True, compute g, call .backward()")


# %% tags=["solution"]
def g_prime(x0: float) -> float:
    """Return g'(x0) for g(x) = exp(-x**2), computed with torch.autograd, as a Python float."""
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    torch.exp(-x**2).backward()
    return x.grad.item()


# %% tags=["check"]
from transfer_utils.core.exercises import check_function

fresh = torch.Generator().manual_seed(101)
points = (4 * torch.rand(5, generator=fresh, dtype=torch.float64) - 2).tolist()
check_function("1 (g' by autograd)", g_prime,
               lambda x0: -2 * x0 * torch.exp(torch.tensor(-x0**2, dtype=torch.float64)).item(),
               [(p,) for p in points], rtol=1e-10, atol=1e-12,
               hint="g'(x) = -2x exp(-x^2); use float64 and return x.grad.item().")

# %% [markdown]
# **2.** The slider above draws the tangent $t(x) = f(x_0) + f'(x_0)(x - x_0)$ of
# $f(x) = x^2 \sin x$. Write `tangent_values(x0, xs)` that returns $t$ at the points `xs` (a float64
# tensor), with the slope $f'(x_0)$ from `torch.autograd.grad`. The check compares it with the
# product-rule formula at random $x_0$.
#
# <details><summary>Solution</summary>
#
# ```python
# def tangent_values(x0, xs):
#     point = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
#     value = point**2 * torch.sin(point)
#     (slope,) = torch.autograd.grad(value, point)
#     return value.detach() + slope * (xs - x0)
# ```
# The same three lines are inside `draw_tangent`: the tangent is the first-order Taylor polynomial
# of $f$ at $x_0$.
# </details>

# %% tags=["exercise"]
def tangent_values(x0: float, xs: torch.Tensor) -> torch.Tensor:
    """Return f(x0) + f'(x0) (xs - x0) for f(x) = x**2 sin(x), the slope f'(x0) from autograd."""
    raise NotImplementedError("compute f at a float64 tensor x0 with requires_grad=True, then torch.autograd.grad")


# %% tags=["solution"]
def tangent_values(x0: float, xs: torch.Tensor) -> torch.Tensor:
    """Return f(x0) + f'(x0) (xs - x0) for f(x) = x**2 sin(x), the slope f'(x0) from autograd."""
    point = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    value = point**2 * torch.sin(point)
    (slope,) = torch.autograd.grad(value, point)
    return value.detach() + slope * (xs - x0)


# %% tags=["check"]
import math

from transfer_utils.core.exercises import check_function


def tangent_reference(x0: float, xs: torch.Tensor) -> torch.Tensor:
    """The tangent from the product rule f'(x) = 2x sin x + x^2 cos x."""
    slope = 2 * x0 * math.sin(x0) + x0**2 * math.cos(x0)
    return x0**2 * math.sin(x0) + slope * (xs - x0)


fresh = torch.Generator().manual_seed(102)
cases = [(float(8 * torch.rand((), generator=fresh, dtype=torch.float64) - 4),
          torch.linspace(-4, 4, 9, dtype=torch.float64)) for _ in range(4)]
check_function("2 (the tangent line)", tangent_values, tangent_reference, cases, rtol=1e-10, atol=1e-10,
               hint="t(x) = f(x0) + f'(x0) (x - x0); detach the value before combining it with xs.")

# %% [markdown]
# **3.** Add a second slider to `draw_tangent` that sets the width of the plotted window.
#
# <details><summary>Solution</summary>
#
# Give the function a second argument and a second slider; `interactive` makes one control per
# argument:
#
# ```python
# def draw(x0=1.0, width=4.0):
#     xs = torch.linspace(x0 - width, x0 + width, 400, dtype=torch.float64)
#     ...  # as in draw_tangent
# widgets.interactive(draw, x0=widgets.FloatSlider(1.0, min=-4, max=4),
#                     width=widgets.FloatSlider(4.0, min=0.5, max=8))
# ```
# </details>
#
# **4.** Run this notebook on the CPU even if you have a GPU. What changes in the report?
#
# <details><summary>Solution</summary>
#
# Start JupyterLab with `TL_DEVICE=cpu make lab`, or run `%env TL_DEVICE=cpu` before the setup cell
# and restart the kernel. The `Device:` line then reads `cpu (...)`. The profile does not follow
# `TL_DEVICE`: it is `quick` when `CI` is set or no CUDA GPU exists, so on a GPU machine it stays
# `full` (a paper-scale run on the CPU!) unless you also set `TL_PROFILE=quick`.
# </details>
#
# ## References
#
# - A. Griewank and A. Walther (2008). *Evaluating Derivatives: Principles and Techniques of
#   Algorithmic Differentiation*, 2nd ed. SIAM.
# - A. Paszke et al. (2019). PyTorch: An Imperative Style, High-Performance Deep Learning Library.
#   *NeurIPS*.
# - S. J. Pan and Q. Yang (2010). A Survey on Transfer Learning. *IEEE TKDE* 22(10).
