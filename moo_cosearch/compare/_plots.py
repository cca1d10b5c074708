"""Figures of a comparison: hypervolume (a fraction of the combined front's) against evaluated
trials and against wall-clock (median line and interquartile band over seeds), the ECDF of
evaluations to the hypervolume targets, and the combined Pareto front of all runs with the
hand-designed references, the reference point and the hard limits.

Made to be printed: axis labels with units, a legend entry for the band, line styles and
markers that tell samplers apart in grey, log axes where values span a decade or more,
references far outside the found designs pinned to the axis edge with their value written
next to them (instead of squashing the designs), short titles (the details are in
``report.md``), and every figure in each of the requested formats.
"""

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
_STYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "v", "D", "x", "+", "*", "<", ">")
#: A value range at least this wide (max / min) gets a log axis.
_DECADE = 10.0


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _looks(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per sampler: a colour, a line style and a marker, so that lines differ in grey too."""
    plt = _pyplot()
    cmap = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
    return {n: {"color": cmap(i % cmap.N), "linestyle": _STYLES[i % len(_STYLES)],
                "marker": _MARKERS[i % len(_MARKERS)]} for i, n in enumerate(names)}


def _save(fig: Any, path: Path, formats: Sequence[str]) -> list[Path]:
    """``path`` with each format's suffix; PNG at 200 dpi, vector formats as they are."""
    out = []
    for fmt in formats:
        target = path.with_suffix("." + fmt)
        fig.savefig(target, dpi=200 if fmt == "png" else None, bbox_inches="tight")
        out.append(target)
    _pyplot().close(fig)
    return out


def _band_handle(label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(facecolor="grey", alpha=0.25, label=label)


def plot_curves(x: np.ndarray, curves: Mapping[str, np.ndarray], path: str | Path, *,
                xlabel: str, title: str, ylabel: str = "hypervolume (fraction of the "
                "combined front)", log_x: bool = False,
                formats: Sequence[str] = ("png",)) -> list[Path]:
    """Median (line) and interquartile band of each sampler's runs; ``curves[name]`` has one
    row per run, one column per ``x``. Left: the whole range; right: the same curves from
    90 % of the best final median up, where the samplers part."""
    plt = _pyplot()
    looks = _looks(list(curves))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    top = max(float(np.median(runs[:, -1])) for runs in curves.values())
    every = max(1, len(x) // 8)
    for ax in axes:
        for name, runs in curves.items():
            q25, med, q75 = np.percentile(runs, [25, 50, 75], axis=0)
            ax.plot(x, med, lw=1.4, markevery=every, markersize=4,
                    label=f"{name} (n = {len(runs)})", **looks[name])
            ax.fill_between(x, q25, q75, color=looks[name]["color"], alpha=0.15, lw=0)
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    if top > 0:
        axes[1].set_ylim(0.9 * top, 1.01 * max(float(np.percentile(runs[:, -1], 75))
                                               for runs in curves.values()))
    axes[1].set_title("zoom: from 90 % of the best final median", fontsize=8)
    fig.suptitle(title, fontsize=10)
    handles, labels = axes[1].get_legend_handles_labels()
    handles.append(_band_handle("band: interquartile range over seeds"))
    axes[1].legend(handles=handles, fontsize=7, loc="center left",
                   bbox_to_anchor=(1.01, 0.5), title="sampler: median", title_fontsize=7)
    return _save(fig, Path(path), formats)


def plot_ecdf(curves: Mapping[str, np.ndarray], path: str | Path, *, title: str,
              formats: Sequence[str] = ("png",)) -> list[Path]:
    """ECDF of evaluations to reach the targets, one line per sampler (COCO-style)."""
    plt = _pyplot()
    looks = _looks(list(curves))
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    for name, frac in curves.items():
        k = np.arange(1, len(frac) + 1)
        marks = np.unique(np.geomspace(1, len(frac), 8).astype(int)) - 1
        ax.step(k, frac, where="post", lw=1.4, label=name, markevery=list(marks),
                markersize=4, **looks[name])
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("evaluated trials")
    ax.set_ylabel("fraction of (run, target) pairs reached")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, Path(path), formats)


def _ref_value(ref: "Reference", metric: str, names: Sequence[str]) -> float:
    if metric in ref.metrics and isinstance(ref.metrics[metric], (int, float)):
        return float(ref.metrics[metric])
    return float(ref.values[list(names).index(metric)])


def _axis(ax: Any, which: str, found: np.ndarray, refs: np.ndarray, lines: Sequence[float]
          ) -> tuple[float, float] | None:
    """Scale one axis: log when the found designs and the references are positive and span a
    decade; else the found designs' range, widened to take a reference within one span of it
    and a limit or reference-point line within a quarter span (returned: the axis limits,
    to which the references and lines outside are pinned)."""
    found = found[np.isfinite(found)]
    values = np.concatenate([found, refs[np.isfinite(refs)]])
    if not len(found):
        return None
    positive = values.min() > 0 and all(v > 0 for v in lines)
    if positive and max(values.max(), *lines) / min(values.min(), *lines) >= _DECADE:
        getattr(ax, f"set_{which}scale")("log")
        return None
    lo, hi = float(found.min()), float(found.max())
    span = (hi - lo) or abs(hi) or 1.0
    near = [v for v in refs if lo - span <= v <= hi + span]
    near += [v for v in lines if lo - span / 4 <= v <= hi + span / 4]
    lo, hi = min([lo, *near]), max([hi, *near])
    pad = 0.06 * ((hi - lo) or span)
    limits = (lo - pad, hi + pad)
    getattr(ax, f"set_{which}lim")(*limits)
    return limits


def _lines(ax: Any, metric: str, vertical: bool, limits: Mapping[str, float],
           reference_point: Mapping[str, float], label: str,
           clip: tuple[float, float] | None) -> None:
    """The hard limit (red, dotted) and the hypervolume reference point (grey, dashed) of one
    metric; one line when they coincide; a line outside the axis is written at its edge."""
    draw = []
    if metric in limits:
        same = reference_point.get(metric) == limits[metric]
        draw.append((limits[metric], "tab:red", ":", f"limit on {label}"
                     + (" (= hypervolume reference point)" if same else "")))
    if metric in reference_point and reference_point[metric] != limits.get(metric):
        draw.append((reference_point[metric], "grey", "--", "hypervolume reference point"))
    for value, colour, style, text in draw:
        if clip is not None and not clip[0] <= value <= clip[1]:
            edge = clip[0] if value < clip[0] else clip[1]
            where = (edge, 0.02) if vertical else (0.01, edge)
            ax.annotate(f"{text.split(' (')[0]}: {value:.3g}", where, fontsize=6,
                        color=colour, xycoords=("data", "axes fraction") if vertical
                        else ("axes fraction", "data"), ha="right" if vertical else "left",
                        rotation=90 if vertical else 0)
            continue
        (ax.axvline if vertical else ax.axhline)(value, color=colour, linestyle=style,
                                                 lw=1.2, label=text)


def plot_front(front: Sequence[tuple[str, "optuna.trial.FrozenTrial"]], names: Sequence[str],
               refs: Sequence["Reference"], samplers: Sequence[str], path: str | Path, *,
               title: str, labels: Mapping[str, str] | None = None,
               limits: Mapping[str, float] | None = None,
               reference_point: Mapping[str, float] | None = None,
               formats: Sequence[str] = ("png",)) -> list[Path]:
    """The combined Pareto front (each design marked by the sampler whose run found it), one
    panel per pair of objectives, with every reference (hollow: infeasible, at its stock
    network's accuracy), the hard limits (red, dotted) and the hypervolume reference point
    (grey, dashed), all in the objectives' own units."""
    plt = _pyplot()
    looks = _looks(list(samplers))
    labels, limits, reference_point = labels or {}, limits or {}, reference_point or {}
    pairs = list(combinations(range(len(names)), 2)) or [(0, 0)]
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs), 4.2), squeeze=False)
    for ax, (i, j) in zip(axes[0], pairs):
        y, x = names[i], names[j]
        for sampler in samplers:
            pts = [t for s, t in front if s == sampler]
            if pts:
                ax.scatter([t.values[j] for t in pts], [t.values[i] for t in pts], s=16,
                           color=looks[sampler]["color"], marker=looks[sampler]["marker"],
                           label=sampler)
        ref_xy = np.array([[_ref_value(r, x, names), _ref_value(r, y, names)] for r in refs],
                          dtype=float).reshape(-1, 2)
        lines = {m: [v for v in (limits.get(m), reference_point.get(m)) if v is not None]
                 for m in (x, y)}
        found = np.array([[t.values[j], t.values[i]] for _, t in front], dtype=float
                         ).reshape(-1, 2)
        clip_x = _axis(ax, "x", found[:, 0], ref_xy[:, 0], lines[x])
        clip_y = _axis(ax, "y", found[:, 1], ref_xy[:, 1], lines[y])
        for k, (ref, (rx, ry)) in enumerate(zip(refs, ref_xy)):
            px = min(max(rx, clip_x[0]), clip_x[1]) if clip_x else rx
            py = min(max(ry, clip_y[0]), clip_y[1]) if clip_y else ry
            ax.scatter([px], [py], s=110, marker=_REF_MARKERS[k % len(_REF_MARKERS)],
                       edgecolors="black", facecolors="black" if ref.feasible else "none",
                       linewidths=1.2, zorder=5, clip_on=False,
                       label=ref.name + ("" if ref.feasible else " (infeasible)"))
            if (px, py) != (rx, ry):          # pinned to the edge: say where it really is
                ax.annotate(f"{rx:.3g}, {ry:.3g}", (px, py), textcoords="offset points",
                            xytext=(-4, 8), fontsize=6, ha="right")
        _lines(ax, x, True, limits, reference_point, labels.get(x, x), clip_x)
        _lines(ax, y, False, limits, reference_point, labels.get(y, y), clip_y)
        ax.set_xlabel(labels.get(x, x))
        ax.set_ylabel(labels.get(y, y))
        ax.grid(alpha=0.3)
    seen: dict[str, Any] = {}
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    ncol = min(4, len(seen))
    fig.legend(list(seen.values()), list(seen), fontsize=7, loc="upper center", ncol=ncol,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, Path(path), formats)
