"""The second stage of qEHVI scoring: BoTorch's Monte-Carlo acquisition functions.

- several objectives: ``qLogExpectedHypervolumeImprovement`` over the box decomposition of the
  feasible observed front, or ``qLogNoisyExpectedHypervolumeImprovement`` (``noisy``), which
  integrates over the posterior of the observed designs ``X`` instead of taking their values
  as exact;
- one objective: ``qLogExpectedImprovement`` over the best feasible observation.

Constraint outcomes (model outputs ``m`` on, feasible when <= 0) enter as BoTorch constraints;
designs being evaluated elsewhere as ``X_pending``. The MC integration uses ``mc`` scrambled
Sobol base samples seeded by the caller.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

if TYPE_CHECKING:
    from botorch.acquisition import AcquisitionFunction
    from botorch.models import SingleTaskGP
    from botorch.utils.multi_objective.box_decompositions import FastNondominatedPartitioning

__all__ = ["acquisition_values", "make_acquisition", "make_partitioning", "reference_point"]

#: Set to 1 to let BoTorch JIT-compile its fused qLogEHVI C++ kernel (see ``_pure_torch_kernel``).
FUSED_KERNEL_ENV = "MOO_COSEARCH_BOTORCH_FUSED_KERNEL"


def _pure_torch_kernel() -> None:
    """Keep BoTorch's qLogEHVI/qLogNEHVI on their pure-PyTorch path.

    BoTorch >= 0.18 compiles a C++ kernel with ``torch.utils.cpp_extension.load`` the first
    time either acquisition is built, under a lock file in ``~/.cache/torch_extensions``. A
    process killed while compiling (a worker stopped with kill -9, a timed-out job) leaves that
    lock behind, and every later process on the machine then waits on it forever: a study hangs
    with no error. The kernel only speeds up the acquisition; the values are the same. Setting
    ``MOO_COSEARCH_BOTORCH_FUSED_KERNEL=1`` lets BoTorch compile and use it.
    """
    if os.environ.get(FUSED_KERNEL_ENV, "") == "1":
        return
    from botorch.acquisition.multi_objective import logei
    if getattr(logei, "_C", None) is None and hasattr(logei, "_load_attempted"):
        logei._load_attempted = True


def acquisition_values(acq: "AcquisitionFunction", X: torch.Tensor,
                       chunk: int = 256) -> torch.Tensor:
    """``acq`` of each row of ``X`` (n, dim) as a q=1 batch, ``chunk`` rows per call, no
    gradients: (n,) values."""
    with torch.no_grad():
        return torch.cat([acq(X[i:i + chunk].unsqueeze(1)) for i in range(0, len(X), chunk)])


def reference_point(Yobj: np.ndarray, feasible: np.ndarray,
                    user: np.ndarray | Sequence[float] | None = None,
                    sign: np.ndarray | None = None) -> np.ndarray:
    """The hypervolume reference point in maximisation form.

    The user's point (in the objectives' own directions, turned into maximisation form by
    ``sign``: +1 maximised, -1 minimised) if given; else the nadir of the feasible observations
    (all if none is feasible) minus 10% of the range of all observations (so a single feasible
    point still leaves room for improvement).

    Not the nadir of the observed Pareto front (BoTorch's ``infer_reference_point``, Ax): that
    point shrinks with the front, and once the front has collapsed onto one end (ZDT1: early
    designs with a small f1 dominate the rest) nothing beyond it counts as an improvement, so
    the front is never extended: ZDT1 0.38-0.44 of the maximal hypervolume on 3 seeds against
    0.91-0.93 with this point (benchmarks/results/qehvi_dtlz2.md).
    """
    if user is not None:
        return np.asarray(user, dtype=float) * sign
    Y = Yobj[feasible] if feasible.any() else Yobj
    span = Yobj.max(axis=0) - Yobj.min(axis=0)
    span = np.where(span > 0, span, np.maximum(np.abs(Y.min(axis=0)), 1.0))
    return Y.min(axis=0) - 0.1 * span


def make_partitioning(ref: np.ndarray, Yobj: np.ndarray, feasible: np.ndarray,
                      **tkw) -> "FastNondominatedPartitioning":
    """BoTorch's box decomposition of the region dominated by the feasible observations."""
    from botorch.utils.multi_objective.box_decompositions import FastNondominatedPartitioning

    return FastNondominatedPartitioning(ref_point=torch.tensor(ref, **tkw),
                                        Y=torch.tensor(Yobj[feasible], **tkw))


def make_acquisition(model: "SingleTaskGP", X: torch.Tensor, Yobj: np.ndarray,
                     feasible: np.ndarray, m: int,
                     partitioning: "FastNondominatedPartitioning | None",
                     pending: torch.Tensor | None, *, mc: int, seed: int,
                     noisy: bool) -> "AcquisitionFunction":
    """The MC acquisition function of the module docstring.

    Args:
        model: the fitted GP (``m`` objectives, then constraint outcomes).
        X: (n_obs, dim) encoded observations (the baseline of qLogNEHVI).
        Yobj: (n_obs, m) observed objectives in maximisation form.
        feasible: (n_obs,) feasibility of the observations.
        m: number of objectives.
        partitioning: from :func:`make_partitioning` (None for one objective); its reference
            point is the acquisition's.
        pending: (n_pending, dim) encoded designs being evaluated, or None.
        mc: number of quasi-MC samples.
        seed: seed of the Sobol base samples.
        noisy: qLogNEHVI instead of qLogEHVI (several objectives only).
    """
    from botorch.acquisition.logei import qLogExpectedImprovement
    from botorch.acquisition.multi_objective.logei import (
        qLogExpectedHypervolumeImprovement, qLogNoisyExpectedHypervolumeImprovement)
    from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
    from botorch.acquisition.objective import GenericMCObjective
    from botorch.sampling import SobolQMCNormalSampler

    _pure_torch_kernel()
    constraints = [(lambda Z, i=i: Z[..., i]) for i in range(m, model.num_outputs)] or None
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([mc]), seed=seed)
    if m == 1:
        best = float(Yobj[feasible, 0].max()) if feasible.any() else float(Yobj[:, 0].min())
        return qLogExpectedImprovement(
            model, best_f=best, sampler=sampler, constraints=constraints, X_pending=pending,
            objective=GenericMCObjective(lambda Z, X=None: Z[..., 0]))
    objective = IdentityMCMultiOutputObjective(outcomes=list(range(m)))
    ref = partitioning.ref_point
    if noisy:
        # pruning the baseline draws posterior samples from torch's global generator: seed
        # it from ``seed`` (and restore it) so that the same seed gives the same trials
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return qLogNoisyExpectedHypervolumeImprovement(
                model, ref_point=ref, X_baseline=X, sampler=sampler, objective=objective,
                constraints=constraints, X_pending=pending, prune_baseline=True,
                cache_root=False)
    return qLogExpectedHypervolumeImprovement(
        model, ref_point=ref, partitioning=partitioning, sampler=sampler, objective=objective,
        constraints=constraints, X_pending=pending)
