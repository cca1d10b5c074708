"""Pareto set, feasibility, hypervolume reference point and hypervolume history of a study.

Works on any ``optuna.Study`` made by :func:`moo_cosearch.create_study` (or any multi-objective
study with constraints recorded the Optuna way: feasible when every constraint is ``<= 0``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    import optuna

    from ..objectives import ObjectiveSet

__all__ = ["hypervolume_history", "is_feasible", "minimization_matrix", "pareto_trials",
           "reference_point"]


def is_feasible(trial: "optuna.trial.FrozenTrial") -> bool:
    """True when every constraint value of ``trial`` is ``<= 0`` (no constraints: feasible)."""
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
    return [t for t in trials if is_feasible(t)]


def reference_point(study: "optuna.Study",
                    objectives: "ObjectiveSet | None" = None) -> np.ndarray:
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
    """Hypervolume of the feasible points among the first k trials, for every trial number k
    (``moocore.hypervolume``; the curve ``optuna.visualization.matplotlib.
    plot_hypervolume_history`` draws, which leaves out failed trials).

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
        if t.state == TrialState.COMPLETE and is_feasible(t):
            p = minimization_matrix([t], study.directions)[0]
            if np.all(p < ref):
                points.append(p)
                current = float(moocore.hypervolume(np.array(points), ref=ref))
        hv[i] = current
    return numbers, hv
