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
# # 12 Transfer in reinforcement learning
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/PLACEHOLDER-ORG/calculus-in-transfer-learning/blob/main/notebooks/12_reinforcement_learning.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/PLACEHOLDER-ORG/calculus-in-transfer-learning/main?labpath=notebooks%2F12_reinforcement_learning.ipynb)
#
# In supervised learning the gradient of the loss is one `backward` away. In reinforcement learning
# the quantity to maximise, the expected return, is an expectation over trajectories whose
# distribution depends on the parameters *and* on an environment we cannot differentiate. The
# log-derivative trick turns its gradient into an expectation we can sample: the policy gradient
# theorem, and REINFORCE. We derive it, check the sampled estimate against finite differences of
# an expectation we can compute exactly, measure why a baseline helps, and then transfer a policy
# trained on the classic cart-pole to carts with a longer pole or stronger gravity, where the warm
# start saves most of the training, and to a cart whose actions are swapped, where it costs.
#
# **In one line:** the log-derivative trick gives the policy gradient; a source policy warm-starts related physics and hurts inverted ones.
#
# **Learning objectives.** After this notebook you can
# 1. derive the policy gradient theorem with the log-derivative trick and say why the environment's
#    dynamics drop out of it;
# 2. write the REINFORCE loss with returns-to-go and a baseline, and check its gradient against
#    finite differences where the expectation is exact;
# 3. explain why a baseline leaves the gradient unbiased and measure how much variance it removes;
# 4. warm-start a policy on a task with changed physics and measure the gain in episodes to a return
#    threshold, with the spread over seeds;
# 5. recognise negative transfer, explain it for swapped actions, and say what would fix it.
#
# **Prerequisites.** Notebook 01 (autograd, finite differences), 02 (gradient descent, Adam), 04
# (what transfers: parameters as a starting point). Probability: expectations, the softmax.
#
# **Run time:** quick profile 25-60 s on a 2-core CPU (measured, machine shared); full profile the same experiments
# with five seeds, a larger budget and more samples on the chain (not yet measured; it is
# CPU-bound, a GPU does not help).

# %% [markdown]
# ## Setup
#
# One setup cell. The environment is gymnasium's real `CartPole-v1` (numpy only, nothing to
# download); `transfer_utils.rl.physics` changes its constants, `transfer_utils.rl.reinforce` holds
# the policy gradient pieces that we build here first, and `transfer_utils.rl.training` the loop.
# Everything here is a few hundred parameters and numpy physics: it runs on the CPU whatever the
# device.

# %%
# On Colab only, install the course when it is missing (scripts/badges.py writes the address, from pyproject.toml).
import importlib.util, subprocess, sys  # noqa: E401
if "google.colab" in sys.modules and importlib.util.find_spec("transfer_utils") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "git+https://github.com/PLACEHOLDER-ORG/calculus-in-transfer-learning@main"], check=True)

import copy
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.func import functional_call

from transfer_utils.calculus.numdiff import numerical_gradient
from transfer_utils.core.device import device_report, get_device
from transfer_utils.core.plotting import use_course_style
from transfer_utils.core.profile import get_profile
from transfer_utils.core.seed import seed_everything
from transfer_utils.rl import reinforce as tu_rf
from transfer_utils.rl.physics import DEFAULT_PHYSICS, CartPolePhysics, make_cartpole
from transfer_utils.rl.reinforce import LinearSoftmaxPolicy
from transfer_utils.rl.training import rollout, train_policy

device = get_device()
profile = get_profile()
generator = seed_everything(profile.seed)
use_course_style()
print(device_report(device))
print(profile)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The policy gradient theorem
#
# A policy $\pi_\theta(a \mid s)$ picks action $a$ in state $s$. Running it in an environment with
# start distribution $\rho(s_0)$ and dynamics $p(s_{t+1} \mid s_t, a_t)$ produces a trajectory
# $\tau = (s_0, a_0, r_0, s_1, a_1, r_1, \dots)$ with probability
#
# $$p_\theta(\tau) = \rho(s_0)\prod_{t} \pi_\theta(a_t \mid s_t)\, p(s_{t+1} \mid s_t, a_t),$$
#
# and we want to maximise the expected return $J(\theta) = \mathbb E_{\tau\sim p_\theta}[R(\tau)]$,
# $R(\tau) = \sum_t \gamma^t r_t$. The difficulty: $\theta$ sits in the *distribution*, not in the
# integrand, and we cannot differentiate the environment. The **log-derivative trick** is the
# identity $\nabla_\theta p_\theta = p_\theta\,\nabla_\theta \log p_\theta$, which moves the gradient
# inside the expectation:
#
# $$\nabla_\theta J(\theta) = \nabla_\theta \int p_\theta(\tau)\,R(\tau)\,d\tau = \int p_\theta(\tau)\,\nabla_\theta\log p_\theta(\tau)\,R(\tau)\,d\tau
#   = \mathbb E_{\tau\sim p_\theta}\big[R(\tau)\,\nabla_\theta \log p_\theta(\tau)\big].$$
#
# Taking the log of the product, $\rho$ and $p(s_{t+1}\mid s_t, a_t)$ do not depend on $\theta$ and
# vanish under the gradient:
#
# $$\nabla_\theta \log p_\theta(\tau) = \sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t).$$
#
# So the gradient needs only samples of trajectories and the gradient of our own policy's
# log-probabilities: no model of the environment. Two refinements give the policy gradient theorem
# in the form REINFORCE uses (Williams 1992; Sutton et al. 2000):
#
# * **Causality.** The action $a_t$ cannot change rewards earned before $t$, and for $k < t$,
#   $\mathbb E[r_k\,\nabla\log\pi_\theta(a_t\mid s_t)] = 0$ (condition on everything up to $s_t$:
#   the inner expectation is $\sum_a \pi_\theta(a\mid s_t)\nabla\log\pi_\theta(a\mid s_t) = \nabla\sum_a\pi_\theta(a\mid s_t) = \nabla 1 = 0$).
#   So $R$ can be replaced at step $t$ by the **return-to-go** $G_t = \sum_{k\ge t}\gamma^{k-t} r_k$.
# * **Baseline.** By the same identity, any $b_t$ that does not depend on $a_t$ has
#   $\mathbb E[b_t\,\nabla\log\pi_\theta(a_t\mid s_t)] = 0$: subtracting it changes nothing in
#   expectation, but it can shrink the spread a great deal when all returns are large and positive.
#
# $$\nabla_\theta J(\theta) = \mathbb E\Big[\sum_t \big(G_t - b_t\big)\,\nabla_\theta\log\pi_\theta(a_t\mid s_t)\Big]
#   \approx \frac1N\sum_{i=1}^N\sum_t \big(G_{it} - b_t\big)\,\nabla_\theta\log\pi_\theta(a_{it}\mid s_{it}).$$
#
# (With discounting, the exact gradient carries a further $\gamma^t$ in front of each term; like
# most implementations we drop it, and use $\gamma = 1$ where we check exactness.)
#
# **REINFORCE, written out.** Autograd differentiates a loss, so we write a *surrogate* whose
# gradient is the estimate above: the returns are constants (detached), only the log-probabilities
# carry $\theta$,
#
# $$L(\theta) = -\frac1N\sum_i\sum_t m_{it}\,\big(G_{it} - b_t\big)\log\pi_\theta(a_{it}\mid s_{it}),$$
#
# with a mask $m_{it}$ that is 1 on real steps and 0 where a shorter episode was padded. The returns
# come backwards: $G_{T-1} = r_{T-1}$, $G_t = r_t + \gamma G_{t+1}$.

# %% [markdown] slideshow={"slide_type": "notes"}
# Derive the log-derivative trick on the board; it is the only new piece of calculus in this
# lecture. Ask why the environment's dynamics drop out of the gradient.

# %%
def discounted_returns(rewards, gamma):
    """G_t = r_t + gamma G_{t+1}, backwards along the last axis."""
    out = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[..., 0])
    for t in reversed(range(rewards.shape[-1])):
        running = rewards[..., t] + gamma * running
        out[..., t] = running
    return out


def reinforce_loss(log_probs, returns, baseline=0.0, mask=None):
    """-(1/N) sum_i sum_t m_it (G_it - b_t) log pi(a_it | s_it); returns and baseline are constants."""
    advantage = (returns - baseline).detach()
    if mask is not None:
        advantage = advantage * mask
    per_episode = advantage * log_probs
    if per_episode.dim() == 2:
        per_episode = per_episode.sum(1)
    return -per_episode.mean()


# %% [markdown]
# The package's `transfer_utils.rl.reinforce` has the same two functions with input checks. On the
# same random rewards, log-probabilities, baseline and mask they agree to rounding, and so do the
# gradients of the two losses (the inputs come from a fresh generator, so the notebook's stream is
# untouched).

# %%
check_gen = torch.Generator().manual_seed(profile.seed)
r_check = torch.rand(4, 9, dtype=torch.float64, generator=check_gen)
mask_check = torch.rand(4, 9, generator=check_gen) < 0.8
logits_check = torch.randn(4, 9, dtype=torch.float64, generator=check_gen, requires_grad=True)
torch.testing.assert_close(discounted_returns(r_check, 0.9), tu_rf.discounted_returns(r_check, 0.9))
G_check = discounted_returns(r_check, 0.9)
b_check = tu_rf.time_baseline(G_check, mask_check)
log_pi_check = torch.log_softmax(logits_check, 1)
torch.testing.assert_close(reinforce_loss(log_pi_check, G_check, b_check, mask_check),
                           tu_rf.reinforce_loss(log_pi_check, G_check, b_check, mask_check))
ours = reinforce_loss(log_pi_check, G_check, b_check, mask_check)
theirs = tu_rf.reinforce_loss(log_pi_check, G_check, b_check, mask_check)
torch.testing.assert_close(torch.autograd.grad(ours, logits_check, retain_graph=True)[0],
                           torch.autograd.grad(theirs, logits_check)[0])
print(f"loss {float(ours.detach()):.6f} (ours) = {float(theirs.detach()):.6f} (transfer_utils)")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Checking REINFORCE where the expectation is exact
#
# A problem small enough to enumerate: a **two-step chain**. From the start state the agent picks
# left or right (reward $r_0 = 2$ or $1$); the move succeeds with probability $q = 0.8$ and otherwise
# lands in the other state; there it picks again and earns $r_1$ from a small table. Eight
# trajectories, each with a probability we can write down, so $J(\theta) = \sum_\tau p_\theta(\tau)R(\tau)$
# is exact and so is its finite-difference gradient. The policy is the package's
# `LinearSoftmaxPolicy` on a one-hot state (three states, two actions: six weights and two biases),
# and the transition probabilities are the "environment" REINFORCE never differentiates.

# %%
Q = 0.8  # the probability that a move goes where it was meant to
R0 = torch.tensor([2.0, 1.0], dtype=torch.float64)  # reward of the first action
R1 = torch.tensor([[1.0, 3.0], [4.0, 2.0]], dtype=torch.float64)  # R1[state - 1, second action]
STATES = torch.eye(3, dtype=torch.float64)  # one-hot: start, left, right
TRAJ = torch.tensor([(a0, s1, a1) for a0 in (0, 1) for s1 in (1, 2) for a1 in (0, 1)])  # all 8

chain_policy = LinearSoftmaxPolicy(3, 2).double()
with torch.no_grad():
    chain_policy.linear.weight.copy_(0.5 * torch.randn(2, 3, dtype=torch.float64, generator=generator))
theta0 = torch.cat([p.detach().reshape(-1) for p in chain_policy.parameters()])


def log_pi(theta, states):
    """log pi_theta(. | s) for a flat parameter vector theta (weights, then biases)."""
    params = {"linear.weight": theta[:6].view(2, 3), "linear.bias": theta[6:]}
    return functional_call(chain_policy, params, (states,))


def chain_log_probs(theta, traj):
    """log pi(a_0 | start) and log pi(a_1 | s_1) for trajectories (a0, s1, a1), shape (n, 2)."""
    lp0 = log_pi(theta, STATES[0])[traj[:, 0]]
    lp1 = log_pi(theta, STATES[traj[:, 1]]).gather(1, traj[:, 2:3]).squeeze(1)
    return torch.stack([lp0, lp1], dim=1)


def chain_rewards(traj):
    return torch.stack([R0[traj[:, 0]], R1[traj[:, 1] - 1, traj[:, 2]]], dim=1)


def transition_prob(traj):
    return torch.where(traj[:, 1] == 1 + traj[:, 0], Q, 1 - Q).to(torch.float64)


def exact_J(theta):
    """J(theta) = sum over the 8 trajectories of p_theta(tau) R(tau)."""
    p_tau = chain_log_probs(theta, TRAJ).sum(1).exp() * transition_prob(TRAJ)
    return (p_tau * chain_rewards(TRAJ).sum(1)).sum()


grad_fd = numerical_gradient(exact_J, theta0)  # central differences in float64
print(f"J(theta0) = {float(exact_J(theta0)):.4f}; finite-difference gradient {np.round(grad_fd.numpy(), 4)}")

# %% [markdown]
# **The estimator, exactly and sampled.** For each of the eight trajectories the per-trajectory
# estimate is $g_b(\tau) = \sum_t (G_t - b_t)\nabla_\theta\log\pi_\theta(a_t\mid s_t)$; we get the
# score vectors $\nabla_\theta\log\pi_\theta(a_t\mid s_t)$ by autograd on our `reinforce_loss` with a
# one-hot "return". Weighting by $p_\theta(\tau)$ gives the *exact* expectation of the estimator,
# which must equal the finite-difference gradient up to the error of finite differences. Then we
# sample $N$ trajectories, compute the REINFORCE gradient by one `backward` of our loss, and check
# that it lies within four standard errors of the finite-difference value in every coordinate.

# %%
p_traj = chain_log_probs(theta0, TRAJ).sum(1).exp() * transition_prob(TRAJ)
G_traj = discounted_returns(chain_rewards(TRAJ), 1.0)  # returns-to-go, gamma = 1
scores = torch.zeros(8, 2, theta0.numel(), dtype=torch.float64)  # grad log pi(a_t | s_t) per trajectory, step
for k in range(8):
    for t in range(2):
        theta = theta0.clone().requires_grad_(True)
        unit = torch.zeros(1, 2, dtype=torch.float64)
        unit[0, t] = 1.0
        scores[k, t] = -torch.autograd.grad(reinforce_loss(chain_log_probs(theta, TRAJ[k:k + 1]), unit), theta)[0]


def per_trajectory(baseline):
    """g_b(tau) for the 8 trajectories, shape (8, n_params); baseline broadcasts against G (8, 2)."""
    return ((G_traj - baseline)[..., None] * scores).sum(1)


g_exact = (p_traj[:, None] * per_trajectory(0.0)).sum(0)
torch.testing.assert_close(g_exact, grad_fd, rtol=0, atol=1e-7)

N_CHAIN = profile.pick(quick=4_000, full=40_000)
sample_gen = torch.Generator().manual_seed(profile.seed)
a0 = torch.multinomial(log_pi(theta0, STATES[0]).exp(), N_CHAIN, replacement=True, generator=sample_gen)
moved = torch.rand(N_CHAIN, generator=sample_gen, dtype=torch.float64) < Q
s1 = torch.where(moved, 1 + a0, 2 - a0)
a1 = torch.multinomial(log_pi(theta0, STATES[s1]).exp(), 1, generator=sample_gen).squeeze(1)
sampled = torch.stack([a0, s1, a1], dim=1)
index = a0 * 4 + (s1 - 1) * 2 + a1  # which of the 8 trajectories each sample is

theta = theta0.clone().requires_grad_(True)
loss = reinforce_loss(chain_log_probs(theta, sampled), discounted_returns(chain_rewards(sampled), 1.0))
g_reinforce = -torch.autograd.grad(loss, theta)[0]
torch.testing.assert_close(g_reinforce, per_trajectory(0.0)[index].mean(0))  # the same estimate, two ways
standard_error = per_trajectory(0.0)[index].std(0) / math.sqrt(N_CHAIN)
z_scores = ((g_reinforce - grad_fd) / standard_error).abs()
print(f"N = {N_CHAIN} trajectories; |REINFORCE - finite differences| / standard error per coordinate: "
      f"{np.round(z_scores.numpy(), 2)}")
assert float(z_scores.max()) < 4.0

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Why a baseline reduces variance without bias
#
# Subtracting $b_t$ changes each trajectory's estimate by $-\sum_t b_t\nabla\log\pi_\theta(a_t\mid s_t)$,
# whose expectation is zero (Section 1), so the mean is untouched. Its spread is not: here every
# return is between 2 and 6, so without a baseline every sample pushes up the log-probability of
# whatever it did, and the estimate is the small difference of large pushes. With
# $b_t = \mathbb E[G_t]$ each sample pushes up only what did better than average. We compute the
# total variance $\operatorname{tr}\operatorname{Cov}[g_b] = \sum_\tau p_\theta(\tau)\lVert g_b(\tau) - \nabla J\rVert^2$
# exactly, and measure it on the samples, with and without the baseline; the last column is the
# batch-mean baseline of `time_baseline` that the CartPole runs use.

# %% [markdown] slideshow={"slide_type": "notes"}
# A baseline changes the variance, not the mean: show the one-line proof that its expected score is
# zero, then the running-mean figure.

# %%
b_exact = (p_traj[:, None] * G_traj).sum(0)  # E[G_0] = J and E[G_1]


def exact_variance(baseline):
    g = per_trajectory(baseline)
    return float((p_traj * ((g - (p_traj[:, None] * g).sum(0)) ** 2).sum(1)).sum())


def sampled_variance(baseline):
    return float(per_trajectory(baseline)[index].var(0).sum())


g_baseline = (p_traj[:, None] * per_trajectory(b_exact)).sum(0)
torch.testing.assert_close(g_baseline, g_exact, rtol=0, atol=1e-12)  # unbiased: the same mean
G_sampled = discounted_returns(chain_rewards(sampled), 1.0)
b_batch = tu_rf.time_baseline(G_sampled, torch.ones_like(G_sampled, dtype=torch.bool))
var = {"exact, no baseline": exact_variance(0.0), "exact, b = E[G_t]": exact_variance(b_exact),
       "sampled, no baseline": sampled_variance(0.0), "sampled, b = E[G_t]": sampled_variance(b_exact),
       "sampled, batch mean": sampled_variance(b_batch)}
for name, v in var.items():
    print(f"{name:22s} total variance {v:8.4f}")
exact_ratio = var["exact, b = E[G_t]"] / var["exact, no baseline"]
sampled_ratio = var["sampled, b = E[G_t]"] / var["sampled, no baseline"]
print(f"the baseline keeps {exact_ratio:.1%} of the variance (exact), {sampled_ratio:.1%} (sampled)")
assert exact_ratio < 0.25
assert sampled_ratio < 0.3

# %% [markdown] slideshow={"slide_type": "subslide"}
# The figure makes the same point the way one meets it in training: the running mean of the
# sampled estimate of one coordinate of the gradient (the weight of the start state for action 0)
# as trajectories accumulate, with and without the baseline, against the finite-difference value.
# The same samples are used for both curves.

# %% slideshow={"slide_type": "-"}
coord = 0
n_axis = np.arange(1, N_CHAIN + 1)
fig, ax = plt.subplots(figsize=(6.5, 3.4))
for name, b in (("no baseline", 0.0), (r"baseline $b_t = \mathbb{E}[G_t]$", b_exact)):
    running = np.cumsum(per_trajectory(b)[index][:, coord].numpy()) / n_axis
    ax.plot(n_axis, running, label=name)
ax.axhline(float(grad_fd[coord]), color="k", ls="--", lw=1, label="finite differences of exact $J$")
ax.set(xscale="log", xlabel="trajectories sampled", ylabel=r"estimate of $\partial J/\partial\theta_1$",
       title="REINFORCE on the two-step chain")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. CartPole, and changing its physics
#
# The cart-pole of Barto, Sutton and Anderson (1983): a pole hinged on a cart, the agent pushes the
# cart left or right with a fixed force every 0.02 s, and earns 1 per step until the pole tilts
# past 12 degrees or the cart leaves the track. We cap episodes at 200 steps (as the original
# `CartPole-v0` did), so a return of 200 is a perfect episode. `make_cartpole` builds gymnasium's
# environment and writes new constants into its simulator: the pole's half length $\ell$, the
# masses, gravity $g$, the force, or swapped actions. The tests of `transfer_utils.rl.physics`
# check the simulator's steps against the equations with the new constants; here we watch them act.
# Every world starts from the same state, the pole tilted by 0.05 rad (about 3 degrees) with
# everything at rest, and receives the same 16 pushes, right, left, left, right and so on, which
# add up to no net push, so the pole slowly falls: a longer pole falls more slowly (its angular
# acceleration from gravity is about $g\sin\theta/(\tfrac43\ell)$), stronger gravity makes it fall
# faster, and the swapped world is the standard world with the opposite pushes, exactly.

# %% slideshow={"slide_type": "-"}
HORIZON = 200  # steps per episode at most: return 200 is a perfect episode
TARGETS = {"longer pole": CartPolePhysics(length=1.0),
           "stronger gravity": CartPolePhysics(gravity=2 * DEFAULT_PHYSICS.gravity),
           "swapped actions": CartPolePhysics(swap_actions=True)}
pushes = [1, 0, 0, 1] * 4


def play(physics, actions):
    """Pole angles (degrees) from the tilted start under the given pushes."""
    env = make_cartpole(physics, max_episode_steps=HORIZON)
    env.reset(seed=profile.seed)
    env.unwrapped.state = np.array([0.0, 0.0, 0.05, 0.0])  # x, x', theta, theta': the same start everywhere
    path = [0.05]
    for a in actions:
        obs, *_ = env.step(a)
        path.append(obs[2])
    return np.degrees(path)


fig, ax = plt.subplots(figsize=(6.5, 3.4))
angles = {}
for name, physics in {"standard": DEFAULT_PHYSICS, **TARGETS}.items():
    angles[name] = play(physics, pushes)
    ax.plot(angles[name], marker="o", ms=3, label=f"{name} ({physics.label()})")
ax.set(xlabel="step (0.02 s)", ylabel="pole angle (degrees)", title="The same pushes in four worlds")
ax.legend(fontsize=8)
plt.show()
print({name: round(float(a[-1]), 2) for name, a in angles.items()}, "degrees after", len(pushes), "steps")
assert angles["longer pole"][-1] < angles["standard"][-1] < angles["stronger gravity"][-1]
np.testing.assert_array_equal(angles["swapped actions"], play(DEFAULT_PHYSICS, [1 - a for a in pushes]))

# %% [markdown]
# ## 5. A source policy on the standard task
#
# The policy is linear: $\pi_\theta(a\mid s) = \operatorname{softmax}(Ws + c)_a$ on the 4-d state
# (cart position and velocity, pole angle and angular velocity), ten parameters, starting at zero
# (the uniform random policy, the same for every seed). `train_policy` plays a batch of 10 episodes
# in lockstep in 10 real gymnasium environments, computes returns-to-go with $\gamma = 0.99$, uses
# the batch's mean return-to-go at each step as the baseline, and takes one Adam step on the
# REINFORCE loss; it stops once a batch's mean return reaches the threshold of 195 (the old
# "solved" criterion of `CartPole-v0`). **Episodes to threshold** is the number of episodes played
# up to and including that batch. Every seed of `profile.seeds` seeds the environments' starts and
# the action sampler, through local generators only.

# %%
THRESHOLD = 195.0
BATCH = 10
LR = 0.1
BUDGET = profile.pick(quick=2_000, full=4_000)  # episodes at most, per run


def train(physics, seed, init=None, desc="REINFORCE"):
    """A copy of ``init`` (or a fresh zero policy) trained on ``physics`` until the threshold."""
    policy = copy.deepcopy(init) if init is not None else LinearSoftmaxPolicy(4, 2)
    result = train_policy(policy, lambda: make_cartpole(physics, max_episode_steps=HORIZON),
                          episodes=BUDGET, batch_size=BATCH, lr=LR, seed=seed, threshold=THRESHOLD,
                          stop_at_threshold=True, desc=desc)
    return policy, result


def to_threshold(result):
    """Episodes to threshold; infinity when the budget ran out first."""
    return math.inf if result.episodes_to_threshold is None else result.episodes_to_threshold


sources, source_runs = {}, {}
for seed in profile.seeds:
    sources[seed], source_runs[seed] = train(DEFAULT_PHYSICS, seed, desc=f"source, seed {seed}")
    print(f"seed {seed}: source reached {THRESHOLD:g} after {to_threshold(source_runs[seed])} episodes; "
          f"W = {np.round(sources[seed].linear.weight.detach().numpy()[1], 2)} (action 'push right')")
assert max(to_threshold(r) for r in source_runs.values()) <= BUDGET
push_right = np.stack([sources[s].linear.weight.detach().numpy()[1] for s in profile.seeds])
assert (push_right[:, 2:] > 0).all()  # angle and angular velocity: push toward the fall
assert (np.abs(push_right[:, 2:]).min(1) > np.abs(push_right[:, :2]).max(1)).all()

# %% [markdown] slideshow={"slide_type": "slide"}
# Every source policy learns the same thing: push toward the side the pole is falling to, above
# all in response to the pole's angle and angular velocity (the last two weights of the row for
# "push right" are the large positive ones on every seed). Hold on to that sign: it is what the
# swapped target will invert.
#
# ## 6. Warm start against training from scratch
#
# For each target and seed we train twice with the *same* target seed (the same episode starts and
# the same random stream for the actions): once from the source policy of that seed, once from
# zero. The first batch of a run is played before any update: for a warm run it is the source
# policy's zero-shot return on the target, for a run from scratch the uniform random policy's. The
# table gives both (mean over seeds) and the episodes to threshold per seed.

# %%
runs = {}
for name, physics in TARGETS.items():
    for seed in profile.seeds:
        target_seed = 10_000 + seed  # other starts than the source saw
        runs[name, "warm", seed] = train(physics, target_seed, init=sources[seed], desc=f"{name}, warm")[1]
        runs[name, "scratch", seed] = train(physics, target_seed, desc=f"{name}, scratch")[1]

episodes = {(name, how): [to_threshold(runs[name, how, s]) for s in profile.seeds]
            for name in TARGETS for how in ("warm", "scratch")}
zero_shot = {(name, how): np.mean([np.mean(runs[name, how, s].returns[:BATCH]) for s in profile.seeds])
             for name in TARGETS for how in ("warm", "scratch")}  # first batch: before any update
print(f"{'target':18s} {'random policy':>14s} {'source policy':>14s} {'warm: episodes':>22s} {'scratch: episodes':>22s}")
for name in TARGETS:
    print(f"{name:18s} {zero_shot[name, 'scratch']:14.1f} {zero_shot[name, 'warm']:14.1f} "
          f"{str(episodes[name, 'warm']):>22s} {str(episodes[name, 'scratch']):>22s}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The learning curves: each line is one seed, the mean return of each batch of 10 episodes against
# the episodes played, until the run reaches the threshold (the dashed line) and stops. Warm starts
# in orange, training from scratch in blue.

# %% slideshow={"slide_type": "-"}
fig, axes = plt.subplots(1, 4, figsize=(14, 3.4), sharey=True)
panels = [("standard (source)", {"scratch": [source_runs[s] for s in profile.seeds]})]
panels += [(name, {how: [runs[name, how, s] for s in profile.seeds] for how in ("scratch", "warm")})
           for name in TARGETS]
colors = {"scratch": "C0", "warm": "C1"}
for ax, (title, groups) in zip(axes, panels):
    for how, results in groups.items():
        for i, result in enumerate(results):
            batch_means = np.asarray(result.returns).reshape(-1, BATCH).mean(1)
            ax.plot(BATCH * np.arange(1, len(batch_means) + 1), batch_means, color=colors[how], lw=1,
                    alpha=0.8, label=how if i == 0 else None)
    ax.axhline(THRESHOLD, color="k", ls="--", lw=1)
    ax.set(title=title, xlabel="episodes played")
    ax.legend(fontsize=8)
axes[0].set_ylabel("mean return of a batch")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# And the summary that the claims are about: episodes to threshold per seed (dots) and their mean
# (bar), warm against scratch, for each target.

# %% slideshow={"slide_type": "-"}
fig, ax = plt.subplots(figsize=(6.5, 3.4))
for j, name in enumerate(TARGETS):
    for k, how in enumerate(("scratch", "warm")):
        vals = np.array(episodes[name, how], dtype=float)
        x = 3 * j + k
        ax.bar(x, vals.mean(), color=colors[how], alpha=0.4, label=how if j == 0 else None)
        ax.plot(np.full(len(vals), x), vals, "o", color=colors[how])
ax.set_xticks([3 * j + 0.5 for j in range(len(TARGETS))], list(TARGETS))
ax.set(ylabel="episodes to threshold", title=f"Episodes to a mean return of {THRESHOLD:g}")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# **The claims.** On both related targets the warm start reaches the threshold in fewer episodes
# than training from scratch, seed by seed: the ratio warm/scratch is below 1 on every seed. That is
# the whole claim, and it is not a wide one. Over the six runs of the claims sweep (18 seeds) the
# worst seed's ratio, per run and target, was 0.09-0.71: usually the source policy already nearly balances
# the new pole and the warm start passes the threshold within a few batches, but a source that only
# just reached the threshold can start a target near 180 and wander for a while before it passes
# 195, because REINFORCE's steps are noisy. On the swapped target the warm start is at least not
# faster, on every seed; in the sweep it needed 340-670 more episodes than scratch on its
# best seed (per run).

# %%
related = [name for name in TARGETS if not TARGETS[name].swap_actions]
warm_over_scratch = {name: max(w / s for w, s in zip(episodes[name, "warm"], episodes[name, "scratch"]))
                     for name in related}
print("largest warm/scratch ratio of episodes over seeds:",
      {k: round(v, 3) for k, v in warm_over_scratch.items()})
for name in related:
    assert warm_over_scratch[name] < 1.0
slowdown = min(w - s for w, s in zip(episodes["swapped actions", "warm"], episodes["swapped actions", "scratch"]))
print(f"swapped actions: the warm start needs at least {slowdown} more episodes than scratch on every seed")
assert slowdown >= 0

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Negative transfer: why the swapped target is slower
#
# With the actions swapped, the policy that balances is the source policy with its two rows
# exchanged: $\pi'(a\mid s) = \pi(1-a\mid s)$. The source policy does the opposite of what is
# needed, with confidence: it pushes the cart *away* from where the pole falls, and its zero-shot
# return (the table above, "source policy") is a handful of steps, worse than the random policy's.
# Gradient descent cannot swap rows; it has to walk the weights from $W_{\text{src}}$ through zero
# to about $-W_{\text{src}}$ (the rows of a softmax policy started at zero stay opposite, so
# exchanging them is negating $W$). A policy started from zero is only $\lVert W_{\text{src}}\rVert$
# away from that solution; the warm start is twice as far, and spends its first updates on short,
# uninformative episodes just undoing what it knows. The knowledge is not useless: the right *map*
# between the tasks (Taylor and Stone 2009 call it an inter-task mapping) makes it perfect again. We
# check that by swapping the source policy's rows and playing one batch on the swapped target.

# %% [markdown] slideshow={"slide_type": "notes"}
# Negative transfer: with swapped actions the source policy is exactly wrong. Ask the class what
# mapping of actions would rescue the transfer; the notebook shows that the mirrored policy does.

# %%
mirror_returns, source_on_swapped = [], []
for seed in profile.seeds:
    mirrored = copy.deepcopy(sources[seed])
    with torch.no_grad():
        mirrored.linear.weight.copy_(mirrored.linear.weight.flip(0))
        mirrored.linear.bias.copy_(mirrored.linear.bias.flip(0))
    envs = [make_cartpole(TARGETS["swapped actions"], max_episode_steps=HORIZON) for _ in range(BATCH)]
    starts = np.random.default_rng(20_000 + seed).integers(0, 2**31 - 1, size=BATCH).tolist()
    gen = torch.Generator().manual_seed(seed)
    mirror_returns.append(rollout(mirrored, envs, gen, seeds=starts).returns.mean())
    source_on_swapped.append(rollout(sources[seed], envs, gen, seeds=starts).returns.mean())
print(f"on the swapped target, mean return of one batch: source policy {np.round(source_on_swapped, 1)}, "
      f"rows swapped {np.round(mirror_returns, 1)}")
assert min(mirror_returns) > 10 * max(source_on_swapped)
assert zero_shot["swapped actions", "warm"] < zero_shot["swapped actions", "scratch"]  # worse than random

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Where this goes
#
# * **Actor-critic.** The baseline we used is a batch average. A learned critic $V_w(s)\approx\mathbb E[G_t\mid s_t = s]$
#   is a better one, state by state, and bootstrapping $G_t \approx r_t + \gamma V_w(s_{t+1})$ trades
#   a little bias for much less variance; Sutton et al. (2000) show when a learned critic leaves
#   the policy gradient exact (compatible function approximation). A2C, PPO and SAC are refinements
#   of this pattern.
# * **Transfer of value and policy.** Taylor and Stone (2009) survey what can be carried from a
#   source task: policies (as here), value functions, models, or experience, with or without an
#   inter-task mapping of states and actions. Section 7 is the simplest instance of why the
#   mapping matters.
# * **Fine-tuning large policies.** A pretrained policy is a warm start like ours; fine-tuning it by
#   policy gradient usually adds a penalty $\beta\,\mathrm{KL}(\pi_\theta\Vert\pi_{\text{pre}})$ that
#   keeps it near the pretrained one, the reinforcement learning version of the L2-SP regulariser
#   of notebook 06. That is how large language models are tuned from human feedback, with the same
#   score-function gradient at its core.
#
# ## Summary
#
# * The log-derivative trick, $\nabla p_\theta = p_\theta\nabla\log p_\theta$, turns the gradient of
#   an expected return into an expectation of $R\,\nabla\log p_\theta(\tau)$, and the environment's
#   dynamics drop out of $\nabla\log p_\theta(\tau)$. REINFORCE is a surrogate loss whose gradient
#   is that sample average. On a two-step chain its expectation equals finite differences of the
#   exact return, and a sampled estimate lies within four standard errors of it (the largest
#   deviation over the six runs of the claims sweep: 2.1 standard errors).
# * A baseline $b_t$ that does not depend on the action adds zero in expectation; on the chain the
#   baseline $\mathbb E[G_t]$ removed most of the variance, exactly and in the samples (it kept
#   10-13% of it over six runs).
# * On CartPole, a linear source policy trained on the standard cart warm-starts a longer pole and
#   stronger gravity: fewer episodes to the threshold than training from scratch on every seed of
#   the claims sweep, usually a small fraction of them. On swapped actions the same warm start is slower than starting from zero on every seed,
#   and swapping the policy's rows, the right map between the tasks, makes it perfect again.

# %% [markdown]
# ## Exercises
#
# 1. Show that a state-dependent baseline $b(s_t)$ leaves the policy gradient unbiased, and that for
#    a one-step problem the constant baseline that minimises the variance of $R\,g$, with
#    $g = \nabla_\theta\log\pi_\theta(a)$ and one parameter, is
#    $b^\star = \mathbb E[g^2 R]/\mathbb E[g^2]$, not $\mathbb E[R]$.
#
# <details><summary>Solution</summary>
#
# Condition on $s_t$: $\mathbb E[b(s_t)\nabla\log\pi_\theta(a_t\mid s_t)\mid s_t] = b(s_t)\sum_a \pi_\theta(a\mid s_t)\nabla\log\pi_\theta(a\mid s_t)
# = b(s_t)\nabla_\theta\sum_a\pi_\theta(a\mid s_t) = 0$, and the tower rule removes the condition.
# For the variance, $\operatorname{Var}[(R-b)g] = \mathbb E[(R-b)^2g^2] - (\mathbb E[Rg])^2$ because
# $\mathbb E[bg] = 0$; the second term does not depend on $b$, and the first is a quadratic in $b$,
# $\mathbb E[R^2g^2] - 2b\,\mathbb E[Rg^2] + b^2\mathbb E[g^2]$, minimised at $b^\star = \mathbb E[g^2R]/\mathbb E[g^2]$.
# It equals $\mathbb E[R]$ when $g^2$ and $R$ are uncorrelated; $\mathbb E[R]$ is the usual, nearly
# optimal choice because it is easy to estimate.
# </details>

# %% [markdown]
# **Exercise 1 in code, part (a): the score.** For the linear softmax policy
# $\pi_\theta(a\mid s) = \operatorname{softmax}(Ws + c)_a$, write `score(W, c, s, a)`, the gradient of
# $\log\pi_\theta(a\mid s)$ with respect to $W$ and $c$, in closed form: with
# $\pi = \operatorname{softmax}(Ws+c)$, $\nabla_c = e_a - \pi$ and $\nabla_W = (e_a - \pi)\,s^\top$. The
# check compares with autograd through the package's `LinearSoftmaxPolicy` at fresh parameters.

# %% tags=["exercise"]
def score(W: torch.Tensor, c: torch.Tensor, s: torch.Tensor, a: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(d log pi(a | s) / dW, d log pi(a | s) / dc) for pi = softmax(W s + c); W (A, S), c (A,), s (S,)."""
    raise NotImplementedError("pi = softmax(W s + c); grad_c = one_hot(a) - pi; grad_W = outer(grad_c, s)")

# %% [markdown] tags=["solution"]
# *Instructor's solution (left out of the student copy):*

# %% tags=["solution"]
def score(W: torch.Tensor, c: torch.Tensor, s: torch.Tensor, a: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(d log pi(a | s) / dW, d log pi(a | s) / dc) for pi = softmax(W s + c); W (A, S), c (A,), s (S,)."""
    pi = torch.softmax(W @ s + c, dim=0)
    grad_c = -pi
    grad_c[a] += 1.0
    return torch.outer(grad_c, s), grad_c

# %% [markdown]
# The check loads each fresh $(W, c)$ into a `LinearSoftmaxPolicy` and differentiates its log-probability:

# %% tags=["check"]
from transfer_utils.core.exercises import check_function


def score_autograd(W, c, s, a):
    policy = LinearSoftmaxPolicy(W.shape[1], W.shape[0]).double()
    with torch.no_grad():
        policy.linear.weight.copy_(W)
        policy.linear.bias.copy_(c)
    policy(s)[a].backward()
    return policy.linear.weight.grad, policy.linear.bias.grad


g121 = torch.Generator().manual_seed(121)
cases_121 = [(torch.randn(A, S, generator=g121, dtype=torch.float64), torch.randn(A, generator=g121, dtype=torch.float64),
              torch.randn(S, generator=g121, dtype=torch.float64), a)
             for A, S, a in ((2, 4, 0), (2, 4, 1), (3, 1, 2), (5, 3, 1))]
check_function("12.1 (score function)", score, score_autograd, cases_121, rtol=1e-10, atol=1e-12,
               hint="the gradient of log softmax(z)_a with respect to z is one_hot(a) - softmax(z); "
                    "the chain rule through z = W s + c gives the outer product with s.")

# %% [markdown]
# **Exercise 1 in code, part (b): the variance-optimal baseline.** From samples of the score $g$ (one
# parameter) and the return $R$ of a one-step problem, write `optimal_baseline(g, R)`, the sample
# version of $b^\star = \mathbb E[g^2R]/\mathbb E[g^2]$. The check compares with the $b$ that minimises
# the sample variance term $\frac1N\sum_i (R_i - b)^2 g_i^2$, found by least squares, on fresh
# samples where $g^2$ and $R$ are correlated (so $b^\star \ne \bar R$).

# %% tags=["exercise"]
def optimal_baseline(g: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """b* = mean(g^2 R) / mean(g^2) from N samples of the score g (N,) and the return R (N,)."""
    raise NotImplementedError("the g^2-weighted mean of R")

# %% [markdown] tags=["solution"]
# *Instructor's solution (left out of the student copy):*

# %% tags=["solution"]
def optimal_baseline(g: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """b* = mean(g^2 R) / mean(g^2) from N samples of the score g (N,) and the return R (N,)."""
    w = g**2
    return (w * R).sum() / w.sum()

# %% [markdown]
# The check solves $\min_b \lVert g\,b - g\odot R\rVert^2$ with `torch.linalg.lstsq`:

# %% tags=["check"]
from transfer_utils.core.exercises import check_function


def baseline_by_least_squares(g, R):
    return torch.linalg.lstsq(g.unsqueeze(1), (g * R).unsqueeze(1)).solution.squeeze()


g122 = torch.Generator().manual_seed(122)
cases_122 = []
for n, coupling in ((50, 1.0), (500, 3.0), (8, -2.0)):
    g_ = torch.randn(n, generator=g122, dtype=torch.float64)
    cases_122.append((g_, 1.0 + coupling * g_**2 + torch.randn(n, generator=g122, dtype=torch.float64)))
check_function("12.2 (optimal baseline)", optimal_baseline, baseline_by_least_squares, cases_122,
               rtol=1e-9, atol=1e-12,
               hint="weight each return by g^2; the plain mean of R is the optimum only when g^2 and R "
                    "are uncorrelated, which they are not here.")

# %% [markdown]
# 2. On the two-step chain, compare the exact variance of three baselines: none, the constant
#    $b = J$ for both steps, and the per-step $b_t = \mathbb E[G_t]$. Which removes the most, and why?
#
# <details><summary>Solution</summary>
#
# ```python
# for name, b in (("none", 0.0), ("constant J", b_exact[0]), ("per step E[G_t]", b_exact)):
#     print(name, exact_variance(b))
# ```
# The per-step baseline removes the most: the return-to-go of the second step is only the second
# reward, far smaller than $J$, so subtracting $J$ from it over-corrects and adds variance back. A
# baseline should estimate the return that the score it multiplies sees, which is why the
# CartPole runs subtract the mean return-to-go at each time step.
# </details>
#
# 3. Warm-start the swapped target from the source policy with its rows swapped (Section 7) and
#    count the episodes to threshold. Then try a warm start from the source policy scaled by 0.1
#    (a "shrunk" warm start) on the swapped and the longer-pole targets. What does shrinking buy and
#    cost?
#
# <details><summary>Solution</summary>
#
# ```python
# for seed in profile.seeds:
#     mirrored = copy.deepcopy(sources[seed]); shrunk = copy.deepcopy(sources[seed])
#     with torch.no_grad():
#         mirrored.linear.weight.copy_(mirrored.linear.weight.flip(0))
#         mirrored.linear.bias.copy_(mirrored.linear.bias.flip(0))
#         for p in shrunk.parameters():
#             p.mul_(0.1)
#     print(seed, to_threshold(train(TARGETS["swapped actions"], 10_000 + seed, init=mirrored)[1]),
#           {n: to_threshold(train(TARGETS[n], 10_000 + seed, init=shrunk)[1])
#            for n in ("swapped actions", "longer pole")})
# ```
# The mirrored start is the source policy on its own task in disguise (the same distribution of
# trajectories), so it starts where the source ended, near the threshold, instead of far below
# it. A shrunk start keeps the source's *direction* but acts almost at random: on the swapped target
# it starts close to where scratch starts, so it should cost much less than the full warm start; on
# the longer pole it gives up the zero-shot skill but keeps a useful direction. Shrinking is a hedge
# against negative transfer at the price of part of the positive transfer; compare the numbers you
# get with the table of Section 6, seed by seed.
# </details>
#
# 4. Make the target harder step by step, gravity $g \in \{9.8, 20, 40, 80\}$ (or half lengths from
#    0.5 down to 0.1), and plot the warm start's and scratch's episodes to threshold against the
#    change. Where does the warm start stop helping?
#
# <details><summary>Solution</summary>
#
# ```python
# for g in (9.8, 20.0, 40.0, 80.0):
#     phys = CartPolePhysics(gravity=g)
#     w = [to_threshold(train(phys, 10_000 + s, init=sources[s])[1]) for s in profile.seeds]
#     s_ = [to_threshold(train(phys, 10_000 + s)[1]) for s in profile.seeds]
#     print(g, w, s_)
# ```
# The source's sign pattern (push toward the fall, mostly on the angle and angular velocity) is
# right for any gravity; what changes is the gain the policy needs, so expect the warm start's
# zero-shot return to fall as $g$ grows while its direction stays useful. With a linear policy and a
# fixed force some targets may not be solvable within the budget at all (`inf` in the table), for
# the warm start and scratch alike. Compare this with Section 7: a change of magnitude keeps
# transfer positive, a change of sign makes it negative.
# </details>
#
# ## References
#
# * R. J. Williams. Simple statistical gradient-following algorithms for connectionist
#   reinforcement learning. Machine Learning 8, 229-256, 1992.
# * R. S. Sutton, D. McAllester, S. Singh and Y. Mansour. Policy gradient methods for reinforcement
#   learning with function approximation. NeurIPS 12, 2000.
# * M. E. Taylor and P. Stone. Transfer learning for reinforcement learning domains: a survey.
#   JMLR 10, 1633-1685, 2009.
# * A. G. Barto, R. S. Sutton and C. W. Anderson. Neuronlike adaptive elements that can solve
#   difficult learning control problems. IEEE Transactions on Systems, Man, and Cybernetics 13(5),
#   834-846, 1983.
# * M. Towers et al. Gymnasium: a standard interface for reinforcement learning environments.
#   arXiv:2407.17032, 2024.
