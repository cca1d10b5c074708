"""Matplotlib figures of a study: the Pareto front (pairwise projections, infeasible designs in
their own strip), the hypervolume history and, for single-objective studies, the best value so
far. The last two are Optuna's own figures (``optuna.visualization.matplotlib``)."""

from __future__ import annotations

import math
import warnings
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..objectives import COST_METRICS
from ._labels import (NOT_EVALUATED, fmt, metric_label, not_evaluated, reference_point_text,
                      study_metric_names)
from ._pareto import is_feasible, pareto_trials

if TYPE_CHECKING:
    import optuna

__all__ = ["plot_best_value", "plot_hypervolume_history", "plot_pareto_front"]

_FEASIBLE, _INFEASIBLE, _FRONT = "#999999", "#e8877f", "#d62728"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _log_if_wide(set_scale, values: np.ndarray) -> None:
    """Log axis for positive values spanning more than two decades (latency, area, energy)."""
    values = values[np.isfinite(values)]
    if values.size and np.all(values > 0) and values.max() > 100 * values.min():
        set_scale("log")


def _value(trial: "optuna.trial.FrozenTrial", metric: str, names: Sequence[str]) -> float:
    """A trial's metric: the recorded cost (user attr) for cost metrics, the objective value
    for the others, the trial number for ``"trial"``; NaN when the trial has none."""
    if metric == "trial":
        return float(trial.number)
    if metric in COST_METRICS and metric in trial.user_attrs:
        return float(trial.user_attrs[metric])
    if metric in names and trial.values is not None:
        return float(trial.values[list(names).index(metric)])
    v = trial.user_attrs.get(metric)
    return float(v) if isinstance(v, (int, float)) else math.nan


def _panels(names: Sequence[str], done: Sequence["optuna.trial.FrozenTrial"]
            ) -> list[tuple[str, str]]:
    """(y metric, x metric) per panel: every pair of objectives with a placeholder metric
    (accuracy, reward) on y; a single objective against each recorded cost metric."""
    if len(names) == 1:
        costs = [m for m in COST_METRICS
                 if any(math.isfinite(_value(t, m, names)) for t in done)]
        return [(names[0], m) for m in costs] or [(names[0], "trial")]
    pairs = []
    for i, j in combinations(range(len(names)), 2):
        y, x = names[i], names[j]
        if x in NOT_EVALUATED and y not in NOT_EVALUATED:
            y, x = x, y
        pairs.append((y, x))
    return pairs


def plot_pareto_front(study: "optuna.Study", path: str | Path,
                      metric_names: Sequence[str] | None = None) -> Path:
    """Scatter every completed trial with the feasible Pareto set highlighted, one panel per
    pair of objectives (a single objective: against each recorded cost, best design
    highlighted); saved to ``path``.

    Feasible trials are grey, infeasible ones red. Designs whose accuracy was never evaluated
    (over a hard limit: their accuracy and reward are a placeholder 0) are drawn at their
    recorded costs in a labelled strip under the panel, so they do not stretch its accuracy
    axis."""
    from optuna.trial import TrialState

    plt = _pyplot()
    names = study_metric_names(study, metric_names)
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    front_trials = pareto_trials(study)
    front_ids = {t.number for t in front_trials}
    single = len(names) == 1
    panels = _panels(names, done)
    strips = [any(not_evaluated(t, y) for t in done) for y, _ in panels]
    legend: dict = {}
    fig = plt.figure(figsize=(max(6.4, 5 * len(panels)), 4.8))
    grid = fig.add_gridspec(2, len(panels), height_ratios=[6, 1], hspace=0.08)
    for k, ((y, x), strip) in enumerate(zip(panels, strips)):
        ax = fig.add_subplot(grid[0, k] if strip else grid[:, k])
        xs = {n: [] for n in ("feasible", "infeasible", "front", "unevaluated")}
        ys = {n: [] for n in xs}
        for t in done:
            xv = _value(t, x, names)
            if not_evaluated(t, y):
                kind, yv = "unevaluated", 0.0
            else:
                yv = _value(t, y, names)
                kind = ("front" if t.number in front_ids else "feasible") if is_feasible(t) \
                    else "infeasible"
            xs[kind].append(xv)
            ys[kind].append(yv)
        xs = {n: np.array(v, dtype=float) for n, v in xs.items()}
        ys = {n: np.array(v, dtype=float) for n, v in ys.items()}
        front_label = "best design" if single else "Pareto set"
        if len(xs["infeasible"]):
            ax.scatter(xs["infeasible"], ys["infeasible"], s=10, c=_INFEASIBLE, marker="x",
                       label="infeasible")
        ax.scatter(xs["feasible"], ys["feasible"], s=10, c=_FEASIBLE, label="feasible")
        order = np.argsort(xs["front"])
        ax.plot(xs["front"][order], ys["front"][order], "o", c=_FRONT, ms=5, label=front_label)
        ax.set_ylabel(metric_label(y))
        every_x = np.concatenate(list(xs.values()))
        _log_if_wide(ax.set_xscale, every_x)
        _log_if_wide(ax.set_yscale, np.concatenate([ys[n] for n in
                                                    ("feasible", "infeasible", "front")]))
        ax.grid(alpha=0.3)
        if k == 0:
            first = ax
        for h, lab in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(lab, h)
        if not strip:
            ax.set_xlabel(metric_label(x))
            continue
        ax.tick_params(labelbottom=False)
        bottom = fig.add_subplot(grid[1, k], sharex=ax)
        n = len(xs["unevaluated"])
        jitter = np.random.default_rng(0).uniform(-1.8, 0.4, n)   # under the label
        bottom.scatter(xs["unevaluated"], jitter, s=10, c=_INFEASIBLE, marker="x")
        bottom.set_ylim(-2.5, 2.5)
        bottom.set_yticks([])
        bottom.text(0.01, 0.93, f"infeasible, {metric_label(y)} not evaluated ({n})",
                    transform=bottom.transAxes, va="top", fontsize=7, color="#a33")
        bottom.set_xlabel(metric_label(x))
        bottom.grid(alpha=0.3, axis="x")
    first.legend(legend.values(), legend.keys(), loc="best", fontsize=8)
    feasible = sum(is_feasible(t) for t in done)
    if single and front_trials:
        best = front_trials[0]
        head = (f"best {metric_label(names[0])} {fmt(float(best.values[0]))} "
                f"(trial {best.number})")
    else:
        distinct = len({tuple(sorted(t.params.items())) for t in front_trials})
        head = f"{distinct} distinct Pareto designs"
    fig.suptitle(f"{study.study_name}\n{head}; {len(done)} trials, {feasible} feasible",
                 fontsize=9)
    fig.subplots_adjust(left=0.07 if len(panels) > 1 else 0.13, right=0.98, top=0.88,
                        bottom=0.12, wspace=0.28)
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _save_optuna_figure(draw, path: str | Path, title: str, ylabel: str) -> Path:
    """Run an ``optuna.visualization.matplotlib`` function (experimental: its warning is
    silenced; it switches the style to ggplot: restored afterwards) and save its figure."""
    import matplotlib
    from optuna.exceptions import ExperimentalWarning

    plt = _pyplot()
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", ExperimentalWarning)
        ax = draw()
        fig = ax.figure
        fig.set_size_inches(6.4, 4.2)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(ylabel)
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_hypervolume_history(study: "optuna.Study", reference_point: Sequence[float],
                             path: str | Path, *, title: str | None = None) -> Path:
    """Hypervolume of the feasible trials after each completed trial, drawn by Optuna
    (``optuna.visualization.matplotlib.plot_hypervolume_history``, the same values as
    :func:`~moo_cosearch.analysis.hypervolume_history`); saved to ``path``.

    Args:
        reference_point: in minimisation form, as :func:`~moo_cosearch.analysis.reference_point`
            returns it (maximised objectives negated).
    """
    from optuna.visualization.matplotlib import plot_hypervolume_history as optuna_plot

    signs = np.array([-1.0 if d.name == "MAXIMIZE" else 1.0 for d in study.directions])
    own = [float(v) + 0.0 for v in signs * np.asarray(reference_point, dtype=float)]
    if title is None:
        title = (f"{study.study_name}\nreference point: "
                 f"{reference_point_text(study, reference_point)}")
    return _save_optuna_figure(lambda: optuna_plot(study, own), path, title,
                               "hypervolume of the feasible trials")


def plot_best_value(study: "optuna.Study", path: str | Path, *,
                    metric_name: str | None = None, title: str | None = None) -> Path:
    """A single-objective study's trial values and best feasible value so far, drawn by Optuna
    (``optuna.visualization.matplotlib.plot_optimization_history``: infeasible trials apart);
    saved to ``path``."""
    from optuna.visualization.matplotlib import plot_optimization_history

    label = metric_label(metric_name or study_metric_names(study)[0])
    if title is None:
        title = f"{study.study_name}: {label} of each trial, best feasible so far"
    return _save_optuna_figure(
        lambda: plot_optimization_history(study, target_name=label), path, title, label)
