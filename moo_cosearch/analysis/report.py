"""End-of-run report: the Pareto table (or, for a single objective, the best design) on the
terminal, ``pareto.csv`` and figures in a folder."""

from __future__ import annotations

import csv
import shutil
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..objectives import COST_METRICS, ObjectiveSet
from ._labels import accuracy_label, fmt, metric_label, reference_point_text
from ._pareto import is_feasible, minimization_matrix, pareto_trials, reference_point
from .plots import plot_best_value, plot_hypervolume_history, plot_pareto_front

if TYPE_CHECKING:
    import optuna

__all__ = ["pareto_rows", "write_report"]


def _values(trial: "optuna.trial.FrozenTrial") -> dict:
    """The trial's searched parameters as grid values: in the index view its params hold grid
    positions and the values are in its ``design`` user attr."""
    design = trial.user_attrs.get("design", {})
    return {k: design.get(k, v) for k, v in trial.params.items()}


def pareto_rows(study: "optuna.Study", objectives: ObjectiveSet) -> list[dict]:
    """One dict per feasible Pareto design (the first trial of each distinct design): number,
    objectives, costs, then every parameter."""
    rows, seen = [], set()
    for t in sorted(pareto_trials(study), key=lambda t: t.number):
        values = _values(t)
        key = tuple(sorted(values.items()))
        if key in seen:
            continue
        seen.add(key)
        row: dict = {"trial": t.number}
        row.update(zip(objectives.metric_names, t.values))
        for m in ("accuracy",) + COST_METRICS:
            if m not in row and m in t.user_attrs:
                row[m] = t.user_attrs[m]
        row.update(values)
        rows.append(row)
    sign = -1 if study.directions[0].name == "MAXIMIZE" else 1
    return sorted(rows, key=lambda r: sign * r[objectives.metric_names[0]])


def _blocks(columns: Sequence[str], widths: dict[str, int], width: int) -> list[list[str]]:
    """Split ``columns`` (the first is the key, repeated in every block) into blocks that fit
    ``width`` characters; a column wider than ``width`` gets a block of its own."""
    key, blocks, current, used = columns[0], [], [], widths[columns[0]]
    for c in columns[1:]:
        if current and used + 2 + widths[c] > width:
            blocks.append([key, *current])
            current, used = [], widths[key]
        current.append(c)
        used += 2 + widths[c]
    if current or not blocks:
        blocks.append([key, *current])
    return blocks


def _label(metric: str, accuracy: str) -> str:
    """A column's header: ``accuracy`` what the source's accuracy is (``ImageNet top-1 (%)``)."""
    return accuracy if metric == "accuracy" else metric_label(metric)


def _print_table(rows: Sequence[dict], metrics: Sequence[str], params: Sequence[str],
                 width: int, accuracy: str = "accuracy (%)") -> None:
    """Every column of ``rows``: one table when it fits ``width``, else the metrics, then the
    parameters in as many blocks as it takes (each with the trial number)."""
    header = {c: _label(c, accuracy) for c in ["trial", *metrics, *params]}
    widths = {c: max(len(header[c]), *(len(fmt(r.get(c, ""))) for r in rows)) for c in header}
    everything = ["trial", *metrics, *params]
    if sum(widths.values()) + 2 * (len(everything) - 1) <= width:
        blocks = [everything]
    else:
        blocks = _blocks(["trial", *metrics], widths, width)
        blocks += _blocks(["trial", *params], widths, width) if params else []
    for i, block in enumerate(blocks):
        if i and block[1] in params:
            print("\nparameters" + (" (continued)" if block[1] != params[0] else "") + ":")
        print("  ".join(header[c].rjust(widths[c]) for c in block))
        for r in rows:
            print("  ".join(fmt(r.get(c, "")).rjust(widths[c]) for c in block))


def _print_best(row: dict, objectives: ObjectiveSet, n_done: int, width: int) -> None:
    name, acc = objectives.metric_names[0], accuracy_label(objectives.accuracy)
    print(f"\nBest design: trial {row['trial']}, {_label(name, acc)} {fmt(row[name])} "
          f"(the best feasible of {n_done} complete trials)")
    metrics = [c for c in row if c == name or c in ("accuracy",) + COST_METRICS]
    label = max(len(_label(c, acc)) for c in metrics)
    for c in metrics:
        print(f"  {_label(c, acc).ljust(label)}  {fmt(row[c])}")
    params = [f"{c}={fmt(row[c])}" for c in row if c != "trial" and c not in metrics]
    if params:
        print("parameters:")
        print(textwrap.fill("  ".join(params), width=width, initial_indent="  ",
                            subsequent_indent="  ", break_on_hyphens=False))


def _hypervolume(study: "optuna.Study", ref: np.ndarray) -> float:
    """``moocore.hypervolume`` of the feasible Pareto set (points dominating ``ref``)."""
    import moocore

    front = minimization_matrix(pareto_trials(study), study.directions)
    front = front[np.all(front < ref, axis=1)]
    return float(moocore.hypervolume(front, ref=ref)) if len(front) else 0.0


def write_report(study: "optuna.Study", objectives: ObjectiveSet, out: str | Path,
                 *, max_rows: int = 20, width: int | None = None) -> dict[str, Path]:
    """Print a summary and the Pareto table (every column, wrapped to ``width``, the terminal's
    by default), or the best design of a single-objective study; write pareto.csv,
    pareto_front.png and hypervolume.png (single objective: best.csv and best_value.png,
    no Pareto files) under ``out`` when there are feasible trials. Returns the written
    paths."""
    from optuna.trial import TrialState

    width = width or max(60, shutil.get_terminal_size((120, 24)).columns)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    count = {s: sum(t.state == s for t in trials) for s in TrialState}
    repeats = sum("duplicate of" in str(t.user_attrs.get("skipped", "")) for t in trials)
    feasible = [t for t in done if is_feasible(t)]
    saved = sum(t.user_attrs.get("accuracy_evaluated") is False for t in done)
    cached = sum(bool(t.user_attrs.get("accuracy_cached")) for t in done)
    print(f"{len(trials)} trials: {len(done)} complete ({len(feasible)} feasible), "
          f"{count[TrialState.FAIL]} failed, {count[TrialState.PRUNED]} pruned ({repeats} "
          f"repeated designs not evaluated), {count[TrialState.RUNNING]} running (other "
          f"workers, or left by a killed one), {count[TrialState.WAITING]} waiting; "
          f"accuracy evaluations saved by early pruning: {saved}, by the network cache: "
          f"{cached}")
    rows = pareto_rows(study, objectives)
    written: dict[str, Path] = {}
    single = len(objectives.metric_names) == 1      # one objective: a best design, no front
    path = out / ("best.csv" if single else "pareto.csv")
    columns = list(rows[0]) if rows else ["trial", *objectives.metric_names]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    written["best_csv" if single else "pareto_csv"] = path
    if not rows:
        print(f"no feasible trial yet: no {'best design' if single else 'Pareto set'}, "
              f"no plots")
        return written
    if single:
        _print_best(rows[0], objectives, len(done), width)
        written["best_value"] = plot_best_value(study, out / "best_value.png",
                                                metric_name=objectives.metric_names[0])
    else:
        written["pareto_front"] = plot_pareto_front(study, out / "pareto_front.png",
                                                    objectives.metric_names)
        metrics = [c for c in columns if c in (*objectives.metric_names, *COST_METRICS,
                                               "accuracy")]
        params = [c for c in columns if c != "trial" and c not in metrics]
        acc = accuracy_label(objectives.accuracy)
        first = _label(objectives.metric_names[0], acc)
        shown = rows[:max_rows]
        plural = "s" if len(rows) != 1 else ""
        print(f"\nPareto set: {len(rows)} design{plural} (feasible, non-dominated, by {first})"
              + (f"; the first {max_rows} here, all in {path.name}" if len(rows) > max_rows
                 else ""))
        _print_table(shown, metrics, params, width, acc)
        ref = reference_point(study, objectives)
        written["hypervolume"] = plot_hypervolume_history(
            study, ref, out / "hypervolume.png",
            title=f"{study.study_name}\nreference point: "
                  f"{reference_point_text(study, ref, objectives)}")
        print(f"\nhypervolume {_hypervolume(study, ref):.6g} of the feasible Pareto set; "
              f"reference point: {reference_point_text(study, ref, objectives)}")
    print("wrote " + ", ".join(str(p) for p in written.values()))
    return written
