"""Datasets of the course, read from the data directory (:func:`transfer_utils.datadir.data_dir`).

* :mod:`transfer_utils.data.moons`: rotated two moons, the 2-D toy problem (notebooks 04, 07, 08).
* :mod:`transfer_utils.data.digits`: MNIST, USPS and scikit-learn's 8x8 digits as domains of one
  task, brought to a common (N, 1, 28, 28) form (notebooks 04-08, 10).
* :mod:`transfer_utils.data.checks`: checksum verification and the clear "dataset missing" error that
  every loader raises offline.

Import from the submodules; this package re-exports nothing.
"""
