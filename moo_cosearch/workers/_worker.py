"""One co-search worker: check the whole configuration, join the study, run trials.

``moo-cosearch run`` is one worker; ``run --workers N`` (:mod:`moo_cosearch.workers`) starts N
of them on a Dask cluster; any number of ``run`` processes on any machines may share one
storage (PostgreSQL across machines, SQLite or ``journal:`` on one machine). Each worker:

1. checks everything before it touches the storage (:func:`prepare`): space, objective set,
   backend, accuracy source (one design is evaluated with errors raised), sampler options;
2. joins the study (:func:`~moo_cosearch.study.join_study`): exactly one worker creates it,
   the others join; a joining worker seeds its sampler with ``worker_seed(seed, worker)``;
3. runs trials until it has evaluated ``trials`` designs or the study holds ``budget``
   evaluated trials (:class:`~moo_cosearch.objectives.Gate`: exact across workers), never
   evaluating a design another trial holds (those trials are PRUNED, ``skipped`` attr).
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..objectives import (SKIPPED, Gate, Objective, ObjectiveSet, default_objectives, load_objectives,
                         make_objective, spends_budget)
from ..space import JointSpace, load_space
from ..storage import DEFAULT_HEARTBEAT_S
from ..study import Joined, check_study_name, default_study_name, join_study

if TYPE_CHECKING:
    import optuna

__all__ = ["DEFAULT_OBJECTIVES", "DEFAULT_SPACE", "STOP", "Prepared", "RunConfig",
           "WorkerResult", "budget_state", "join", "prepare", "run_worker"]

_log = logging.getLogger("moo_cosearch.workers")

#: Set (by the CLI's Ctrl-C and SIGTERM handlers) to stop every worker of this process after its
#: running trial, even where the interrupt itself was absorbed by a library.
STOP = threading.Event()

DEFAULT_SPACE = "nb201-edge"
DEFAULT_OBJECTIVES = "nb201-cifar10-latency-area"


@dataclass
class RunConfig:
    """Everything a worker needs, as plain values (it travels to cluster workers).

    Attributes:
        space: space name or TOML path (None: the objective set's space, else the default).
        objectives: objective set name or TOML path (None: the built-in set of the space,
            ``objectives.DEFAULT_FOR_SPACE``, else the default set).
        sampler: a name from ``moo-cosearch samplers``.
        options: sampler options.
        backend: cost backend overriding the objective set's (e.g. ``surrogate:PATH``).
        view: ``"categorical"`` / ``"index"`` (None: the sampler's preferred view).
        storage: storage URL (see :func:`~moo_cosearch.storage.open_storage`); None: memory.
        study_name: None: ``<space>--<objectives>--<sampler>--seed<seed>``.
        seed: sampler seed of the worker that creates the study.
        trials: designs this worker evaluates (None: until the budget is reached).
        budget: evaluated trials the whole study may hold (None: no limit).
        heartbeat: RDB heartbeat seconds (None: off).
        skip_duplicates: never evaluate a design another trial holds.
        pruner: ``none`` / ``median`` / ``halving`` / ``hyperband`` (for accuracy sources
            that report per epoch, single objective).
        accuracy: another accuracy source for the objective set (``table``, ``proxy``,
            ``proxy:NAME``, ``train``: :meth:`ObjectiveSet.with_accuracy`).
        batch: trials asked at once and priced with one cost-model call (1: one trial at a
            time through ``study.optimize``); for population samplers and RL batches.
    """

    space: str | None = None
    objectives: str | None = None
    sampler: str = "nsga2"
    options: dict[str, Any] = field(default_factory=dict)
    backend: str | None = None
    view: str | None = None
    storage: str | None = None
    study_name: str | None = None
    seed: int | None = 0
    trials: int | None = 300
    budget: int | None = None
    heartbeat: float | None = DEFAULT_HEARTBEAT_S
    skip_duplicates: bool = True
    accuracy: str | None = None
    pruner: str = "none"
    batch: int = 1

    def __post_init__(self) -> None:
        for name in ("trials", "budget", "batch"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.trials is None and self.budget is None:
            raise ValueError("give trials (per worker) or budget (for the study), or both")


@dataclass
class Prepared:
    """A checked configuration: the space, objective set, objective and study name."""

    config: RunConfig
    space: JointSpace
    objectives: ObjectiveSet
    objective: Objective
    study_name: str


@dataclass
class WorkerResult:
    """What one worker did."""

    worker: str | None
    seed: int | None
    created: bool
    evaluated: int
    skipped_duplicates: int
    seconds: float
    exhausted: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prepare(config: RunConfig) -> Prepared:
    """Check the whole configuration before any storage is touched (one design is evaluated
    with errors raised); ``ValueError`` (one line) on the first misfit."""
    name = config.objectives
    if name is None:
        name = (config.space and default_objectives(config.space)) or DEFAULT_OBJECTIVES
    objectives = load_objectives(name)
    if config.accuracy is not None:
        objectives = objectives.with_accuracy(config.accuracy)
    if config.pruner != "none":
        _check_pruner(config, objectives)
    if config.space is None and objectives.space is not None:
        try:
            space = load_space(objectives.space)
        except ValueError as e:     # name the file the space came from
            raise ValueError(f"objective set {name}: space = {objectives.space!r}: {e}") \
                from None
    else:
        space = load_space(config.space or DEFAULT_SPACE)
    _check_accelerator(space, config.space)
    objective = make_objective(space, objectives, cost=config.backend)
    source = objectives.accuracy.get("source") if objectives.needs_accuracy else None
    with _notice_after(5.0, f"checking the configuration on one design of {space.name} "
                            f"(cost {config.backend or objectives.cost}"
                            + (f", accuracy {source}" if source else "")
                            + "): a first call may build models or reference data"):
        objective.preflight(seed=config.seed)
    name = config.study_name if config.study_name is not None else \
        default_study_name(space, objectives, config.sampler, config.seed)
    check_study_name(name)
    return Prepared(config, space, objectives, objective, name)


def _check_accelerator(space: JointSpace, given: str | None) -> None:
    """A space's ``accelerator`` names a cost backend (the default of ``simulate`` and of
    objective sets without ``cost``): a misspelt one is refused, not ignored."""
    from ..hardware import list_backends

    known = list_backends()
    if space.accelerator is not None and space.accelerator not in known \
            and not str(space.accelerator).startswith("surrogate:"):
        raise ValueError(f"space {given or space.name}: accelerator must be one of {known} or "
                         f"'surrogate:PATH', got {space.accelerator!r}")


#: accuracy sources that report each epoch to Optuna (what a pruner acts on)
_REPORTING_SOURCES = ("train", "nb201-mf", "callable")


def _check_pruner(config: RunConfig, objectives: ObjectiveSet) -> None:
    """A pruner acts only on a single trial's per-epoch reports of a single objective: say so
    instead of running without pruning."""
    source = objectives.accuracy.get("source") if objectives.needs_accuracy else None
    why = (f"objective set {objectives.name!r} has {len(objectives.objectives)} objectives"
           if len(objectives.objectives) > 1 else
           f"its accuracy source {source!r} reports nothing per epoch" if source not in
           _REPORTING_SOURCES else "batches report nothing per epoch" if config.batch > 1
           else None)
    if why:
        raise ValueError(f"--pruner {config.pruner} needs a single-objective set whose accuracy "
                         f"source reports each epoch ({', '.join(_REPORTING_SOURCES[:2])}) "
                         f"and --batch 1; {why}")


@contextmanager
def _notice_after(seconds: float, message: str) -> Iterator[None]:
    """Log ``message`` (INFO) if the block is still running after ``seconds``: a slow step
    says what it is doing, a fast one says nothing."""
    timer = threading.Timer(seconds, _log.info, (message,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def join(prepared: Prepared, worker: "int | str | None" = None) -> Joined:
    """Join (or create) the configured study."""
    c = prepared.config
    return join_study(prepared.space, prepared.objectives, sampler=c.sampler, seed=c.seed,
                      sampler_options=c.options, storage=c.storage,
                      study_name=prepared.study_name, view=c.view, worker=worker,
                      heartbeat=c.heartbeat, budget=c.budget or c.trials, pruner=c.pruner)


#: User attr naming the run (``run_cluster``'s) that started a trial.
RUN_TAG = "run_tag"

#: Heartbeat grace periods a worker waits for RUNNING trials that make no progress before
#: it stops short of its budget (a trial killed before its first heartbeat never goes stale).
PATIENCE_GRACES = 10


def budget_state(study: "optuna.Study") -> tuple[int, list[int]]:
    """Evaluated trials (COMPLETE, or FAIL in their own evaluation) and the numbers of the
    RUNNING trials of ``study``: a budget is met when the first reaches it."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    running = [t.number for t in trials if t.state == TrialState.RUNNING]
    return sum(spends_budget(t) for t in trials) - len(running), running


def _fail_never_begun(study: "optuna.Study", grace_s: float) -> bool:
    """Fail the RUNNING trials whose process died before their first heartbeat: never beaten
    (no :data:`~moo_cosearch.storage.BEATING` system attr; our storages beat a trial the
    moment it is created, a slow sampler's trial included), no parameter and no attribute,
    older than ``grace_s``. Such trials never go stale by heartbeat. Whether any was failed."""
    from datetime import datetime

    from optuna.trial import TrialState

    from ..samplers.seam import fail_trial
    from ..storage import BEATING

    now = datetime.now()
    failed = False
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if (BEATING not in t.system_attrs and not t.params and not t.user_attrs
                and t.datetime_start is not None
                and (now - t.datetime_start).total_seconds() > grace_s):
            failed |= bool(fail_trial(study, t))
    return failed


def _finish_budget(study: "optuna.Study", budget: int, gate: Gate,
                   run: Callable[[], None]) -> None:
    """Run until ``budget`` trials are evaluated, not merely begun: a RUNNING trial holds a
    slot of the budget, so when this worker is done while others' trials run, it waits for
    them. A killed worker's trial goes stale after the heartbeat grace period, is failed and
    retried here (storages with heartbeats); without heartbeats no one can tell a dead
    worker's trial from a slow one, and the caller reports the shortfall."""
    import warnings

    import optuna

    from ..samplers.seam import heartbeat_interval

    interval = heartbeat_interval(study)
    said = False
    seen: tuple[int, list[int]] | None = None
    since = time.monotonic()
    while not STOP.is_set() and not gate.exhausted:
        done, running = budget_state(study)
        if done >= budget:
            return
        if not running:
            gate.done = False
            run()
            if budget_state(study)[0] == done:
                return                 # nothing evaluated (exhausted, or interrupted)
            continue
        if not interval:
            return
        if (done, running) != seen:
            seen, since = (done, running), time.monotonic()
        elif _fail_never_begun(study, 2 * interval):
            continue                   # a worker killed between ask and its first beat
        elif time.monotonic() - since > PATIENCE_GRACES * 2 * interval:
            return                     # no progress: a trial that never beat (the caller says)
        if not said:
            _log.info("%d of %d evaluated; waiting for RUNNING trial(s) %s (another "
                      "worker's, or a killed worker's, retried after the %d s heartbeat "
                      "grace period)", done, budget, running, 2 * interval)
            said = True
        STOP.wait(min(interval, 5))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        if done + len(budget_state(study)[1]) < budget:
            gate.done = False
            run()


def run_worker(config: RunConfig | Prepared, *, worker: "int | str | None" = None,
               joined: Joined | None = None,
               callback: "Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None"
               = None, tag: str | None = None) -> WorkerResult:
    """Run one worker (see the module docstring) and say what it did.

    Args:
        config: the configuration (checked here unless already :class:`Prepared`).
        worker: this worker's name for its seed when it joins (default ``"<host>:<pid>"``).
        joined: the study, when the caller joined it already.
        callback: called after each trial (progress display).
        tag: written to each trial this worker starts as user attr ``run_tag`` (so that the
            trials of an interrupted run are found and closed).
    """
    prepared = config if isinstance(config, Prepared) else prepare(config)
    c = prepared.config
    joined = joined or join(prepared, worker)
    study = joined.study
    gate = Gate(skip_duplicates=c.skip_duplicates, budget=c.budget)
    objective = prepared.objective.with_gate(gate, {RUN_TAG: tag} if tag else None)
    evaluated = 0

    def count(study: "optuna.Study", trial: "optuna.trial.FrozenTrial") -> None:
        nonlocal evaluated
        if SKIPPED not in trial.user_attrs:
            evaluated += 1
            if c.trials is not None and evaluated >= c.trials and c.batch == 1:
                study.stop()
        if callback is not None:
            callback(study, trial)
        if STOP.is_set():
            study.stop()

    start = time.perf_counter()
    import warnings

    import optuna

    with warnings.catch_warnings():    # experimental since Optuna 2.9, stable in use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)   # a dead worker's trial must not hold budget

    def run() -> None:
        if c.trials is not None and evaluated >= c.trials:
            return
        if c.batch == 1:
            study.optimize(objective, callbacks=[count])
        else:
            while not gate.done and not STOP.is_set() and (c.trials is None
                                                           or evaluated < c.trials):
                n = c.batch if c.trials is None else min(c.batch, c.trials - evaluated)
                for trial in objective.run_batch(study, n):
                    count(study, trial)

    if c.budget is None or gate.spent(study) < c.budget:
        run()
    if c.budget is not None:
        _finish_budget(study, c.budget, gate, run)
    return WorkerResult(worker=None if worker is None else str(worker), seed=joined.seed,
                        created=joined.created, evaluated=evaluated,
                        skipped_duplicates=gate.skipped, seconds=time.perf_counter() - start,
                        exhausted=gate.exhausted)
