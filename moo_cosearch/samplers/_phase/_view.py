"""The study as one phase of a phase baseline shows it to its inner sampler (:mod:`._phase`).

An Optuna sampler reads a study's trials (``Study._get_trials`` / ``get_trials``, and a few
through the storage: ``get_all_trials``, ``get_best_trial``) and keeps state in study system
attrs (NSGA-II caches its parent populations there). :class:`PhaseStudy` is a ``Study`` whose
trials are only those of one phase (and the trial being sampled) that hold the phase's pinned
values, stripped to the parameters the phase searches, and whose study system attrs live under
a prefix of the phase's own; everything else is the real study and storage.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.storages import BaseStorage
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

__all__ = ["PHASE_KEY", "Phase", "PhaseStorage", "PhaseStudy", "Stripped", "strip"]

#: Trial system attr holding the trial's phase (1 or 2).
PHASE_KEY = "moo_cosearch:phase"


@dataclass(frozen=True)
class Phase:
    """The phase of trial number ``trial``: 1 or 2, the parameters searched and those pinned
    (name → value)."""

    phase: int
    trial: int
    free: frozenset[str]
    pinned: Mapping[str, Any]

    def holds(self, trial: FrozenTrial) -> bool:
        """Whether ``trial``'s pinned parameters (those it has so far) hold the pinned values."""
        return all(trial.params[n] == v for n, v in self.pinned.items() if n in trial.params)


def strip(trial: FrozenTrial, names: Container[str]) -> FrozenTrial:
    """A shallow copy of ``trial`` with only the parameters in ``names``."""
    out = copy.copy(trial)
    out._params = {n: v for n, v in trial.params.items() if n in names}
    out._distributions = {n: d for n, d in trial.distributions.items() if n in names}
    return out


class Stripped:
    """Stripped copies of finished trials, kept while the storage hands out the same trial
    object (finished trials never change; a new object, e.g. a deep copy, is stripped anew):
    the inner sampler reads all its trials several times per proposal."""

    def __init__(self, names: Container[str]) -> None:
        self._names = names
        self._done: dict[int, tuple[FrozenTrial, FrozenTrial]] = {}

    def __call__(self, trial: FrozenTrial) -> FrozenTrial:
        hit = self._done.get(trial._trial_id)
        if hit is not None and hit[0] is trial:
            return hit[1]
        out = strip(trial, self._names)
        if trial.state.is_finished():
            self._done[trial._trial_id] = (trial, out)
        return out


class PhaseStorage:
    """The storage as one phase's inner sampler sees it: trial lists filtered and stripped by the
    view, study system attrs under ``prefix``; everything else is the real storage."""

    def __init__(self, storage: BaseStorage, select: Callable[[list[FrozenTrial]],
                                                             list[FrozenTrial]],
                 prefix: str) -> None:
        self._storage = storage
        self._select = select
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        out = self._select(self._storage.get_all_trials(study_id, deepcopy=False,
                                                        states=states))
        return copy.deepcopy(out) if deepcopy else out

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        return BaseStorage.get_best_trial(self, study_id)  # type: ignore[arg-type]

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        n = len(self._prefix)
        return {k[n:]: v for k, v in self._storage.get_study_system_attrs(study_id).items()
                if k.startswith(self._prefix)}

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._storage.set_study_system_attr(study_id, self._prefix + key, value)


class PhaseStudy(Study):
    """The study as one phase's inner sampler sees it (a ``Study``, for samplers that check):
    only that phase's trials holding its pinned values, with only its searched parameters."""

    def __init__(self, study: Study, phase: Phase,
                 stripped: Callable[[FrozenTrial], FrozenTrial]) -> None:  # a view: no __init__
        self.__dict__.update(study.__dict__)
        self._study = study
        self._phase = phase
        self._stripped = stripped
        self._storage = PhaseStorage(study._storage, self._select,  # type: ignore[assignment]
                                     f"{PHASE_KEY}{phase.phase}:")

    def _select(self, trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
        p = self._phase
        return [self._stripped(t) for t in trials
                if (t.system_attrs.get(PHASE_KEY) == p.phase or t.number == p.trial)
                and p.holds(t)]

    def _get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None,
                    use_cache: bool = False) -> list[FrozenTrial]:
        out = self._select(self._study._get_trials(deepcopy=False, states=states,
                                                   use_cache=use_cache))
        return copy.deepcopy(out) if deepcopy else out
