"""Part II, transfer by parameters and features (notebooks 04-06): regularising toward source weights
and warm starts, the linear probe, contrastive pretraining and fine-tuning tools.

Modules:

* :mod:`contrastive`: Contrastive representation learning: the NT-Xent (InfoNCE) loss and digit
  augmentations.
* :mod:`finetune`: Fine-tuning tools: freezing, discriminative learning rates, warm-up, batch-norm
  handling, L2-SP.
* :mod:`parameter_transfer`: Parameter transfer as calculus: regularising toward source weights, and
  warm starts.
* :mod:`probe`: The linear probe: multinomial logistic regression on frozen features, a convex
  problem.

Imports only from the parts below it: core, data, calculus, nets. Import a helper from the module
that defines it, for example ``from transfer_utils.transfer.contrastive import ...``; this package
re-exports nothing.
"""

__all__ = ['contrastive', 'finetune', 'parameter_transfer', 'probe']
