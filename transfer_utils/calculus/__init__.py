"""Part I, the calculus of learning (notebooks 01-03): finite differences, first-order optimisers, line
search, Newton and quasi-Newton methods, and the test landscapes they run on.

Modules:

* :mod:`first_order`: First-order optimisers that record their whole trajectory: gradient descent,
  Adam, SGD.
* :mod:`hessian_free`: Hessian-free second-order tools: Hessian-vector products and conjugate
  gradient.
* :mod:`irls`: Newton's method for penalised logistic regression as iteratively reweighted least
  squares (IRLS).
* :mod:`landscapes`: Test functions for optimisation: quadratics of chosen conditioning, Rosenbrock,
  a saddle, a function with several local minima, and the logistic-regression loss.
* :mod:`line_search`: A backtracking line search that notices when ``f`` can no longer tell two
  points apart.
* :mod:`newton`: Newton's method for roots and minima, its safeguards, and Hessian-free tools.
* :mod:`numdiff`: Finite differences: derivatives, gradients and Jacobians by evaluation alone, and
  gradient checks.
* :mod:`optim`: Optimisers that record their whole trajectory, and the rates theory predicts on a
  quadratic.
* :mod:`optim_base`: What every optimiser of the course shares: the run record, start and scalar
  checks, rounding.
* :mod:`plots`: Plots for optimisation: a 2-D objective as contours with optimiser paths, and
  convergence curves.
* :mod:`quasi_newton`: L-BFGS that records its iterates: a thin wrapper over ``torch.optim.LBFGS``.

Imports only from the parts below it: core, data. Import a helper from the module that defines it,
for example ``from transfer_utils.calculus.first_order import ...``; this package re-exports
nothing.
"""

__all__ = ['first_order', 'hessian_free', 'irls', 'landscapes', 'line_search', 'newton', 'numdiff', 'optim', 'optim_base', 'plots', 'quasi_newton']
