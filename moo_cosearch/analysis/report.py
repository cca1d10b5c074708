"""End-of-run report: Pareto table on the terminal, ``pareto.csv`` and plots in a folder."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from ..objectives import COST_METRICS, ObjectiveSet
from ._pareto import hypervolume_history, is_feasible, pareto_trials, reference_point
from .plots import plot_hypervolume_history, plot_pareto_front

if TYPE_CHECKING:
    import optuna

__all__ = ["pareto_rows", "write_report"]


def pareto_rows(study: "optuna.Study", objectives: ObjectiveSet) -> list[dict]:
    """One dict per feasible Pareto design (the first trial of each distinct design): number,
    objectives, costs, then every parameter."""
    rows, seen = [], set()
    for t in sorted(pareto_trials(study), key=lambda t: t.number):
        key = tuple(sorted(t.params.items()))
        if key in seen:
            continue
        seen.add(key)
        row: dict = {"trial": t.number}
        row.update(zip(objectives.metric_names, t.values))
        for m in ("accuracy",) + COST_METRICS:
            if m not in row and m in t.user_attrs:
                row[m] = t.user_attrs[m]
        row.update(t.params)
        rows.append(row)
    sign = -1 if study.directions[0].name == "MAXIMIZE" else 1
    return sorted(rows, key=lambda r: sign * r[objectives.metric_names[0]])


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def write_report(study: "optuna.Study", objectives: ObjectiveSet, out: str | Path,
                 *, max_rows: int = 20) -> dict[str, Path]:
    """Print a summary and the Pareto table; write pareto.csv, pareto_front.png and
    hypervolume.png (when there are feasible trials) under ``out``. Returns the written paths."""
    from optuna.trial import TrialState

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = sum(t.state == TrialState.FAIL for t in trials)
    feasible = [t for t in done if is_feasible(t)]
    saved = sum(t.user_attrs.get("accuracy_evaluated") is False for t in done)
    print(f"{len(trials)} trials: {len(done)} complete ({len(feasible)} feasible), {failed} "
          f"failed; accuracy evaluations saved by early pruning: {saved}")
    rows = pareto_rows(study, objectives)
    written: dict[str, Path] = {}
    path = out / "pareto.csv"
    columns = list(rows[0]) if rows else ["trial", *objectives.metric_names]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    written["pareto_csv"] = path
    if not rows:
        print("no feasible trial yet: no Pareto set, no plots")
        return written
    shown = [c for c in columns if c in ("trial", *objectives.metric_names, *COST_METRICS,
                                         "accuracy")]
    shown += [c for c in columns if c not in shown][: max(0, 14 - len(shown))]
    widths = {c: max(len(c), *(len(_fmt(r[c])) for r in rows[:max_rows])) for c in shown}
    print(f"\nPareto set: {len(rows)} designs" + (f" (first {max_rows})" if len(rows) > max_rows
                                                  else ""))
    print("  ".join(c.rjust(widths[c]) for c in shown))
    for r in rows[:max_rows]:
        print("  ".join(_fmt(r[c]).rjust(widths[c]) for c in shown))
    ref = reference_point(study, objectives)
    numbers, hv = hypervolume_history(study, ref)
    written["pareto_front"] = plot_pareto_front(study, out / "pareto_front.png",
                                                objectives.metric_names)
    written["hypervolume"] = plot_hypervolume_history(
        numbers, hv, out / "hypervolume.png",
        title=f"{study.study_name}\nreference point (minimisation form) {list(map(_fmt, ref))}")
    print(f"\nhypervolume {hv[-1]:.6g} (reference point {[_fmt(float(v)) for v in ref]}, "
          f"minimisation form)")
    print("wrote " + ", ".join(str(p) for p in written.values()))
    return written
