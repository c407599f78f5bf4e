"""Datasets of the course, read from the data directory (:func:`transfer_utils.core.paths.data_dir`).

Modules:

* :mod:`checks`: Is the data a notebook needs present and intact? One check before minutes are
  spent.
* :mod:`checksums`: Checksums of dataset files: MD5 digests, verified against the course's,
  remembered across runs.
* :mod:`cifar`: CIFAR-10 (Krizhevsky 2009): the natural-image target task of notebooks 05 and 06.
* :mod:`cifar_archive`: The CIFAR-10 JPEG archives, extracted once, atomically, into the cache:
  introduced in notebook 05.
* :mod:`digits`: Digits as domains of one task: MNIST (source), USPS (target) and scikit-learn's 8x8
  digits.
* :mod:`files`: The files a dataset loader needs: present and verified, downloaded only when
  allowed, or one clear error.
* :mod:`mnist_usps`: The MNIST and USPS files: read through torchvision from the data directory,
  checked, transformed.
* :mod:`moons`: Two moons with a rotated target domain: the course's 2-D toy problem for domain
  adaptation.

Imports only from :mod:`transfer_utils.core`. Import a helper from the module that defines it, for
example ``from transfer_utils.data.checks import ...``; this package re-exports nothing.
"""

__all__ = ['checks', 'checksums', 'cifar', 'cifar_archive', 'digits', 'files', 'mnist_usps', 'moons']
