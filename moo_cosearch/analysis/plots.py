"""Matplotlib figures of a study: Pareto front (pairwise projections) and hypervolume history."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ._pareto import is_feasible, pareto_trials

if TYPE_CHECKING:
    import optuna

__all__ = ["plot_pareto_front", "plot_hypervolume_history"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _log_if_wide(set_scale, values: np.ndarray) -> None:
    """Log axis for positive values spanning more than two decades (latency, area, energy)."""
    if values.size and np.all(values > 0) and values.max() > 100 * values.min():
        set_scale("log")


def plot_pareto_front(study: "optuna.Study", path: str | Path,
                      metric_names: Sequence[str] | None = None) -> Path:
    """Scatter every completed trial (feasible grey, infeasible light red) with the feasible
    Pareto set highlighted, one panel per pair of objectives (a single objective is plotted
    against the trial number); saved to ``path``."""
    from optuna.trial import TrialState

    plt = _pyplot()
    names = list(metric_names or [f"objective {i}" for i in range(len(study.directions))])
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    feas = np.array([t.values for t in done if is_feasible(t)]).reshape(-1, len(names))
    infeas = np.array([t.values for t in done if not is_feasible(t)]).reshape(-1, len(names))
    front_trials = pareto_trials(study)
    distinct = len({tuple(sorted(t.params.items())) for t in front_trials})
    front = np.array([t.values for t in front_trials]).reshape(-1, len(names))
    if len(names) == 1:  # a single objective: value against trial number
        names = names + ["trial"]
        number = np.array([[t.number] for t in done])
        feasible = np.array([is_feasible(t) for t in done], dtype=bool)
        feas = np.hstack([feas, number[feasible].reshape(-1, 1)])
        infeas = np.hstack([infeas, number[~feasible].reshape(-1, 1)])
        front = np.hstack([front, [[t.number] for t in front_trials]]).reshape(-1, 2)
    pairs = list(combinations(range(len(names)), 2))
    fig, axes = plt.subplots(1, len(pairs), figsize=(5 * len(pairs), 4.2), squeeze=False)
    for ax, (i, j) in zip(axes[0], pairs):
        ax.scatter(infeas[:, j], infeas[:, i], s=8, c="#f4a6a6", label="infeasible")
        ax.scatter(feas[:, j], feas[:, i], s=10, c="#999999", label="feasible")
        order = np.argsort(front[:, j])
        ax.plot(front[order, j], front[order, i], "o", c="#d62728", ms=5, label="Pareto set")
        ax.set_xlabel(names[j])
        ax.set_ylabel(names[i])
        _log_if_wide(ax.set_xscale, np.concatenate([feas[:, j], infeas[:, j]]))
        _log_if_wide(ax.set_yscale, np.concatenate([feas[:, i], infeas[:, i]]))
        ax.grid(alpha=0.3)
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle(f"{study.study_name}: {distinct} distinct Pareto designs, {len(done)} trials",
                 fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_hypervolume_history(trial_numbers: np.ndarray, hypervolumes: np.ndarray,
                             path: str | Path, title: str = "") -> Path:
    """Line plot of the feasible hypervolume after each trial; saved to ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.step(trial_numbers, hypervolumes, where="post")
    ax.set_xlabel("trial")
    ax.set_ylabel("hypervolume (feasible trials)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
