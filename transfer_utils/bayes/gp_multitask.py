"""A multitask GP with the intrinsic coregionalisation model (ICM) for source-target transfer.

:math:`k((x, i), (x', j)) = k_x(x, x')\\,B_{ij}` with :math:`B = ww^\\top + \\operatorname{diag}(v)`
learned (Bonilla, Chai and Williams, NeurIPS 2007), so the task correlation
:math:`\\rho = B_{01}/\\sqrt{B_{00}B_{11}}` is learned from data. Fit with
:func:`transfer_utils.bayes.gp_models.fit_gp`, predict with :func:`transfer_utils.bayes.gp_models.predict`
(both re-export what is here). Introduced in notebook 09.
"""

from __future__ import annotations

import gpytorch
import torch

from transfer_utils.core.validation import check_same_dtype, check_xy

__all__ = ["MultitaskGP", "check_task", "make_multitask_gp", "task_correlation"]


class MultitaskGP(gpytorch.models.ExactGP):
    """A two-or-more-task GP with the ICM kernel :math:`k_x(x,x')\\,B_{ij}` (Hadamard form).

    Inputs are pairs ``(x, task)``: ``X`` of shape (n, d) and an int64 task index of shape (n,).
    Each task has its own constant mean; :math:`B = ww^\\top + \\operatorname{diag}(v)` with
    :math:`w` of rank ``rank`` (an ``IndexKernel``).
    """

    def __init__(
        self,
        X: torch.Tensor,
        task: torch.Tensor,
        y: torch.Tensor,
        likelihood: gpytorch.likelihoods.GaussianLikelihood,
        *,
        num_tasks: int = 2,
        rank: int = 1,
        ard: bool = False,
    ) -> None:
        X, y = check_xy(X, y, allow_1d=True)
        check_same_dtype((X, y), ("X", "y"))
        task = check_task(task, len(X), num_tasks)
        super().__init__((X, task), y, likelihood)
        self.num_tasks = num_tasks
        self.input_dim = X.shape[1]
        self.task_means = torch.nn.Parameter(torch.zeros(num_tasks, dtype=y.dtype))
        self.covar_module = gpytorch.kernels.RBFKernel(ard_num_dims=X.shape[1] if ard else None)
        self.task_covar_module = gpytorch.kernels.IndexKernel(num_tasks=num_tasks, rank=rank)

    def forward(self, x: torch.Tensor, task: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        task = task.reshape(-1).long()
        mean = self.task_means[task]
        covar = self.covar_module(x).mul(self.task_covar_module(task.unsqueeze(-1)))
        return gpytorch.distributions.MultivariateNormal(mean, covar)


def check_task(task: torch.Tensor, n: int, num_tasks: int) -> torch.Tensor:
    """``task`` as int64 after checking it has shape ``(n,)`` and entries in ``[0, num_tasks)``.

    Raises:
        ValueError: a wrong shape or an index out of range.
    """
    if not isinstance(task, torch.Tensor) or task.shape != (n,):
        raise ValueError(f"task must be an int64 tensor of shape ({n},), got {getattr(task, 'shape', task)}.")
    if task.is_floating_point() and not bool((task == task.round()).all()):
        raise ValueError(f"task must hold whole task indices, got {task.unique().tolist()[:5]}.")
    task = task.long()
    if n and (task.min() < 0 or task.max() >= num_tasks):
        raise ValueError(f"task indices must lie in [0, {num_tasks}), got {task.unique().tolist()}.")
    return task


def make_multitask_gp(
    X_src: torch.Tensor, y_src: torch.Tensor, X_tgt: torch.Tensor, y_tgt: torch.Tensor,
    *, rank: int = 1, ard: bool = False,
) -> tuple[MultitaskGP, gpytorch.likelihoods.GaussianLikelihood]:
    """A two-task ICM GP on source (task 0) and target (task 1) data stacked together.

    Raises:
        ValueError: source and target inputs have different dimensions.
    """
    X_src, y_src = check_xy(X_src, y_src, allow_1d=True, names=("X_src", "y_src"))
    X_tgt, y_tgt = check_xy(X_tgt, y_tgt, allow_1d=True, names=("X_tgt", "y_tgt"))
    check_same_dtype((X_src, y_src, X_tgt, y_tgt), ("X_src", "y_src", "X_tgt", "y_tgt"))
    if X_src.shape[1] != X_tgt.shape[1]:
        raise ValueError(
            f"Source inputs have d={X_src.shape[1]} but target inputs have d={X_tgt.shape[1]}; "
            "a multitask GP needs one input space."
        )
    X = torch.cat([X_src, X_tgt])
    y = torch.cat([y_src, y_tgt])
    task = torch.cat([torch.zeros(len(X_src), dtype=torch.long, device=X.device),
                      torch.ones(len(X_tgt), dtype=torch.long, device=X.device)])
    likelihood = gpytorch.likelihoods.GaussianLikelihood()
    model = MultitaskGP(X, task, y, likelihood, num_tasks=2, rank=rank, ard=ard).to(X)
    with torch.no_grad():
        model.task_means.copy_(torch.stack([y_src.mean(), y_tgt.mean()]))
    return model, likelihood.to(X)


def task_correlation(model: MultitaskGP) -> torch.Tensor:
    """The learned inter-task correlation matrix :math:`C_{ij} = B_{ij}/\\sqrt{B_{ii}B_{jj}}`,
    with :math:`B = ww^\\top + \\operatorname{diag}(v)` from the ICM index kernel."""
    with torch.no_grad():
        B = model.task_covar_module.covar_matrix.to_dense()
        d = B.diagonal().sqrt()
        return B / (d.unsqueeze(0) * d.unsqueeze(1))
