"""Infrastructure every part uses: devices, seeds, run profiles, paths, atomic files and checkpoints,
input validation, plotting style and pairwise distances.

Modules:

* :mod:`atomic`: Atomic file writes, and the removal of the temporary files an interrupted write
  leaves behind.
* :mod:`checkpoint`: Save and load model checkpoints atomically and safely.
* :mod:`exercises`: Checks for the notebooks' runnable exercises: whether a learner's answer is
  right, and a helpful message when it is not.
* :mod:`device`: Pick the compute device: CUDA, then Apple MPS, then the CPU.
* :mod:`distances`: Pairwise squared Euclidean distances: the one place the kernels of the course
  compute them.
* :mod:`paths`: Where the course reads datasets and writes caches, and whether it may use the
  network.
* :mod:`plotting`: Plotting helpers with one consistent style.
* :mod:`profile`: Run profiles: one switch picks the size of every experiment.
* :mod:`progress`: Progress bars: live where someone watches them, quiet in a log.
* :mod:`seed`: Seed every random number generator the course uses, once, in a notebook's setup cell.
* :mod:`validation`: Input checks shared by the helpers, so that bad input gets the same clear
  message everywhere.

Nothing here imports from another part of the package. Import a helper from the module that defines
it, for example ``from transfer_utils.core.atomic import ...``; this package re-exports nothing.
"""

__all__ = ['atomic', 'checkpoint', 'device', 'distances', 'exercises', 'paths', 'plotting', 'profile', 'progress', 'seed', 'validation']
