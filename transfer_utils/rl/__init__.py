"""Part V, transfer in reinforcement learning (notebook 12): REINFORCE and CartPole with changed
physics.

Modules:

* :mod:`physics`: CartPole with changed physics (pole length, masses, gravity, force, swapped
  actions), built on gymnasium's real environment.
* :mod:`reinforce`: The policy gradient pieces: a linear softmax policy, discounted returns, a
  per-step baseline and the REINFORCE loss.
* :mod:`training`: Batched rollouts in gymnasium environments, the REINFORCE training loop and
  episodes to a return threshold.

Imports only from the parts below it: core, data, calculus, nets, transfer, adaptation, bayes.
Import a helper from the module that defines it, for example ``from transfer_utils.rl.reinforce
import reinforce_loss``; this package re-exports nothing.
"""

__all__ = ['physics', 'reinforce', 'training']
