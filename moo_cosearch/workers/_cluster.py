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
import logging

from ._worker import RUN_TAG, RunConfig, WorkerResult, prepare, run_worker

__all__ = ["run_cluster"]


def _task(config: RunConfig, worker: int, tag: str) -> WorkerResult:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)   # as one worker: no line per trial
    return run_worker(config, worker=f"dask-{worker}", tag=tag)


def _stop_worker() -> None:
    from ._worker import STOP

    STOP.set()


class _AllExitFilter(logging.Filter):
    """Drops asyncio's "Task exception was never retrieved" tracebacks of the Dask client's
    gathers that an interrupt ends (``AllExit``): the interrupt is reported as one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return type(error).__name__ != "AllExit"


def _quiet_all_exit() -> None:
    log = logging.getLogger("asyncio")
    if not any(isinstance(f, _AllExitFilter) for f in log.filters):
        log.addFilter(_AllExitFilter())


def _close_trials(config: RunConfig, tag: str) -> list[int]:
    """Mark FAIL the trials of run ``tag`` that its workers, stopped by an interrupt, left
    RUNNING (as study.optimize closes the trial it runs when interrupted)."""
    import optuna
    from optuna.trial import TrialState

    from ..samplers.seam import fail_trial
    from ..storage import open_storage

    study = optuna.load_study(study_name=config.study_name,
                              storage=open_storage(config.storage, heartbeat=None))
    return [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if t.user_attrs.get(RUN_TAG) == tag and fail_trial(study, t)]


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
    import uuid

    tag = uuid.uuid4().hex
    _quiet_all_exit()
    cluster = None
    if scheduler is None:
        # The worker processes ignore Ctrl-C (SIGINT reaches the whole terminal group): this
        # process stops them (cluster.close) and closes their trials, with one line instead
        # of each process's traceback.
        import signal

        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.CRITICAL)
        finally:
            signal.signal(signal.SIGINT, previous)
    interrupted = False
    try:
        with Client(cluster if cluster is not None else scheduler) as client:
            futures = [client.submit(_task, config, i, tag, pure=False)
                       for i in range(workers)]
            try:
                return client.gather(futures, errors="raise") if timeout is None else \
                    [f.result(timeout=timeout) for f in futures]
            except BaseException:
                if cluster is not None:
                    try:   # no worker starts another trial; the running ones are closed below
                        client.run(_stop_worker)
                    except Exception:  # noqa: BLE001 - the cluster may be going already
                        pass
                raise
    except BaseException:
        interrupted = True
        raise
    finally:
        if cluster is not None:
            cluster.close()
        if interrupted and cluster is not None:   # its workers are gone (remote ones run on)
            try:
                _close_trials(config, tag)
            except Exception:  # noqa: BLE001 - heartbeats (or --reap-running) still close them
                pass
