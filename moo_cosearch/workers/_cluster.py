"""Fan one study out over a Dask cluster: ``run --workers N [--scheduler ADDRESS]``.

Every Dask task is one :func:`~moo_cosearch.workers.run_worker` on the shared storage (the
study lives there, not in Dask): the tasks join one study, take distinct seeds
(``worker_seed(seed, i)``) and stop together at the study's budget. Without an address, a
local cluster of N worker processes (one thread each) is started and closed; with one
(``tcp://host:8786``), the tasks run on that cluster's workers, which need this package and
network access to the storage: use PostgreSQL across machines.

Why Dask (``dask[distributed]``, the ``cluster`` extra) and not Ray: it is a pure-Python
install that starts a local cluster in seconds with no daemon, runs the same code on a
laptop, an SSH cluster or a batch system (dask-jobqueue: SLURM, PBS), and has nothing to
manage for us: the storage already coordinates the workers. Ray's scheduling of GPUs and
actors buys nothing here, for a far heavier install.
"""

from __future__ import annotations

import dataclasses

from ._worker import RunConfig, WorkerResult, prepare, run_worker

__all__ = ["run_cluster"]


def _task(config: RunConfig, worker: int) -> WorkerResult:
    return run_worker(config, worker=f"dask-{worker}")


def run_cluster(config: RunConfig, workers: int, scheduler: str | None = None,
                timeout: float | None = None) -> list[WorkerResult]:
    """Run ``workers`` workers of ``config`` on a Dask cluster and wait for all of them.

    Args:
        config: the run; its storage must be one that processes share (not in memory).
        workers: number of workers (tasks; also the local cluster's processes).
        scheduler: a Dask scheduler address; None starts a local cluster.
        timeout: seconds to wait for the workers (None: no limit).

    Raises:
        ValueError: no shared storage, fewer than one worker, or a bad configuration (checked
            here, before any worker starts).
        ImportError: ``dask[distributed]`` is not installed (one line, with the fix).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if config.storage is None or config.storage == ":memory:":
        raise ValueError("several workers need a storage they share: sqlite:///PATH, "
                         "journal:PATH or postgresql://...")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--workers needs Dask: pip install 'moo-cosearch[cluster]' "
                          "(with -c constraints.txt in a checkout)") from None
    prepared = prepare(config)     # a misfit configuration stops here, not in N workers
    config = dataclasses.replace(config, study_name=prepared.study_name)
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    try:
        with Client(cluster if cluster is not None else scheduler) as client:
            futures = [client.submit(_task, config, i, pure=False) for i in range(workers)]
            return client.gather(futures, errors="raise") if timeout is None else \
                [f.result(timeout=timeout) for f in futures]
    finally:
        if cluster is not None:
            cluster.close()
