"""Part III, domain adaptation (notebooks 07-08): discrepancies between domains, subspace alignment,
CORAL, MMD, the gradient reversal layer, DANN and CDAN, and the training loop that adds an
adaptation loss to the task loss.

Modules:

* :mod:`adversarial`: Adversarial domain adaptation as losses: a domain discriminator, DANN and
  CDAN.
* :mod:`coral`: CORAL: align second-order statistics, in closed form and as a differentiable loss.
* :mod:`discrepancy`: How different are two domains? The proxy A-distance from a domain classifier.
* :mod:`grl`: The gradient reversal layer (GRL) and the DANN schedule of its coefficient.
* :mod:`loss`: The interface between a domain-adaptation loss and the training loop.
* :mod:`mmd`: Maximum mean discrepancy (MMD) with a mixture of Gaussian kernels, as a number and as
  a loss.
* :mod:`plots`: Plots for domain adaptation: a 2-D embedding of both domains' features, decision
  boundaries.
* :mod:`subspace`: Subspace alignment: map the source's PCA basis onto the target's (Fernando et al.
  2013).
* :mod:`training`: A domain-adaptation training loop for any feature extractor, classifier and pair
  of loaders.

Imports only from the parts below it: core, data, calculus, nets, transfer. Import a helper from the
module that defines it, for example ``from transfer_utils.adaptation.adversarial import ...``; this
package re-exports nothing.
"""

__all__ = ['adversarial', 'coral', 'discrepancy', 'grl', 'loss', 'mmd', 'plots', 'subspace', 'training']
