"""Part V, efficient transfer (notebook 13): the cost of fine-tuning and how to cut it.

Modules:

Imports only from the parts below it: core, data, calculus, nets, transfer, adaptation, bayes, rl,
language. Import a helper from the module that defines it; this package re-exports nothing.
"""

__all__: list[str] = []
