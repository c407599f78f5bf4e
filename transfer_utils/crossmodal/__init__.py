"""Part V, cross-modal transfer (notebook 14): two pretrained encoders of different modalities
mapped into one space by a contrastive objective.

Modules:

* :mod:`infonce`: the symmetric InfoNCE loss of paired embeddings (CLIP) with a learnable
  temperature, and its gradient in the similarities and in the log-temperature, derived by hand.
* :mod:`heads`: two linear projection heads (image features, sentence embeddings) into a shared
  space, and their training loop on pairs of an image and a sentence of its class.
* :mod:`zeroshot`: sentences per class (name templates and descriptions), class prototypes, and
  zero-shot classification by the most similar prototype.
* :mod:`descriptions`: hand-written descriptions of the ten CIFAR-10 classes with attributes shared
  across classes, and the name templates.

Imports only from the parts below it: core, data, calculus, nets, transfer, adaptation, bayes, rl,
language, efficient. Import a helper from the module that defines it, for example ``from
transfer_utils.crossmodal.infonce import symmetric_infonce``; this package re-exports nothing.
"""

__all__ = ["descriptions", "heads", "infonce", "zeroshot"]
