"""Part IV, Bayesian transfer (notebooks 09-10): Gaussian processes from scratch and in GPyTorch, GP
classification, the Laplace approximation and metrics of predictive uncertainty.

Modules:

* :mod:`fitting`: Full-batch Adam on a scalar loss: the one fitting loop of the GP helpers.
* :mod:`gp_classification`: Binary GP classification done right: a variational (approximate) GP with
  a Bernoulli likelihood.
* :mod:`gp_fit`: Type-II maximum likelihood for the from-scratch GP: Adam on the log
  hyperparameters.
* :mod:`gp_hyper`: Set a GPyTorch GP's hyperparameters, or copy them from a source GP to a target
  GP.
* :mod:`gp_models`: GPyTorch regression models for transfer: exact GP, multitask (ICM) GP, source-
  mean GP.
* :mod:`gp_multitask`: A multitask GP with the intrinsic coregionalisation model (ICM) for source-
  target transfer.
* :mod:`gp_scratch`: Gaussian-process regression from scratch: kernel, Cholesky posterior, log
  marginal likelihood.
* :mod:`laplace`: Bayesian logistic regression by the Laplace approximation, with a source posterior
  as prior.
* :mod:`metrics`: Metrics for predictive uncertainty: RMSE, NLPD, interval coverage, calibration
  (ECE).
* :mod:`plots`: Plots for predictive uncertainty: GP bands in 1-D and reliability diagrams
  (notebooks 09, 10).

Imports only from the parts below it: core, data, calculus, nets, transfer, adaptation. Import a
helper from the module that defines it, for example ``from transfer_utils.bayes.fitting import
...``; this package re-exports nothing.
"""

__all__ = ['fitting', 'gp_classification', 'gp_fit', 'gp_hyper', 'gp_models', 'gp_multitask', 'gp_scratch', 'laplace', 'metrics', 'plots']
