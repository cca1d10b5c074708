"""One run of a comparison: one (sampler, seed) study, evaluated in memory and written through
to the shared storage one finished trial at a time, with the sampler's decision time recorded.

Why write-through: a cheap co-search trial costs about 10 ms in memory, while Optuna's
RDB storage spends hundreds of milliseconds per trial on its many small commits (a trial writes
every parameter, attribute and constraint separately) and ``JournalStorage`` one ``fsync`` per
write (``benchmarks/results/storage.md``). A comparison runs each study in exactly one process,
so the study can live in memory and the storage only needs each *finished* trial, once: one
``Study.add_trial`` (one append for a journal file) per trial. A crash loses at most the trial
being evaluated, as with the storage used directly; the next call resumes from what was
written (the study is copied back into memory, and the sampler of a resumed study gets a seed
derived from the run's seed, as every joining worker does).

Time: :class:`TimedSampler` wraps the study's sampler and times what Optuna calls on it for a
trial (``before_trial``, ``infer_relative_search_space``, ``sample_relative``,
``sample_independent``, ``after_trial``: model fits and candidate generation, as Ax's benchmark
records fit and gen time), stored on the trial as the system attr :data:`DECISION_ATTR`; and
the run's wall-clock seconds when the trial ends (:data:`ELAPSED_ATTR`: everything the run
spent, storage writes included, summed over the sessions of a resumed run without the time
between them).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from ..objectives import SKIPPED, spends_budget
from ..samplers.seam import set_trial_system_attr
from ..storage import open_storage
from ..study import Joined
from ..workers import RunConfig, join, prepare, run_worker

__all__ = ["DECISION_ATTR", "ELAPSED_ATTR", "RunOutcome", "TimedSampler", "evaluated_count",
           "run_one", "shared_storage"]

#: Trial system attr: seconds the sampler spent deciding this trial.
DECISION_ATTR = "moo_cosearch:decision_s"
#: Trial system attr: the run's wall-clock seconds when this trial ended.
ELAPSED_ATTR = "moo_cosearch:elapsed_s"


class TimedSampler(BaseSampler):
    """``inner``, with the seconds spent in it for each trial written to that trial as the
    system attr :data:`DECISION_ATTR`, and the run's clock (``offset`` + seconds since this
    sampler was made) as :data:`ELAPSED_ATTR` (in ``after_trial``, while the trial is still
    running).
    """

    def __init__(self, inner: BaseSampler, offset: float = 0.0) -> None:
        self.inner = inner
        self.offset = offset
        self._start = time.perf_counter()
        self._spent: dict[int, float] = {}

    def _timed(self, number: int, fn: Any, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self._spent[number] = self._spent.get(number, 0.0) + time.perf_counter() - start

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        return self._timed(trial.number, self.inner.infer_relative_search_space, study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self._timed(trial.number, self.inner.sample_relative, study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._timed(trial.number, self.inner.sample_independent, study, trial,
                           param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._timed(trial.number, self.inner.before_trial, study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._timed(trial.number, self.inner.after_trial, study, trial, state, values)
        # the trial is still RUNNING here (Optuna sets its state after this call)
        set_trial_system_attr(study, trial, DECISION_ATTR, self._spent.pop(trial.number, 0.0))
        set_trial_system_attr(study, trial, ELAPSED_ATTR,
                              self.offset + time.perf_counter() - self._start)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()


@dataclass
class RunOutcome:
    """What :func:`run_one` did for one (sampler, seed).

    Attributes:
        study_name: the study's name in the storage.
        evaluated: evaluated trials the study holds now.
        added: trials evaluated by this call (0: the run was complete already).
        seconds: wall-clock seconds of this call.
        exhausted: the sampler kept proposing evaluated designs and the run stopped early.
        error: a one-line error when the run failed (the other runs go on).
        study: the study itself when it lives in memory (no storage), else None.
    """

    study_name: str
    evaluated: int = 0
    added: int = 0
    seconds: float = 0.0
    exhausted: bool = False
    error: str | None = None
    study: "optuna.Study | None" = None


def evaluated_count(study: optuna.Study) -> int:
    """Trials of ``study`` that count as evaluations (see ``_gate.spends_budget``)."""
    return sum(spends_budget(t) for t in study.get_trials(deepcopy=False))


def _mirror(joined: Joined) -> optuna.Study:
    """An in-memory copy of ``joined.study`` (tags, metric names, finished trials) with the
    same sampler, through Optuna's public API."""
    source = joined.study
    mirror = optuna.create_study(storage=optuna.storages.InMemoryStorage(),
                                 study_name=source.study_name, directions=source.directions,
                                 sampler=source.sampler)
    for key, value in source.user_attrs.items():
        mirror.set_user_attr(key, value)
    if source.metric_names is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            mirror.set_metric_names(source.metric_names)
    finished = [t for t in source.get_trials(deepcopy=False) if t.state.is_finished()]
    mirror.add_trials(finished)
    return mirror


@lru_cache(maxsize=None)
def shared_storage(url: str) -> optuna.storages.BaseStorage:
    """One storage object per URL and process: a worker process running many runs opens (and,
    for a journal, replays) the storage once, then only reads what was appended since."""
    return open_storage(url, heartbeat=None)


def run_one(config: RunConfig, budget: int) -> RunOutcome:
    """Bring the study of ``config`` to ``budget`` evaluated trials (resuming what its storage
    holds); one line in :attr:`RunOutcome.error` instead of an exception, so that one failing
    sampler does not stop a comparison.

    ``config.storage`` None keeps the study in memory (returned in the outcome); otherwise the
    study runs in memory and each finished trial is added to the stored study at once (see the
    module docstring). Only one process may run a given study at a time.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    config = dataclasses.replace(config, heartbeat=None, trials=None, budget=budget)
    start = time.perf_counter()
    name = config.study_name or "?"
    try:
        prepared = prepare(config)
        name = prepared.study_name
        # join_study takes a storage object as well as a URL
        stored = join(dataclasses.replace(prepared, config=dataclasses.replace(
            config, storage=shared_storage(config.storage)) if config.storage else config))
        done = evaluated_count(stored.study)
        if done >= budget:
            return RunOutcome(name, evaluated=done, study=None if config.storage else
                              stored.study, seconds=time.perf_counter() - start)
        study = stored.study if config.storage is None else _mirror(stored)
        offset = max((t.system_attrs.get(ELAPSED_ATTR, 0.0)
                      for t in study.get_trials(deepcopy=False)), default=0.0)
        study.sampler = TimedSampler(study.sampler, offset)

        def write_through(_: optuna.Study, trial: FrozenTrial) -> None:
            if config.storage is not None and trial.user_attrs.get(SKIPPED) != "budget reached":
                stored.study.add_trial(trial)

        run = dataclasses.replace(prepared, config=dataclasses.replace(
            config, trials=budget - done))
        result = run_worker(run, joined=Joined(study, stored.created, stored.seed),
                            callback=write_through)
        return RunOutcome(name, evaluated=done + result.evaluated, added=result.evaluated,
                          seconds=time.perf_counter() - start, exhausted=result.exhausted,
                          study=study if config.storage is None else None)
    except Exception as e:  # noqa: BLE001 - recorded in the comparison, the other runs go on
        return RunOutcome(name, seconds=time.perf_counter() - start,
                          error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else e}")
