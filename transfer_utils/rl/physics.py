r"""CartPole (Barto, Sutton and Anderson 1983) with changed physics: the target tasks of notebook 12.

Gymnasium's ``CartPole-v1`` integrates, every :math:`\tau = 0.02` s with the explicit Euler method,

.. math::

    \ddot\theta = \frac{g\sin\theta - \cos\theta\,\dfrac{F + m_p \ell\,\dot\theta^2\sin\theta}{m_c + m_p}}
                       {\ell\Big(\tfrac43 - \dfrac{m_p\cos^2\theta}{m_c + m_p}\Big)},\qquad
    \ddot x = \frac{F + m_p \ell\,\dot\theta^2\sin\theta}{m_c + m_p} - \frac{m_p \ell\,\ddot\theta\cos\theta}{m_c + m_p},

with :math:`F = +F_{\max}` for action 1 and :math:`-F_{\max}` for action 0, :math:`g` the gravity,
:math:`m_c, m_p` the cart's and the pole's masses and :math:`\ell` the pole's *half* length. The
episode ends when :math:`|\theta| > 12^\circ` or :math:`|x| > 2.4`, or at the time limit; every step
earns reward 1. :func:`make_cartpole` builds the real environment and sets these constants on it
(the derived ``total_mass`` and ``polemass_length`` included, which the simulator reads), and can
swap the two actions, which inverts what a policy has learned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import gymnasium as gym

from transfer_utils.core.validation import check_int, check_positive

__all__ = ["CartPolePhysics", "DEFAULT_PHYSICS", "SwapActions", "make_cartpole", "physics_of"]


@dataclass(frozen=True)
class CartPolePhysics:
    """The constants of the cart-pole (gymnasium's defaults): ``length`` is the half length (m),
    masses in kg, ``gravity`` in m/s^2, ``force_mag`` in N; ``swap_actions`` exchanges the two
    actions (action 1 then pushes left)."""

    gravity: float = 9.8
    masscart: float = 1.0
    masspole: float = 0.1
    length: float = 0.5
    force_mag: float = 10.0
    swap_actions: bool = False

    def __post_init__(self) -> None:
        for name in ("gravity", "masscart", "masspole", "length", "force_mag"):
            check_positive(getattr(self, name), name,
                           advice="to invert the push, use swap_actions=True instead of a negative force")
        if not isinstance(self.swap_actions, bool):
            raise TypeError(f"swap_actions must be a bool, got {type(self.swap_actions).__name__}.")

    def changed(self) -> dict[str, object]:
        """The constants that differ from gymnasium's defaults, e.g. ``{"length": 1.0}``."""
        default = asdict(DEFAULT_PHYSICS)
        return {k: v for k, v in asdict(self).items() if v != default[k]}

    def label(self) -> str:
        """A short name for plots: ``"standard"`` or e.g. ``"length=1, swap_actions"``."""
        changed = self.changed()
        if not changed:
            return "standard"
        return ", ".join(k if v is True else f"{k}={v:g}" for k, v in changed.items())


DEFAULT_PHYSICS = CartPolePhysics()


class SwapActions(gym.ActionWrapper):
    """Action ``a`` in {0, 1} reaches the simulator as ``1 - a``: the push goes the other way."""

    def action(self, action: int) -> int:
        return 1 - int(action)


def make_cartpole(physics: CartPolePhysics = DEFAULT_PHYSICS, *, max_episode_steps: int = 500) -> gym.Env:
    """Gymnasium's ``CartPole-v1`` with the constants of ``physics`` set on the simulator.

    Args:
        physics: the constants (:class:`CartPolePhysics`); the default is the standard task.
        max_episode_steps: the time limit (``CartPole-v1`` uses 500, the older ``v0`` 200).

    Returns:
        the environment, wrapped in :class:`SwapActions` when ``physics.swap_actions``.

    Raises:
        TypeError: ``physics`` is not a :class:`CartPolePhysics`, or a bad time limit.
        ValueError: a time limit below 1.
    """
    if not isinstance(physics, CartPolePhysics):
        raise TypeError(f"physics must be a CartPolePhysics, got {type(physics).__name__}; "
                        f"e.g. CartPolePhysics(length=1.0).")
    check_int(max_episode_steps, "max_episode_steps", minimum=1)
    env = gym.make("CartPole-v1", max_episode_steps=max_episode_steps)
    sim = env.unwrapped
    sim.gravity = float(physics.gravity)
    sim.masscart = float(physics.masscart)
    sim.masspole = float(physics.masspole)
    sim.length = float(physics.length)
    sim.force_mag = float(physics.force_mag)
    sim.total_mass = sim.masspole + sim.masscart  # derived constants the step function reads
    sim.polemass_length = sim.masspole * sim.length
    return SwapActions(env) if physics.swap_actions else env


def physics_of(env: gym.Env) -> CartPolePhysics:
    """Read the constants back from an environment made by :func:`make_cartpole` (the simulator's
    own attributes, so a test can see that a change reached it)."""
    sim = env.unwrapped
    swapped = False
    layer = env
    while isinstance(layer, gym.Wrapper):
        swapped ^= isinstance(layer, SwapActions)
        layer = layer.env
    return CartPolePhysics(gravity=sim.gravity, masscart=sim.masscart, masspole=sim.masspole,
                           length=sim.length, force_mag=sim.force_mag, swap_actions=swapped)
