"""REINFORCE's pieces against independent references: returns by a hand loop, the score-function
gradient against the exact gradient of a bandit's expected reward, and the training loop's
bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from transfer_utils.rl.physics import CartPolePhysics, make_cartpole
from transfer_utils.rl.reinforce import LinearSoftmaxPolicy, discounted_returns, reinforce_loss, time_baseline
from transfer_utils.rl.training import episodes_to_threshold, rollout, train_policy


def test_discounted_returns_match_a_hand_loop():
    rng = np.random.default_rng(0)
    r = rng.normal(size=(3, 7))
    gamma = 0.9
    expected = np.zeros_like(r)
    for i in range(3):
        for t in range(7):
            expected[i, t] = sum(gamma ** (k - t) * r[i, k] for k in range(t, 7))
    got = discounted_returns(torch.tensor(r), gamma)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(discounted_returns(torch.tensor(r[0]), 1.0).numpy(), np.cumsum(r[0][::-1])[::-1])


def test_the_policy_is_a_log_softmax():
    policy = LinearSoftmaxPolicy(3, 4).double()
    with torch.no_grad():
        policy.linear.weight.copy_(torch.arange(12.0).view(4, 3) / 7)
    obs = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(policy(obs), torch.log_softmax(policy.linear(obs), -1))
    torch.testing.assert_close(LinearSoftmaxPolicy(4, 2)(torch.ones(1, 4)).exp(), torch.full((1, 2), 0.5))


def test_time_baseline_is_the_mean_over_running_episodes():
    G = torch.tensor([[3.0, 2.0, 1.0], [5.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True], [True, False, False]])
    torch.testing.assert_close(time_baseline(G, mask), torch.tensor([4.0, 2.0, 1.0]))


def bandit(probs_logits: torch.Tensor, rewards: torch.Tensor):
    """Exact expected reward J and its analytic gradient pi_a (r_a - J) for a softmax bandit."""
    pi = torch.softmax(probs_logits, 0)
    J = (pi * rewards).sum()
    return J, pi * (rewards - J)


def _policy(logits: torch.Tensor) -> LinearSoftmaxPolicy:
    policy = LinearSoftmaxPolicy(1, len(logits)).double()
    with torch.no_grad():
        policy.linear.bias.copy_(logits)
    return policy


@pytest.mark.parametrize("baseline", [0.0, 4.0])
def test_expected_reinforce_gradient_is_the_exact_gradient(baseline: float):
    logits = torch.tensor([0.3, -0.5, 0.1], dtype=torch.float64)
    rewards = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    _, exact = bandit(logits, rewards)
    policy = _policy(logits)
    actions = torch.arange(3)
    log_pi = policy(torch.ones(3, 1, dtype=torch.float64))[actions, actions]
    pi = log_pi.exp().detach()
    # one "episode" per arm, weighted by 3 pi_a so that the batch mean is the expectation over arms
    loss = reinforce_loss(log_pi * 3 * pi, rewards, baseline)
    (grad,) = torch.autograd.grad(-loss, policy.linear.bias)
    torch.testing.assert_close(grad, exact, rtol=1e-12, atol=1e-12)


def test_sampled_reinforce_gradient_agrees_within_its_standard_error():
    logits = torch.tensor([0.3, -0.5, 0.1], dtype=torch.float64)
    rewards = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    _, exact = bandit(logits, rewards)
    policy = _policy(logits)
    gen = torch.Generator().manual_seed(0)
    n = 20_000
    pi = torch.softmax(logits, 0)
    a = torch.multinomial(pi, n, replacement=True, generator=gen)
    log_pi = policy(torch.ones(n, 1, dtype=torch.float64)).gather(1, a[:, None]).squeeze(1)
    (grad,) = torch.autograd.grad(-reinforce_loss(log_pi, rewards[a]), policy.linear.bias)
    per_sample = rewards[a, None] * (torch.nn.functional.one_hot(a, 3) - pi)  # R * grad log pi
    se = per_sample.std(0) / n ** 0.5
    assert ((grad - exact).abs() < 4 * se).all(), (grad, exact, se)
    assert (grad - exact).abs().max() > 0  # a sampled estimate, not the exact one


def test_episodes_to_threshold_matches_a_hand_loop():
    returns = [10, 50, 200, 190, 200, 210, 20]
    for window in (1, 2, 3):
        expected = next((k for k in range(window, len(returns) + 1)
                         if np.mean(returns[k - window:k]) >= 195), None)
        assert episodes_to_threshold(returns, 195, window) == expected
    assert episodes_to_threshold(returns, 1000, 2) is None
    assert episodes_to_threshold([1.0], 0.0, 2) is None


def test_rollout_pads_and_masks():
    envs = [make_cartpole(max_episode_steps=30) for _ in range(3)]
    batch = rollout(LinearSoftmaxPolicy(4, 2), envs, torch.Generator().manual_seed(0), seeds=[1, 2, 3])
    lengths = batch.mask.sum(1)
    assert batch.obs.shape[:2] == batch.actions.shape == batch.rewards.shape
    assert int(lengths.max()) == batch.mask.shape[1] and (lengths <= 30).all()
    np.testing.assert_array_equal(batch.returns, lengths.numpy())  # reward 1 per step
    assert not batch.mask[lengths.argmin(), -1] or lengths.min() == lengths.max()


def test_train_policy_is_reproducible_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    threads = torch.get_num_threads()
    np_state = np.random.get_state()[1].copy()
    runs = []
    for _ in range(2):
        policy = LinearSoftmaxPolicy(4, 2)
        res = train_policy(policy, lambda: make_cartpole(max_episode_steps=50), episodes=20,
                           batch_size=5, lr=0.1, seed=3, threshold=1.0)
        runs.append((res.returns, policy.linear.weight.detach().clone()))
    assert runs[0][0] == runs[1][0] and len(runs[0][0]) == 20
    torch.testing.assert_close(runs[0][1], runs[1][1], rtol=0, atol=0)
    assert runs[0][1].abs().sum() > 0  # it did train
    assert res.episodes_to_threshold == 5  # every episode earns at least 1
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.get_num_threads() == threads  # one thread inside the loop, the caller's after it
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)


@pytest.mark.parametrize("call, error, match", [
    (lambda: discounted_returns(torch.ones(3), 1.5), ValueError, "gamma"),
    (lambda: discounted_returns([1.0, 2.0], 0.9), TypeError, "torch.Tensor"),
    (lambda: discounted_returns(torch.tensor([1.0, float("nan")]), 0.9), ValueError, "NaN"),
    (lambda: discounted_returns(torch.ones(3, dtype=torch.long), 0.9), TypeError, "floating"),
    (lambda: reinforce_loss(torch.zeros(2, 3), torch.zeros(2, 4)), ValueError, "same shape"),
    (lambda: reinforce_loss(torch.zeros(2), torch.zeros(2), mask=torch.ones(3)), ValueError, "mask"),
    (lambda: time_baseline(torch.zeros(2, 3), torch.ones(3, 2)), ValueError, "shape"),
    (lambda: LinearSoftmaxPolicy(4, 1), ValueError, "n_actions"),
    (lambda: LinearSoftmaxPolicy(4, 2)(torch.zeros(2, 3)), ValueError, "4 state entries"),
    (lambda: episodes_to_threshold([1, 2], 1.0, 0), ValueError, "window"),
    (lambda: train_policy(LinearSoftmaxPolicy(4, 2), make_cartpole, episodes=3, batch_size=5, lr=0.1,
                          seed=0), ValueError, "batch_size"),
    (lambda: train_policy(LinearSoftmaxPolicy(4, 2), make_cartpole, episodes=10, batch_size=5, lr=-1.0,
                          seed=0), ValueError, "lr"),
    (lambda: rollout(LinearSoftmaxPolicy(4, 2), [], torch.Generator()), ValueError, "at least one"),
])
def test_bad_inputs_get_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
