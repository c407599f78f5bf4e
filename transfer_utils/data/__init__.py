"""Datasets of the course, read from the data directory (:func:`transfer_utils.core.paths.data_dir`).

Modules:

* :mod:`checks`: File checks shared by the dataset loaders: checksums and a clear error for missing
  files.
* :mod:`cifar`: CIFAR-10 (Krizhevsky 2009): the natural-image target task of notebooks 05 and 06.
* :mod:`digits`: Digits as domains of one task: MNIST (source), USPS (target) and scikit-learn's 8x8
  digits.
* :mod:`moons`: Two moons with a rotated target domain: the course's 2-D toy problem for domain
  adaptation.

Imports only from :mod:`transfer_utils.core`. Import a helper from the module that defines it, for
example ``from transfer_utils.data.checks import ...``; this package re-exports nothing.
"""

__all__ = ['checks', 'cifar', 'digits', 'moons']
