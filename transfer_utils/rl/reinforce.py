r"""REINFORCE (Williams 1992): a softmax policy, discounted returns, and the score-function loss.

The policy gradient theorem. For trajectories :math:`\tau = (s_0, a_0, r_0, \dots, s_{T-1}, a_{T-1}, r_{T-1})`
drawn by running the policy :math:`\pi_\theta` in an environment with dynamics :math:`p(s' \mid s, a)`,

.. math::

    \nabla_\theta\, \mathbb E_{\tau\sim p_\theta}[R(\tau)] = \mathbb E_{\tau\sim p_\theta}\big[R(\tau)\,\nabla_\theta \log p_\theta(\tau)\big],
    \qquad \nabla_\theta \log p_\theta(\tau) = \sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t),

by :math:`\nabla p = p\,\nabla\log p` under the integral; the dynamics do not depend on
:math:`\theta` and drop out. Rewards earned before :math:`t` do not depend on :math:`a_t`, so
:math:`R` may be replaced by the return-to-go :math:`G_t = \sum_{k \ge t}\gamma^{k-t} r_k`, and any
baseline :math:`b_t` that does not depend on :math:`a_t` may be subtracted, because
:math:`\mathbb E_{a\sim\pi}[b\,\nabla_\theta\log\pi_\theta(a\mid s)] = b\,\nabla_\theta\sum_a \pi_\theta(a\mid s) = 0`.
:func:`reinforce_loss` is the surrogate whose gradient is that estimate on a batch of episodes.
"""

from __future__ import annotations

import torch
from torch import nn

from transfer_utils.core.validation import check_finite, check_int, check_interval, check_tensor

__all__ = ["LinearSoftmaxPolicy", "discounted_returns", "time_baseline", "reinforce_loss"]


class LinearSoftmaxPolicy(nn.Module):
    r"""A linear softmax policy :math:`\pi_\theta(a \mid s) = \operatorname{softmax}(W s + c)_a`.

    Starts at :math:`W = 0, c = 0`: the uniform random policy, the same for every seed.

    Args:
        obs_dim: the size of the state :math:`s` (4 for CartPole; 1 with :math:`s = 1` for a bandit).
        n_actions: the number of actions (2 for CartPole).
    """

    def __init__(self, obs_dim: int, n_actions: int) -> None:
        super().__init__()
        check_int(obs_dim, "obs_dim", minimum=1)
        check_int(n_actions, "n_actions", minimum=2)
        self.linear = nn.utils.skip_init(nn.Linear, obs_dim, n_actions)  # no draw from the global RNG
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Log-probabilities :math:`\\log\\pi_\\theta(\\cdot \\mid s)`, shape ``(..., n_actions)``."""
        check_tensor(obs, "obs")
        if obs.shape[-1] != self.linear.in_features:
            raise ValueError(f"obs must end in {self.linear.in_features} state entries, got shape {tuple(obs.shape)}.")
        z = self.linear(obs.to(self.linear.weight.dtype))
        # z - logsumexp(z) is log_softmax; torch.log_softmax on CPU hands even a 10 x 2 batch to its
        # thread pool, which costs milliseconds per call on a busy machine
        return z - torch.logsumexp(z, dim=-1, keepdim=True)


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    r"""Returns-to-go along the last axis: :math:`G_t = \sum_{k=t}^{T-1} \gamma^{k-t} r_k`.

    Computed backwards by :math:`G_{T-1} = r_{T-1}`, :math:`G_t = r_t + \gamma\, G_{t+1}`. A batch of
    episodes padded with zero rewards after each one ends, shape ``(N, T)``, gets the right returns
    on every real step.

    Args:
        rewards: shape ``(..., T)``, floating point, finite.
        gamma: the discount, in [0, 1].
    """
    check_tensor(rewards, "rewards")
    if rewards.dim() == 0 or not rewards.is_floating_point():
        raise TypeError(f"rewards must be a floating-point tensor of shape (..., T), got "
                        f"{rewards.dtype} of shape {tuple(rewards.shape)}.")
    check_finite(rewards, "rewards")
    gamma = check_interval(gamma, "gamma", 0.0, 1.0)
    out = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[..., 0])
    for t in range(rewards.shape[-1] - 1, -1, -1):
        running = rewards[..., t] + gamma * running
        out[..., t] = running
    return out


def time_baseline(returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""The mean return-to-go at each time step over the episodes still running,
    :math:`b_t = \sum_i m_{it} G_{it} / \sum_i m_{it}` (0 where no episode runs), shape ``(T,)``.

    It depends on the batch, so on :math:`a_t` through one episode in :math:`N`: the bias this adds is
    :math:`O(1/N)`, the usual price of a batch-mean baseline.
    """
    check_tensor(returns, "returns")
    check_tensor(mask, "mask")
    if returns.dim() != 2 or mask.shape != returns.shape:
        raise ValueError(f"returns and mask must both have shape (N, T), got {tuple(returns.shape)} "
                         f"and {tuple(mask.shape)}.")
    m = mask.to(returns.dtype)
    return (returns * m).sum(0) / m.sum(0).clamp_min(1.0)


def reinforce_loss(log_probs: torch.Tensor, returns: torch.Tensor, baseline: torch.Tensor | float = 0.0,
                   mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""The REINFORCE surrogate on a batch of :math:`N` episodes,

    .. math::

        L(\theta) = -\frac1N \sum_{i=1}^N \sum_t m_{it}\,\big(G_{it} - b_t\big)\,\log\pi_\theta(a_{it}\mid s_{it}),

    whose gradient :math:`-\nabla_\theta L` is the score-function estimate of
    :math:`\nabla_\theta\,\mathbb E[\sum_t \gamma^t r_t]` (with :math:`G` the returns-to-go; with
    :math:`\gamma^t G_t` it would be exact, and dropping :math:`\gamma^t` is the usual choice). The
    returns and the baseline are constants (detached): only :math:`\log\pi_\theta` is differentiated.

    Args:
        log_probs: :math:`\log\pi_\theta(a_{it}\mid s_{it})` of the actions taken, shape ``(N, T)``
            (or ``(N,)`` for one-step episodes such as a bandit's).
        returns: :math:`G_{it}`, the same shape.
        baseline: :math:`b_t`, a number or a tensor that broadcasts against ``returns``.
        mask: 1 on real steps and 0 on padding, the same shape; all ones when None.
    """
    for name, t in (("log_probs", log_probs), ("returns", returns)):
        check_tensor(t, name)
        check_finite(t, name)
    if log_probs.shape != returns.shape or log_probs.dim() not in (1, 2):
        raise ValueError(f"log_probs and returns must have the same shape (N,) or (N, T), got "
                         f"{tuple(log_probs.shape)} and {tuple(returns.shape)}.")
    if log_probs.shape[0] == 0:
        raise ValueError("reinforce_loss needs at least one episode (N >= 1).")
    if mask is not None:
        check_tensor(mask, "mask")
        if mask.shape != returns.shape:
            raise ValueError(f"mask must have shape {tuple(returns.shape)}, got {tuple(mask.shape)}.")
    advantage = (returns - baseline).detach()
    if mask is not None:
        advantage = advantage * mask.to(advantage.dtype)
    per_episode = advantage * log_probs
    if per_episode.dim() == 2:
        per_episode = per_episode.sum(1)
    return -per_episode.mean()
