"""Part V, cross-modal transfer (notebook 14): two pretrained encoders of different modalities
mapped into one space by a contrastive objective.

Modules:

Imports only from the parts below it: core, data, calculus, nets, transfer, adaptation, bayes, rl,
language, efficient. Import a helper from the module that defines it; this package re-exports nothing.
"""

__all__: list[str] = []
