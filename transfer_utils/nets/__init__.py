"""Networks the transfer parts share (notebooks 04-08): a readable training loop, frozen feature
extraction, pretrained backbones and the course's own MNIST source model.

Modules:

* :mod:`backbones`: Pretrained natural-image backbones, loaded through their libraries' weight APIs.
* :mod:`batches`: Batches for the training loops: moved to a device, split into inputs and targets,
  scored.
* :mod:`features`: Frozen feature extraction: run a network once over a dataset and keep its
  outputs.
* :mod:`scratch`: The scratch baseline: a small CNN and a training budget that lets it fit a few
  labelled images.
* :mod:`source_models`: The course's own pretrained source model: a small CNN trained on MNIST,
  cached and reused.
* :mod:`training`: A plain training loop a reader can follow: :func:`fit` and :func:`evaluate`.

Imports only from the parts below it: core, data, calculus. Import a helper from the module that
defines it, for example ``from transfer_utils.nets.backbones import ...``; this package re-exports
nothing.
"""

__all__ = ['backbones', 'batches', 'features', 'scratch', 'source_models', 'training']
