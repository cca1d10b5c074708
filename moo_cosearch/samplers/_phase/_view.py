"""The study as one phase of a phase baseline shows it to its inner sampler (:mod:`._phase`).

An Optuna sampler reads a study's trials (``Study._get_trials`` / ``get_trials``, and a few
through the storage: ``get_all_trials``, ``get_best_trial``) and keeps state in study system
attrs (NSGA-II caches its parent populations there). :class:`PhaseStudy` is a ``Study`` whose
trials are only those of one phase (and the trial being sampled) that hold the phase's pinned
values, stripped to the parameters the phase searches, and whose study system attrs live under
a prefix of the phase's own; everything else is the real study and storage. The ``Study``
subclass that does this lives in the Optuna seam (:func:`..seam.study_view`); what a phase
shows is decided here.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.study import Study
from optuna.trial import FrozenTrial

from ..seam import study_view, trial_id, with_params

__all__ = ["PHASE_KEY", "Phase", "Stripped", "phase_study", "strip"]

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
    return with_params(trial, names)


class Stripped:
    """Stripped copies of finished trials, kept while the storage hands out the same trial
    object (finished trials never change; a new object, e.g. a deep copy, is stripped anew):
    the inner sampler reads all its trials several times per proposal."""

    def __init__(self, names: Container[str]) -> None:
        self._names = names
        self._done: dict[int, tuple[FrozenTrial, FrozenTrial]] = {}

    def __call__(self, trial: FrozenTrial) -> FrozenTrial:
        hit = self._done.get(trial_id(trial))
        if hit is not None and hit[0] is trial:
            return hit[1]
        out = strip(trial, self._names)
        if trial.state.is_finished():
            self._done[trial_id(trial)] = (trial, out)
        return out


def phase_study(study: Study, phase: Phase,
                stripped: Callable[[FrozenTrial], FrozenTrial]) -> Study:
    """The study as ``phase``'s inner sampler sees it (a ``Study``, for samplers that check):
    only that phase's trials (and the trial being sampled) holding its pinned values, with
    only its searched parameters; study system attrs under the phase's own prefix."""

    def select(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
        return [stripped(t) for t in trials
                if (t.system_attrs.get(PHASE_KEY) == phase.phase or t.number == phase.trial)
                and phase.holds(t)]

    return study_view(study, select, f"{PHASE_KEY}{phase.phase}:")
