"""Part V, efficient transfer (notebook 13): the cost of fine-tuning and how to cut it.

Modules:

* :mod:`lora`: Low-rank adaptation: a frozen ``nn.Linear`` plus a trainable update
  :math:`(\\alpha/r) BA` with :math:`B = 0` at the start, its gradients
  :math:`\\partial L/\\partial A = s B^\\top G^\\top X`, :math:`\\partial L/\\partial B = s G^\\top X A^\\top`,
  injecting adapters by layer name and merging them back into plain weights; ranks checked. The
  same for an ``nn.Conv2d`` (:math:`A` a convolution with the base's kernel, :math:`B` a
  :math:`1 \\times 1` convolution; :math:`\\Delta W = sBA` on the flattened kernel).
* :mod:`costs`: What a training step costs: optimizer-state bytes (measured and predicted for
  Adam), bytes saved for the backward pass (saved-tensor hooks), CUDA peak memory, time per step.

Imports only from the parts below it: core, data, calculus, nets, transfer, adaptation, bayes, rl,
language. Import a helper from the module that defines it; this package re-exports nothing.
"""

__all__ = ['costs', 'lora']
