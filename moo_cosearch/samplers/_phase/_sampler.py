"""Phase baselines: ``fixed-hw``, ``phase`` and ``hw-then-nas``.

The strategies the co-search seeds argue against, each delegating its searches to any
registered sampler (``inner``, default ``tpe``):

- ``fixed-hw`` (:class:`FixedHardwareSampler`): hardware-aware NAS with the accelerator pinned
  at the space's baseline design, for every trial;
- ``phase`` (:class:`PhaseSampler`, NAHAS's phase search): NAS on the baseline accelerator for
  the first ``round(budget * first_share)`` evaluated trials, then HAS for the best network
  found;
- ``hw-then-nas`` (:class:`HardwareThenNASSampler`): HAS for the baseline (reference) network,
  then NAS on the best accelerator found.

Budgets count evaluated trials, as ``moo-cosearch run --budget`` does (:func:`_evaluated`):
phase 1 holds the first ``n1 = round(budget * first_share)`` of them, phase 2 every later one,
also past ``budget``, so a study that runs on keeps refining the second phase. Trials the run
refuses unevaluated (PRUNED: repeats of a design) do not use up phase 1. Each trial's phase is
decided when it starts, from the trials numbered below it, and recorded in its system attr
:data:`PHASE_KEY`: phase 1 while fewer than ``n1`` of them are evaluated (or being evaluated)
phase-1 trials. So a resumed study or a second worker reads each trial's phase from the study,
and several workers cannot overshoot: a trial counts every lower-numbered phase-1 trial still
running, and a lower-numbered trial that another worker has not labelled yet as the phase it
will take (numbers are dense and unique, so of two trials racing for the last phase-1 slot
the higher sees the lower). When a running phase-1 trial is then refused, its slot goes to the
next trial to start, so phase 1 ends with exactly ``n1`` evaluated trials (a few phase-2
trials may come between).

The group that phase 2 pins takes the values of the best COMPLETE phase-1 trial, recomputed
from the storage whenever a phase-2 trial starts (no state of our own; the same answer in every
worker): the highest :func:`~._scalarise.rewards` with Chebyshev scalarisation and equal
weights over objectives normalised by the phase-1 range, infeasible trials penalised below
every feasible one, ties to the lower trial number. With one objective that is simply the best
feasible value; with several it is the most balanced trade-off (the knee of the phase-1 front,
which Chebyshev finds on non-convex fronts too, unlike a weighted sum, and with no reference
point needed, unlike a hypervolume contribution). Until some phase-1 trial is COMPLETE the
baseline values stand in. While other workers still evaluate phase-1 trials, early phase-2
trials use the best finished so far; once phase 1 holds its ``n1`` finished trials the choice
is final and the same in every worker.

Each phase has its own inner sampler (built at construction; phase 1 gets ``seed``, phase 2 a
seed derived from it), which sees a view of the study (:func:`~._view.phase_study`):
only the trials of its phase (and the trial being sampled) whose pinned parameters hold the
phase's pinned values, with only the parameters it searches, and study system attrs under its
own prefix (NSGA-II caches its parents there). So the phase-2 search starts fresh and is fed
phase-2 trials only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from .._registry import create_sampler, sampler_study_options
from ..seam import cached_trials, contains, set_trial_system_attr, trial_id
from ._view import PHASE_KEY, Phase, Stripped, phase_study, strip
from .._scalarise import rewards

__all__ = ["FixedHardwareSampler", "HardwareThenNASSampler", "PHASE_KEY", "PhaseSampler"]

GROUPS = ("nas", "has")
_OURS = ("fixed-hw", "phase", "hw-then-nas")


def _evaluated(trial: FrozenTrial) -> bool:
    """Whether ``trial`` spends budget: COMPLETE, RUNNING, or FAIL because its evaluation
    failed (an ``error`` user attr, as ``moo_cosearch``'s objective records). The rule of
    ``moo_cosearch._gate.spends_budget``, restated since samplers import nothing outside this
    package: a PRUNED trial (a repeat refused unevaluated) or a FAIL left by a killed worker
    (retried as a new trial) is no evaluation."""
    return (trial.state in (TrialState.COMPLETE, TrialState.RUNNING)
            or trial.state == TrialState.FAIL and "error" in trial.user_attrs)


def _phase_seed(seed: int | None, phase: int) -> int | None:
    """The inner seed of ``phase``: ``seed`` itself for phase 1; for phase 2 one derived from
    it, since the same seed would replay phase 1's random start-up draws on the other group
    (e.g. the first accelerators would copy the first networks' choice indices)."""
    if seed is None or phase == 1:
        return seed
    return int(np.random.SeedSequence([seed, phase]).generate_state(1)[0])


class _PhasedSampler(BaseSampler):
    """Shared machinery: phase 1 searches group :attr:`_FIRST` with the other pinned at the
    baseline; phase 2 (once phase 1 holds ``first_trials`` evaluated trials; never if None)
    searches the other group with :attr:`_FIRST` pinned at the best phase-1 design."""

    _FIRST = "nas"
    _NAME = ""

    def __init__(self, *, groups: Mapping[str, str] | None, baseline: Mapping[str, Any] | None,
                 inner: str, inner_options: Mapping[str, Any] | None,
                 ordered: Mapping[str, bool] | None, reference_point: Sequence[float] | None,
                 seed: int | None, first_trials: int | None) -> None:
        if groups is None or baseline is None:
            raise ValueError(f"{self._NAME} needs groups= (parameter -> 'nas' or 'has') and "
                             f"baseline= (parameter -> reference value); "
                             f"moo_cosearch.create_study fills both from the space")
        if not isinstance(groups, Mapping) or not isinstance(baseline, Mapping):
            raise ValueError("groups and baseline must be dicts keyed by parameter name")
        bad = sorted(n for n, g in groups.items() if g not in GROUPS)
        if bad:
            raise ValueError(f"groups must map parameters to 'nas' or 'has', got "
                             f"{ {n: groups[n] for n in bad} }")
        names = {g: frozenset(n for n, v in groups.items() if v == g) for g in GROUPS}
        if not names["nas"] or not names["has"]:
            raise ValueError(f"{self._NAME} needs groups with at least one 'nas' and one "
                             f"'has' parameter, got {dict(groups)}")
        missing = sorted(set(groups) - set(baseline))
        if missing:
            raise ValueError(f"baseline has no value for parameters {missing}")
        if inner in _OURS:
            raise ValueError(f"inner must be a search strategy of its own, not {inner!r}")
        if inner_options is not None and not isinstance(inner_options, Mapping):
            raise ValueError(f"inner_options must be a dict of the inner sampler's options, "
                             f"got {inner_options!r}")
        self._names = names
        self._second = "has" if self._FIRST == "nas" else "nas"
        self._baseline = {n: baseline[n] for n in groups}
        self._first_trials = first_trials
        study_options = {"groups": dict(groups), "baseline": self._baseline,
                         "ordered": ordered, "reference_point": reference_point}
        phases = (1,) if first_trials is None else (1, 2)
        self._inner = {p: self._make_inner(inner, dict(inner_options or {}),
                                           _phase_seed(seed, p), names[self._group(p)],
                                           study_options)
                       for p in phases}
        self._phases: dict[int, Phase] = {}   # trial id → its phase, from before_trial
        self._stripped = {p: Stripped(names[self._group(p)]) for p in phases}

    @staticmethod
    def _make_inner(inner: str, options: dict[str, Any], seed: int | None,
                    names: frozenset[str], study_options: Mapping[str, Any]) -> BaseSampler:
        """The inner sampler of one phase: the study options it takes, restricted to the
        parameters it searches, unless ``inner_options`` gives them."""
        takes = sampler_study_options(inner)
        for key, value in study_options.items():
            if key in takes and value is not None:
                options.setdefault(key, {n: v for n, v in value.items() if n in names}
                                   if isinstance(value, Mapping) else list(value))
        return create_sampler(inner, seed=seed, **options)

    def _group(self, phase: int) -> str:
        return self._FIRST if phase == 1 else self._second

    def _phase_number(self, study: Study, trial: FrozenTrial) -> int:
        """The phase ``trial`` takes when it starts (see the module docstring)."""
        n1 = self._first_trials
        if n1 is None:
            return 1
        count = 0
        for t in cached_trials(study):
            if t.number >= trial.number:
                continue
            label = t.system_attrs.get(PHASE_KEY)
            if label is None and t.state == TrialState.RUNNING:
                label = 1 if count < n1 else 2   # another worker's, unlabelled: as it will be
            count += int(label == 1 and _evaluated(t))
        return 1 if count < n1 else 2

    def _plan(self, study: Study, trial: FrozenTrial) -> Phase:
        """``trial``'s phase (its recorded one, else decided now) with the values its pinned
        group holds."""
        phase = trial.system_attrs.get(PHASE_KEY) or self._phase_number(study, trial)
        first = Phase(1, trial.number, self._names[self._FIRST],
                      {n: self._baseline[n] for n in self._names[self._second]})
        if phase == 1:
            return first
        pinned = {n: self._baseline[n] for n in self._names[self._FIRST]}
        done = [t for t in cached_trials(study, states=(TrialState.COMPLETE,))
                if t.system_attrs.get(PHASE_KEY) == 1 and first.holds(t)
                and pinned.keys() <= t.params.keys()]
        if done:
            score = rewards(done, study.directions, scalarisation="chebyshev",
                            weights=[1.0] * len(study.directions))
            best = done[int(np.argmax(score))]    # first maximum: the lowest number
            pinned = {n: best.params[n] for n in pinned}
        return Phase(2, trial.number, self._names[self._second], pinned)

    def _phase_of(self, study: Study, trial: FrozenTrial) -> Phase:
        phase = self._phases.get(trial_id(trial))
        return phase if phase is not None else self._plan(study, trial)

    def _view(self, study: Study, phase: Phase) -> Study:
        return phase_study(study, phase, self._stripped[phase.phase])

    def reseed_rng(self) -> None:
        for inner in self._inner.values():
            inner.reseed_rng()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        phase = self._plan(study, trial)
        self._phases[trial_id(trial)] = phase
        set_trial_system_attr(study, trial, PHASE_KEY, phase.phase)
        self._inner[phase.phase].before_trial(self._view(study, phase),
                                              strip(trial, phase.free))

    def infer_relative_search_space(self, study: Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        phase = self._phase_of(study, trial)
        space = self._inner[phase.phase].infer_relative_search_space(
            self._view(study, phase), strip(trial, phase.free))
        return {n: d for n, d in space.items() if n in phase.free}

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        phase = self._phase_of(study, trial)
        return self._inner[phase.phase].sample_relative(
            self._view(study, phase), strip(trial, phase.free), search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        phase = self._phase_of(study, trial)
        if param_name in phase.pinned:
            value = phase.pinned[param_name]
            if not contains(param_distribution, value):
                raise ValueError(f"{self._NAME}: pinned value {value!r} of {param_name!r} is "
                                 f"not in its distribution {param_distribution}")
            return value
        if param_name not in phase.free:
            raise ValueError(f"{self._NAME}: parameter {param_name!r} is in neither group; "
                             f"groups= must name every searched parameter")
        return self._inner[phase.phase].sample_independent(
            self._view(study, phase), strip(trial, phase.free), param_name,
            param_distribution)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        phase = self._phases.pop(trial_id(trial), None) or self._plan(study, trial)
        self._inner[phase.phase].after_trial(self._view(study, phase),
                                             strip(trial, phase.free), state, values)


class FixedHardwareSampler(_PhasedSampler):
    """Hardware-aware NAS on a fixed accelerator: every trial pins the ``"has"`` parameters to
    ``baseline`` and the inner sampler searches the ``"nas"`` ones.

    Args:
        groups: searched parameter → ``"nas"`` or ``"has"`` (``create_study`` fills it).
        baseline: parameter → reference value (``create_study``: the space's ``[baseline]``).
        inner: the registered sampler that searches the network (default ``tpe``).
        inner_options: that sampler's own options.
        ordered: forwarded to an inner sampler that takes it (``create_study`` fills it).
        reference_point: forwarded to an inner sampler that takes it.
        seed: seed of the inner sampler.
    """

    _NAME = "fixed-hw"

    def __init__(self, groups: dict | None = None, baseline: dict | None = None,
                 inner: str = "tpe", inner_options: dict | None = None,
                 ordered: dict | None = None, reference_point: list | None = None,
                 seed: int | None = None) -> None:
        super().__init__(groups=groups, baseline=baseline, inner=inner,
                         inner_options=inner_options, ordered=ordered,
                         reference_point=reference_point, seed=seed, first_trials=None)


class PhaseSampler(_PhasedSampler):
    """NAHAS's phase search: NAS with the accelerator pinned to ``baseline`` for the first
    ``round(budget * first_share)`` evaluated trials (halves rounded up), then HAS with the
    network pinned to the best phase-1 design (see the module docstring) for every later trial.

    Args:
        groups: searched parameter → ``"nas"`` or ``"has"`` (``create_study`` fills it).
        baseline: parameter → reference value (``create_study``: the space's ``[baseline]``).
        budget: the evaluated trials the search plans for (set it to the run's ``--budget``;
            the default is the CLI's default ``--trials``); trials past it stay in phase 2.
        first_share: share of ``budget`` spent in phase 1, in [0, 1].
        inner: the registered sampler that runs each phase's search (default ``tpe``); phase 2
            gets a fresh one, seeded from ``seed``.
        inner_options: that sampler's own options.
        ordered: forwarded to an inner sampler that takes it (``create_study`` fills it).
        reference_point: forwarded to an inner sampler that takes it.
        seed: seed of the inner samplers.
    """

    _NAME = "phase"

    def __init__(self, groups: dict | None = None, baseline: dict | None = None,
                 budget: int = 300, first_share: float = 0.5, inner: str = "tpe",
                 inner_options: dict | None = None, ordered: dict | None = None,
                 reference_point: list | None = None, seed: int | None = None) -> None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ValueError(f"budget must be an int >= 1 (evaluated trials), got {budget!r}")
        if not isinstance(first_share, (int, float)) or not 0.0 <= first_share <= 1.0:
            raise ValueError(f"first_share must be in [0, 1], got {first_share!r}")
        super().__init__(groups=groups, baseline=baseline, inner=inner,
                         inner_options=inner_options, ordered=ordered,
                         reference_point=reference_point, seed=seed,
                         first_trials=math.floor(budget * first_share + 0.5))

    @property
    def first_trials(self) -> int:
        """Evaluated trials in phase 1: ``round(budget * first_share)``."""
        assert self._first_trials is not None
        return self._first_trials


class HardwareThenNASSampler(PhaseSampler):
    """The reverse of :class:`PhaseSampler`: HAS with the network pinned to ``baseline`` (the
    reference network) for the first ``round(budget * first_share)`` evaluated trials, then NAS
    on the best phase-1 accelerator. Same arguments."""

    _FIRST = "has"
    _NAME = "hw-then-nas"

