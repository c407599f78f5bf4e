"""CartPole with changed physics: the change reaches the simulator (checked against the cart-pole
equations written out here, and by trajectories that differ), and bad physics is refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from transfer_utils.rl.physics import DEFAULT_PHYSICS, CartPolePhysics, SwapActions, make_cartpole, physics_of


def euler_step(state: np.ndarray, action: int, g: float, mc: float, mp: float, half: float, fmax: float,
               tau: float = 0.02) -> np.ndarray:
    """One Euler step of the Barto-Sutton-Anderson cart-pole, written from the paper's equations."""
    x, x_dot, th, th_dot = state
    force = fmax if action == 1 else -fmax
    m = mc + mp
    temp = (force + mp * half * th_dot ** 2 * math.sin(th)) / m
    th_acc = (g * math.sin(th) - math.cos(th) * temp) / (half * (4 / 3 - mp * math.cos(th) ** 2 / m))
    x_acc = temp - mp * half * th_acc * math.cos(th) / m
    return np.array([x + tau * x_dot, x_dot + tau * x_acc, th + tau * th_dot, th_dot + tau * th_acc])


def play(env, actions, seed=0):
    obs, _ = env.reset(seed=seed)
    states = [obs]
    for a in actions:
        obs, *_ = env.step(a)
        states.append(obs)
    return np.array(states)


@pytest.mark.parametrize("physics", [
    DEFAULT_PHYSICS,
    CartPolePhysics(length=1.0),
    CartPolePhysics(gravity=20.0, masspole=0.5),
    CartPolePhysics(masscart=2.0, force_mag=5.0),
])
def test_the_simulator_follows_the_equations_with_the_new_constants(physics):
    env = make_cartpole(physics)
    assert physics_of(env) == physics
    actions = [1, 1, 0, 1, 0, 0, 1]
    states = play(env, actions)
    for t, a in enumerate(actions):
        expected = euler_step(states[t].astype(float), a, physics.gravity, physics.masscart, physics.masspole,
                              physics.length, physics.force_mag)
        np.testing.assert_allclose(states[t + 1], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("changed", [dict(length=1.0), dict(gravity=20.0), dict(masspole=0.5),
                                     dict(masscart=3.0), dict(force_mag=5.0)])
def test_a_changed_constant_changes_the_trajectory(changed):
    actions = [1] * 6  # before the pole falls
    standard = play(make_cartpole(), actions)
    other = play(make_cartpole(CartPolePhysics(**changed)), actions)
    np.testing.assert_array_equal(standard[0], other[0])  # same start from the same seed
    assert np.abs(standard[-1] - other[-1]).max() > 1e-3


def test_swapped_actions_invert_the_push():
    env = make_cartpole(CartPolePhysics(swap_actions=True))
    assert isinstance(env, SwapActions) and physics_of(env).swap_actions
    actions = [1, 0, 0, 1, 1]
    np.testing.assert_array_equal(play(env, actions), play(make_cartpole(), [1 - a for a in actions]))
    assert CartPolePhysics(swap_actions=True).label() == "swap_actions"
    assert CartPolePhysics(length=1.0).label() == "length=1" and DEFAULT_PHYSICS.label() == "standard"


def test_time_limit():
    env = make_cartpole(max_episode_steps=5)
    env.reset(seed=0)
    for _ in range(4):
        assert not env.step(0 if _ % 2 else 1)[3]
    assert env.step(1)[3]  # truncated at step 5


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(length=-1.0), ValueError, "length must be positive"),
    (dict(force_mag=-10.0), ValueError, "swap_actions"),
    (dict(gravity=float("nan")), ValueError, "gravity"),
    (dict(masspole="heavy"), TypeError, "masspole"),
    (dict(swap_actions=1), TypeError, "swap_actions must be a bool"),
])
def test_bad_physics_is_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        CartPolePhysics(**kwargs)


def test_bad_arguments_to_make_cartpole():
    with pytest.raises(TypeError, match="CartPolePhysics"):
        make_cartpole({"length": 1.0})
    with pytest.raises(ValueError, match="max_episode_steps"):
        make_cartpole(max_episode_steps=0)
