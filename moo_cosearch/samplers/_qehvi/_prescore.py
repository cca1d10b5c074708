"""The cheap first stage of qEHVI scoring: the hypervolume improvement of an optimistic point.

For each pooled candidate ``x`` the GP's marginal posterior (mean ``mean``, std ``std``, back in
the objectives' maximisation units) gives the optimistic point ``opt = mean + beta * std`` of
the ``m`` objectives. Its exact hypervolume improvement over the feasible observed front is a
sum over the cells ``[lower, upper]`` of BoTorch's box decomposition of the non-dominated
region: ``hvi = sum_cells prod_j (min(opt_j, upper_j) - lower_j)^+``. Constraint outcomes
``c_i`` (feasible when <= 0) weight it by ``pfeas = prod_i Phi(-mean_i / std_i)``.
Candidates whose optimistic point improves nothing are ranked, below all improving ones, by
their distance to the improvable region in units of the observed range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ._gpfit import GPHypers, marginal_posterior, train_targets

if TYPE_CHECKING:
    from botorch.models import SingleTaskGP
    from botorch.utils.multi_objective.box_decompositions import FastNondominatedPartitioning

__all__ = ["optimistic_prescore"]


def optimistic_prescore(model: "SingleTaskGP", hypers: GPHypers, Xc: torch.Tensor,
                        Yobj: np.ndarray, feasible: np.ndarray, m: int,
                        partitioning: "FastNondominatedPartitioning | None",
                        beta: float) -> torch.Tensor:
    """Feasibility-weighted hypervolume improvement of the optimistic point, per row of ``Xc``.

    Args:
        model: the fitted GP (objectives first, then constraint outcomes).
        hypers: its hyperparameters (the posterior is computed directly from them).
        Xc: (n, dim) encoded candidates.
        Yobj: (n_obs, m) observed objectives in maximisation form.
        feasible: (n_obs,) feasibility of the observations.
        m: number of objectives.
        partitioning: box decomposition of the feasible front (None for one objective).
        beta: optimism, in posterior standard deviations.

    Returns:
        (n,) scores, larger is better; only their order matters.
    """
    with torch.no_grad():
        X = model.train_inputs[0]
        mean, var = marginal_posterior(X[0] if X.dim() == 3 else X, train_targets(model),
                                       hypers, Xc)
        tf = model.outcome_transform  # back from the standardised outcome space
        mean = mean * tf.stdvs + tf.means
        std = var.sqrt() * tf.stdvs
    opt = mean[:, :m] + beta * std[:, :m]
    n_out = mean.shape[-1]
    if n_out > m:
        normal = torch.distributions.Normal(0.0, 1.0)
        pfeas = normal.cdf(-mean[:, m:] / std[:, m:]).prod(dim=-1)
    else:
        pfeas = torch.ones(len(Xc), dtype=Xc.dtype, device=Xc.device)
    if not feasible.any():
        return pfeas
    if m == 1:
        best = float(Yobj[feasible, 0].max())
        return (opt[:, 0] - best).clamp_min(0) * pfeas + 1e-12 * pfeas
    cells = partitioning.get_hypercell_bounds()  # (2, n_cells, m)
    lower, upper = cells[0], cells[1]
    side = (torch.minimum(opt[:, None, :], upper[None]) - lower[None]).clamp_min(0)
    hvi = side.prod(dim=-1).sum(dim=-1)
    # Candidates whose optimistic point improves nothing are ranked by how far it is from
    # the improvable region (in units of the observed range), so a tight reference point
    # or a weak model does not turn the pre-screen into a random pick.
    scale = torch.as_tensor(np.ptp(Yobj, axis=0), dtype=opt.dtype, device=opt.device)
    gap = ((lower[None] - opt[:, None, :]).clamp_min(0) / scale.clamp_min(1e-12))
    dist = gap.norm(dim=-1).min(dim=-1).values
    return torch.where(hvi > 0, hvi * pfeas + 1e-12 * pfeas, -dist - (1 - pfeas))
