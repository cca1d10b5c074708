"""Figures of a comparison: hypervolume against evaluated trials and against wall-clock (median
and interquartile band over seeds), the ECDF of evaluations to the hypervolume targets, and the
combined Pareto front of all runs with the hand-designed references."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    import optuna

    from ._refs import Reference

__all__ = ["plot_curves", "plot_ecdf", "plot_front"]

_REF_MARKERS = ("*", "P", "X", "D")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colours(names: Sequence[str]) -> dict[str, Any]:
    """One distinct colour per sampler (tab20 holds 20)."""
    plt = _pyplot()
    cmap = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
    return {n: cmap(i % cmap.N) for i, n in enumerate(names)}


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def plot_curves(x: np.ndarray, curves: Mapping[str, np.ndarray], path: str | Path, *,
                xlabel: str, title: str, log_x: bool = False) -> Path:
    """Median (line) and interquartile band of each sampler's runs; ``curves[name]`` has one
    row per run, one column per ``x``. Left: the whole range; right: the same curves from
    90 % of the best final median up, where the samplers part."""
    plt = _pyplot()
    colours = _colours(list(curves))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    top = max(float(np.median(runs[:, -1])) for runs in curves.values())
    for ax in axes:
        for name, runs in curves.items():
            q25, med, q75 = np.percentile(runs, [25, 50, 75], axis=0)
            ax.plot(x, med, color=colours[name], lw=1.4, label=f"{name} ({len(runs)})")
            ax.fill_between(x, q25, q75, color=colours[name], alpha=0.15, lw=0)
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("feasible hypervolume")
    if top > 0:
        axes[1].set_ylim(0.9 * top, 1.01 * max(float(np.percentile(runs[:, -1], 75))
                                               for runs in curves.values()))
    axes[1].set_title("from 90 % of the best final median up", fontsize=8)
    fig.suptitle(title, fontsize=9)
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5),
                   title="sampler (runs)", title_fontsize=7)
    return _save(fig, Path(path))


def plot_ecdf(curves: Mapping[str, np.ndarray], path: str | Path, *, title: str) -> Path:
    """ECDF of evaluations to reach the targets, one line per sampler (COCO-style)."""
    plt = _pyplot()
    colours = _colours(list(curves))
    fig, ax = plt.subplots(figsize=(8.5, 5))
    for name, frac in curves.items():
        ax.step(np.arange(1, len(frac) + 1), frac, where="post", color=colours[name],
                lw=1.4, label=name)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("evaluated trials")
    ax.set_ylabel("fraction of (run, target) pairs reached")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, Path(path))


def _ref_value(ref: "Reference", metric: str, names: Sequence[str]) -> float:
    if metric in ref.metrics and isinstance(ref.metrics[metric], (int, float)):
        return float(ref.metrics[metric])
    return float(ref.values[list(names).index(metric)])


def plot_front(front: Sequence[tuple[str, "optuna.trial.FrozenTrial"]], names: Sequence[str],
               refs: Sequence["Reference"], samplers: Sequence[str], path: str | Path, *,
               title: str) -> Path:
    """The combined Pareto front (each design coloured by the sampler whose run found it),
    one panel per pair of objectives, with every reference marked (hollow: infeasible, at its
    stock network's accuracy)."""
    plt = _pyplot()
    colours = _colours(list(samplers))
    pairs = list(combinations(range(len(names)), 2)) or [(0, 0)]
    fig, axes = plt.subplots(1, len(pairs), figsize=(5 * len(pairs), 4.6), squeeze=False)
    for ax, (i, j) in zip(axes[0], pairs):
        y, x = names[i], names[j]
        for sampler in samplers:
            pts = [t for s, t in front if s == sampler]
            if pts:
                ax.scatter([t.values[j] for t in pts], [t.values[i] for t in pts], s=14,
                           color=colours[sampler], label=sampler)
        for k, ref in enumerate(refs):
            ax.scatter([_ref_value(ref, x, names)], [_ref_value(ref, y, names)], s=110,
                       marker=_REF_MARKERS[k % len(_REF_MARKERS)], edgecolors="black",
                       facecolors="black" if ref.feasible else "none", linewidths=1.2,
                       label=ref.name + ("" if ref.feasible else " (infeasible)"), zorder=5)
        ax.set_xlabel(x)
        ax.set_ylabel("accuracy (%)" if y == "accuracy" else y)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=4,
               bbox_to_anchor=(0.5, -0.02 - 0.035 * ((len(labels) + 3) // 4)))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, Path(path))

