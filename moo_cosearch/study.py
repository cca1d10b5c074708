"""Plain ``optuna.Study`` creation for a joint space + objective set, and study analysis
(Pareto set, hypervolume) that works on any study made this way."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from .objectives import ObjectiveSet, load_objectives
from .samplers import create_sampler

if TYPE_CHECKING:
    import optuna

    from .space import JointSpace

__all__ = ["DEFAULT_STORAGE", "create_study", "default_study_name", "pareto_trials",
           "hypervolume_history", "reference_point", "minimization_matrix"]

DEFAULT_STORAGE = "sqlite:///runs/moo-cosearch.db"
#: Samplers given the objective set's reference point (unless sampler_options set one).
_TAKES_REFERENCE_POINT = ("qehvi", "qnehvi")


def default_study_name(space: "JointSpace", objectives: ObjectiveSet, sampler: str,
                       seed: int | None) -> str:
    return f"{space.name}--{objectives.name}--{sampler}--seed{seed}"


def _prepare_storage(storage: str) -> str:
    """Create the folder of a relative/absolute SQLite file URL; other URLs pass through."""
    prefix = "sqlite:///"
    if storage.startswith(prefix) and storage != prefix + ":memory:":
        Path(storage[len(prefix):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return storage


def create_study(space: "JointSpace", objectives: ObjectiveSet | str | Path, *,
                 sampler: "str | optuna.samplers.BaseSampler" = "nsga2", seed: int | None = None,
                 sampler_options: Mapping[str, Any] | None = None,
                 storage: "str | optuna.storages.BaseStorage | None" = DEFAULT_STORAGE,
                 study_name: str | None = None, load_if_exists: bool = True) -> "optuna.Study":
    """A plain ``optuna.Study`` with the objective set's directions (SQLite file by default).

    The space and objective set are recorded in the study's user attrs; loading an existing
    study made for another space or objective set raises ``ValueError``.

    Args:
        space: the joint space.
        objectives: objective set (instance, built-in name or TOML path).
        sampler: a sampler name for :func:`~moo_cosearch.samplers.create_sampler`, or a sampler.
            ``qehvi`` / ``qnehvi`` get the objective set's ``reference_point`` when it names
            every objective.
        seed: sampler seed.
        sampler_options: extra sampler constructor options.
        storage: an Optuna storage URL or object; None keeps the study in memory.
        study_name: defaults to ``"<space>--<objectives>--<sampler>--seed<seed>"``.
        load_if_exists: resume a study with the same name in the same storage.
    """
    import optuna

    obj = load_objectives(objectives)
    if isinstance(sampler, str):
        name = sampler
        options = dict(sampler_options or {})
        if name in _TAKES_REFERENCE_POINT and set(obj.metric_names) <= set(obj.reference_point):
            options.setdefault("reference_point",
                               [float(obj.reference_point[m]) for m in obj.metric_names])
        sampler = create_sampler(sampler, seed=seed, **options)
    else:
        name = type(sampler).__name__
    if study_name is None:
        study_name = default_study_name(space, obj, name, seed)
    if isinstance(storage, str):
        storage = _prepare_storage(storage)
    study = optuna.create_study(storage=storage, study_name=study_name, sampler=sampler,
                                directions=obj.directions, load_if_exists=load_if_exists)
    tags = {"space": space.name, "space_hash": space.definition_hash, "objectives": obj.name}
    stored = study.user_attrs
    if "space" in stored:
        for key, value in tags.items():
            if stored.get(key) != value:
                raise ValueError(f"study {study_name!r} was made with {key} "
                                 f"{stored.get(key)!r}, not {value!r}; use another study name")
        if [d.name.lower() for d in study.directions] != obj.directions:
            raise ValueError(f"study {study_name!r} has directions "
                             f"{[d.name.lower() for d in study.directions]}, not {obj.directions}")
    else:
        for key, value in tags.items():
            study.set_user_attr(key, value)
        study.set_user_attr("metrics", obj.metric_names)
    return study


def _is_feasible(trial: "optuna.trial.FrozenTrial") -> bool:
    return all(v <= 0 for v in trial.constraints.values())


def pareto_trials(study: "optuna.Study") -> list["optuna.trial.FrozenTrial"]:
    """Feasible non-dominated trials (Optuna's ``best_trials``), sorted by the first objective."""
    if len(study.directions) == 1:
        try:
            return [study.best_trial]
        except ValueError:
            return []
    best = study.best_trials
    sign = -1 if study.directions[0].name == "MAXIMIZE" else 1
    return sorted(best, key=lambda t: sign * t.values[0])


def minimization_matrix(trials: Sequence["optuna.trial.FrozenTrial"],
                        directions: Sequence[Any]) -> np.ndarray:
    """Objective values with maximised columns negated, shape (n, n_obj)."""
    signs = np.array([-1.0 if d.name == "MAXIMIZE" else 1.0 for d in directions])
    vals = np.array([t.values for t in trials], dtype=float).reshape(-1, len(directions))
    return vals * signs


def _complete_feasible(study: "optuna.Study") -> list["optuna.trial.FrozenTrial"]:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return [t for t in trials if _is_feasible(t)]


def reference_point(study: "optuna.Study", objectives: ObjectiveSet | None = None) -> np.ndarray:
    """Hypervolume reference point in minimisation form.

    Taken from the objective set's ``reference_point`` where given; other coordinates are the
    worst value among feasible completed trials, pushed out by 10% of the range (so extreme
    points still add volume).
    """
    feas = _complete_feasible(study)
    if not feas:
        raise ValueError("no feasible completed trials: the hypervolume is undefined")
    f = minimization_matrix(feas, study.directions)
    worst, best = f.max(axis=0), f.min(axis=0)
    ref = worst + 0.1 * np.maximum(worst - best, 1e-12 + 1e-9 * np.abs(worst))
    if objectives is not None:
        for j, (metric, direction) in enumerate(objectives.objectives):
            if metric in objectives.reference_point:
                v = float(objectives.reference_point[metric])
                ref[j] = -v if direction == "maximize" else v
    return ref


def hypervolume_history(study: "optuna.Study", ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hypervolume of the feasible points among the first k trials, for every trial number k.

    Returns:
        (trial_numbers, hypervolumes); trials that failed or are infeasible repeat the last value.
    """
    import moocore
    from optuna.trial import TrialState

    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    numbers = np.array([t.number for t in trials], dtype=int)
    hv = np.zeros(len(trials))
    points: list[np.ndarray] = []
    current = 0.0
    for i, t in enumerate(trials):
        if t.state == TrialState.COMPLETE and _is_feasible(t):
            p = minimization_matrix([t], study.directions)[0]
            if np.all(p < ref):
                points.append(p)
                current = float(moocore.hypervolume(np.array(points), ref=ref))
        hv[i] = current
    return numbers, hv
