"""Running a study: one worker (check everything, join the study, evaluate until ``trials`` or
the study's ``budget``) and N of them on a Dask cluster (``run --workers N``).

>>> from moo_cosearch.workers import RunConfig, prepare, run_worker
>>> result = run_worker(prepare(RunConfig(sampler="nsga2", trials=20)))
"""

from __future__ import annotations

from ._cluster import run_cluster      # Dask itself is imported on first use
from ._worker import (DEFAULT_OBJECTIVES, DEFAULT_SPACE, STOP, Prepared, RunConfig,
                      WorkerResult, budget_state, join, prepare, run_worker)

__all__ = ["DEFAULT_OBJECTIVES", "DEFAULT_SPACE", "STOP", "Prepared", "RunConfig",
           "WorkerResult", "budget_state", "join", "prepare", "run_cluster", "run_worker"]

