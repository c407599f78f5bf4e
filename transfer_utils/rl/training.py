r"""Play episodes with a policy in gymnasium environments and train it with REINFORCE.

:func:`rollout` plays one episode in each of :math:`N` environments in lockstep (one batched
policy evaluation per time step), :func:`train_policy` repeats

.. math::

    \theta \leftarrow \operatorname{Adam}\Big(\theta,\ \nabla_\theta\, \mathrm{reinforce\_loss}\big(\log\pi_\theta(a\mid s),\ G,\ b\big)\Big)

on batches of episodes, with :math:`G` the returns-to-go and :math:`b_t` the batch's mean
return-to-go at each step, and :func:`episodes_to_threshold` reads off how many episodes it took.
All randomness is local: the environments are seeded once from ``seed`` and actions are sampled
from a ``torch.Generator``, so a run does not depend on, or change, any global random state.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from transfer_utils.core.progress import progress_bar
from transfer_utils.core.validation import check_int, check_interval, check_number, check_positive
from transfer_utils.rl.reinforce import discounted_returns, reinforce_loss, time_baseline

__all__ = ["Episodes", "rollout", "TrainResult", "one_intra_op_thread", "train_policy", "episodes_to_threshold"]


@dataclass
class Episodes:
    """A batch of :math:`N` episodes padded to the longest, :math:`T` steps.

    Attributes:
        obs: states, ``(N, T, obs_dim)`` float32; actions: ``(N, T)`` int64; rewards: ``(N, T)``
            float32; mask: ``(N, T)`` bool, True on real steps.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    mask: torch.Tensor

    @property
    def returns(self) -> np.ndarray:
        """The undiscounted return of each episode, shape ``(N,)``."""
        return (self.rewards * self.mask).sum(1).numpy()


def rollout(policy: nn.Module, envs: Sequence[gym.Env], generator: torch.Generator,
            seeds: Sequence[int] | None = None) -> Episodes:
    """Play one episode in each environment with actions drawn from ``policy`` (log-probabilities
    over discrete actions) using ``generator``; ``seeds`` (one per environment) seed the resets,
    else each environment continues its own random stream."""
    if len(envs) == 0:
        raise ValueError("rollout needs at least one environment.")
    if seeds is not None and len(seeds) != len(envs):
        raise ValueError(f"give one seed per environment: {len(seeds)} seeds for {len(envs)} environments.")
    n = len(envs)
    obs = [env.reset(seed=None if seeds is None else int(seeds[i]))[0] for i, env in enumerate(envs)]
    alive = list(range(n))
    traj_obs: list[list[np.ndarray]] = [[] for _ in range(n)]
    traj_act: list[list[int]] = [[] for _ in range(n)]
    traj_rew: list[list[float]] = [[] for _ in range(n)]
    with torch.no_grad():
        while alive:
            state = torch.as_tensor(np.stack([obs[i] for i in alive]), dtype=torch.float32)
            actions = torch.multinomial(policy(state).exp(), 1, generator=generator).squeeze(1).tolist()
            still = []
            for i, a in zip(alive, actions):
                traj_obs[i].append(obs[i])
                traj_act[i].append(a)
                obs[i], r, terminated, truncated, _ = envs[i].step(a)
                traj_rew[i].append(float(r))
                if not (terminated or truncated):
                    still.append(i)
            alive = still
    T = max(len(a) for a in traj_act)
    d = len(traj_obs[0][0])
    out = Episodes(obs=torch.zeros(n, T, d), actions=torch.zeros(n, T, dtype=torch.long),
                   rewards=torch.zeros(n, T), mask=torch.zeros(n, T, dtype=torch.bool))
    for i in range(n):
        k = len(traj_act[i])
        out.obs[i, :k] = torch.as_tensor(np.stack(traj_obs[i]), dtype=torch.float32)
        out.actions[i, :k] = torch.as_tensor(traj_act[i])
        out.rewards[i, :k] = torch.as_tensor(traj_rew[i])
        out.mask[i, :k] = True
    return out


@dataclass
class TrainResult:
    """What :func:`train_policy` did: each episode's return in the order played, and the episode
    count at which the threshold was first reached (None if never)."""

    returns: list[float] = field(default_factory=list)
    episodes_to_threshold: int | None = None


def episodes_to_threshold(returns: Sequence[float], threshold: float, window: int) -> int | None:
    r"""The first episode count :math:`k \ge` ``window`` at which the mean return of episodes
    :math:`k-\text{window}+1, \dots, k` is at least ``threshold``; None if it never is."""
    window = check_int(window, "window", minimum=1)
    threshold = check_number(threshold, "threshold")
    r = np.asarray(returns, dtype=float)
    if r.ndim != 1:
        raise ValueError(f"returns must be one sequence of episode returns, got shape {r.shape}.")
    if len(r) < window:
        return None
    means = np.convolve(r, np.ones(window) / window, mode="valid")
    hit = np.flatnonzero(means >= threshold)
    return None if hit.size == 0 else int(hit[0]) + window


@contextlib.contextmanager
def one_intra_op_thread() -> Iterator[None]:
    """Run the block with one torch intra-op thread, then restore the caller's setting.

    Every tensor in a REINFORCE step on CartPole is tiny (a batch of 10 states, 10 parameters); a
    thread pool only adds synchronisation, which on a busy 2-core machine costs milliseconds per op.
    One thread also makes the result independent of the machine's thread count.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_policy(policy: nn.Module, make_env: Callable[[], gym.Env], *, episodes: int, batch_size: int,
                 lr: float, seed: int, gamma: float = 0.99, threshold: float | None = None,
                 stop_at_threshold: bool = False, desc: str = "REINFORCE") -> TrainResult:
    """Train ``policy`` in place by REINFORCE with a per-step mean baseline and Adam.

    Args:
        policy: maps states ``(B, obs_dim)`` to log-probabilities ``(B, n_actions)``.
        make_env: builds one environment (e.g. ``lambda: make_cartpole(physics)``).
        episodes: the budget, rounded down to whole batches.
        batch_size: episodes per gradient step (played in lockstep, one environment each).
        lr: Adam's step size.
        seed: seeds the environments' first resets and the action sampler.
        gamma: the discount in the returns-to-go.
        threshold: a return; when given, ``episodes_to_threshold`` is measured over windows of
            ``batch_size`` episodes (the mean return of one batch).
        stop_at_threshold: stop once the threshold is reached.
    """
    episodes = check_int(episodes, "episodes", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    check_positive(lr, "lr")
    check_interval(gamma, "gamma", 0.0, 1.0)
    if episodes < batch_size:
        raise ValueError(f"episodes ({episodes}) must be at least batch_size ({batch_size}).")
    seed = check_int(seed, "seed")
    generator = torch.Generator().manual_seed(seed)
    env_seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=batch_size).tolist()
    envs = [make_env() for _ in range(batch_size)]
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    result = TrainResult()
    try:
        with one_intra_op_thread():
            for step in progress_bar(range(episodes // batch_size), desc=desc, leave=False):
                batch = rollout(policy, envs, generator, seeds=env_seeds if step == 0 else None)
                result.returns.extend(batch.returns.tolist())
                if threshold is not None and result.episodes_to_threshold is None:
                    if float(batch.returns.mean()) >= threshold:
                        result.episodes_to_threshold = len(result.returns)
                        if stop_at_threshold:
                            break
                G = discounted_returns(batch.rewards, gamma)
                log_pi = policy(batch.obs).gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
                loss = reinforce_loss(log_pi, G, time_baseline(G, batch.mask), batch.mask)
                if not math.isfinite(float(loss.detach())):
                    raise FloatingPointError(f"the REINFORCE loss is {float(loss.detach())} at step {step}: lower lr.")
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    finally:
        for env in envs:
            env.close()
    return result
