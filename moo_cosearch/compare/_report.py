"""The outputs of a comparison: per-run measures and per-sampler aggregates gathered into
``summary.json``, ``runs.csv``, the figures and (:mod:`._text`) the Markdown report and
the table printed on the terminal."""

from __future__ import annotations

import csv
import json
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from ._refs import references
from ._run import DECISION_ATTR, ELAPSED_ATTR
from ._provenance import provenance
from ._stats import (ADJUSTMENT, MIN_SEEDS, aggregate, budget_trials, combined_front, ecdf,
                     evaluations_to_target, pairwise_tests, run_metrics, time_curve)
from ._text import markdown, print_table, reference_text
from ..analysis import is_feasible, reference_point

if TYPE_CHECKING:
    import optuna

    from ._run import RunOutcome
    from ..workers import Prepared, RunConfig

__all__ = ["build"]

_RUN_KEYS = ("sampler", "seed", "study_name", "final_hv", "final_hv_normalised", "n_trials",
             "seconds", "decision_s", "violation_rate", "failed", "repeats_skipped", "accuracy_evaluations",
             "accuracy_saved_by_pruning", "accuracy_cached", "best_accuracy_under_latency",
             "complete", "error")


def _latency_targets(prepared: "Prepared", given: Sequence[float] | None) -> list[float]:
    """The given targets, else the objective set's latency limit, its half and quarter."""
    if given is not None:
        return sorted(float(t) for t in given)
    for c in prepared.objectives.constraints:
        if c.metric == "latency_ms" and isinstance(c.max, (int, float)):
            return [c.max / 4, c.max / 2, float(c.max)]
    return []


def _pooled_reference(studies: Mapping[Any, "optuna.Study"], prepared: "Prepared",
                      budget: int) -> tuple[np.ndarray, list[str]]:
    """One reference point for every run (minimisation form): the objective set's
    coordinates, the others derived once from the feasible trials of all runs by
    :func:`~moo_cosearch.analysis.reference_point` (on a study pooling their values)."""
    import optuna
    from optuna.trial import TrialState, create_trial

    obj = prepared.objectives
    given = [m in obj.reference_point for m in obj.metric_names]
    source = ["objective set" if g else "derived from all runs" for g in given]
    if all(given):
        return np.array([-float(obj.reference_point[m]) + 0.0 if d == "maximize"
                         else float(obj.reference_point[m]) for m, d in obj.objectives]), source
    pooled = optuna.create_study(directions=obj.directions)
    for study in studies.values():
        pooled.add_trials([create_trial(values=t.values, system_attrs={
            "constraints": list(t.constraints.values())}) for t in budget_trials(study, budget)
            if t.state == TrialState.COMPLETE and is_feasible(t)])
    return reference_point(pooled, obj), source


def _run_rows(plan: Sequence[tuple[str, int, "RunConfig"]], studies: Mapping[Any, Any],
              outcomes: Mapping[Any, "RunOutcome"], ref: np.ndarray, budget: int,
              latency: Sequence[float]) -> tuple[list[dict], dict[tuple[str, int], dict]]:
    rows, metrics = [], {}
    for sampler, seed, config in plan:
        outcome = outcomes.get((sampler, seed))
        row: dict[str, Any] = {"sampler": sampler, "seed": seed,
                               "study_name": config.study_name}
        if (sampler, seed) in studies:
            m = run_metrics(studies[(sampler, seed)], ref, budget, latency_targets=latency,
                            decision_attr=DECISION_ATTR, elapsed_attr=ELAPSED_ATTR)
            metrics[(sampler, seed)] = m
            row.update({k: v for k, v in m.items() if k not in ("hv", "wall")})
        row["complete"] = row.get("n_trials", 0) == budget
        row["error"] = outcome.error if outcome is not None else None
        rows.append({k: row.get(k) for k in _RUN_KEYS})
    return rows, metrics


def _sampler_table(names: Sequence[str], rows: Sequence[dict], latency: Sequence[float],
                   front_hv: float) -> dict[str, dict]:
    out = {}
    for i, name in enumerate(names):
        done = [r for r in rows if r["sampler"] == name and r["complete"]]
        agg = aggregate([r["final_hv"] for r in done], seed=i)
        per_trial = [r["seconds"] / r["n_trials"] for r in done]
        decision = [r["decision_s"] / r["n_trials"] for r in done if r["decision_s"] is not None]
        norm = (lambda v: None if v is None or front_hv <= 0 else v / front_hv)
        entry = {"runs": len(done), "median_hv": agg["median"], "min_hv": agg["min"],
                 "max_hv": agg["max"], "iqr": agg["iqr"],
                 "q25": agg["q25"], "q75": agg["q75"], "iqm": agg["iqm"], "ci": agg["ci"],
                 "median_hv_normalised": norm(agg["median"]),
                 "min_hv_normalised": norm(agg["min"]), "max_hv_normalised": norm(agg["max"]),
                 "s_per_trial": float(np.median(per_trial)) if per_trial else None,
                 "decision_s_per_trial": float(np.median(decision)) if decision else None}
        for key in ("violation_rate", "accuracy_evaluations", "accuracy_saved_by_pruning",
                    "accuracy_cached", "repeats_skipped"):
            vals = [r[key] for r in done if r[key] is not None]
            entry[f"median_{key}"] = float(np.median(vals)) if vals else None
        entry["best_accuracy_under_latency"] = {}
        for t in latency:
            vals = [r["best_accuracy_under_latency"][f"{t:g}"] for r in done]
            vals = [v for v in vals if v is not None]
            entry["best_accuracy_under_latency"][f"{t:g}"] = (
                {"median": float(np.median(vals)), "max": float(max(vals)), "runs": len(vals)}
                if vals else None)
        out[name] = entry
    return out


def _ecdf_block(names: Sequence[str], metrics: Mapping[tuple[str, int], dict],
                rows: Sequence[dict], fractions: Sequence[float], budget: int
                ) -> tuple[dict, dict[str, np.ndarray]]:
    done = [(r["sampler"], r["seed"]) for r in rows if r["complete"]]
    best = max((metrics[k]["final_hv"] for k in done), default=0.0)
    absolute = [f * best for f in fractions]
    curves, per_sampler = {}, {}
    for name in names:
        hv = [metrics[k]["hv"] for k in done if k[0] == name]
        if not hv:
            continue
        curves[name] = ecdf(hv, absolute, budget)
        per_sampler[name] = {"final": float(curves[name][-1]),
                             "targets": {f"{f:g}": _to_target(hv, target)
                                         for f, target in zip(fractions, absolute)}}
    return {"fractions": list(fractions), "best_hv": best, "absolute": absolute,
            "samplers": per_sampler}, curves


def _to_target(curves: Sequence[Sequence[float]], target: float) -> dict[str, Any]:
    """How many runs reach ``target`` and the median evaluations they need (None when half
    of the runs or more never reach it)."""
    ks = [evaluations_to_target(h, target) for h in curves]
    med = float(np.median([np.inf if k is None else k for k in ks]))
    return {"runs_reached": sum(k is not None for k in ks),
            "median_evaluations": med if np.isfinite(med) else None}


def _to_match(names: Sequence[str], metrics: Mapping[tuple[str, int], dict],
              rows: Sequence[dict], finals: Mapping[str, Sequence[float]]
              ) -> dict[str, dict[str, dict[str, Any]]]:
    """Samples to match: for every ordered pair (A, B), the evaluations A's runs need to reach
    the median final hypervolume of B's (NAHAS's "joint search needs 2x fewer samples" reads
    as row joint, column phase, against the budget)."""
    medians = {b: float(np.median(finals[b])) for b in names if finals.get(b)}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for a in names:
        hv = [metrics[(r["sampler"], r["seed"])]["hv"] for r in rows
              if r["sampler"] == a and r["complete"]]
        if hv:
            out[a] = {b: {"target_hv": target, **_to_target(hv, target)}
                      for b, target in medians.items() if b != a}
    return out


def _front_hv(front: Sequence, directions: Sequence[str], ref: np.ndarray) -> float:
    """Hypervolume of the combined front (the normaliser: 1.0 is every run's best pooled)."""
    import moocore

    if not front:
        return 0.0
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    pts = np.array([t.values for _, t in front], dtype=float) * signs
    return float(moocore.hypervolume(pts, ref=ref))


def _references(prepared: "Prepared", ref: np.ndarray, front: Sequence
                ) -> tuple[list[dict], list]:
    """Each reference as a dict, with its own hypervolume and whether a design of the
    combined front dominates it; and the references themselves."""
    import moocore

    obj = prepared.objectives
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in obj.directions])
    pts = np.array([t.values for _, t in front], dtype=float).reshape(-1, len(signs)) * signs
    out, refs = [], references(prepared.space, prepared.objective)
    for r in refs:
        d = r.to_dict()
        p = np.asarray(r.values, dtype=float) * signs
        ok = r.feasible and bool(np.all(np.isfinite(p)) and np.all(p < ref))
        d["hv"] = float(moocore.hypervolume(p[None, :], ref=ref)) if ok else 0.0
        # an infeasible reference is outside the comparison: no dominance to report
        d["dominated_by_front"] = None if not r.feasible else bool(
            len(pts) and np.any(np.all(pts <= p, axis=1) & np.any(pts < p, axis=1)))
        out.append(d)
    return out, refs


def build(*, prepared: "Prepared", plan: Sequence[tuple[str, int, "RunConfig"]],
          studies: Mapping[tuple[str, int], "optuna.Study"],
          outcomes: Mapping[tuple[str, int], "RunOutcome"], budget: int, storage: str,
          folder: Path | None, latency_targets: Sequence[float] | None,
          targets: Sequence[float], log: Callable[[str], None], cpu_count: int | None,
          started: str = "", options: Mapping[str, Mapping[str, Any]] | None = None,
          formats: Sequence[str] = ("png",)) -> tuple[list[dict], dict[str, Any]]:
    """Measure every run, aggregate, print the table and write the outputs (see the module
    docstring); returns the run rows and the summary."""
    obj = prepared.objectives
    names = list(dict.fromkeys(s for s, _, _ in plan))
    if not studies:
        raise ValueError("no run produced a study: " + "; ".join(
            f"{k[0]} seed {k[1]}: {o.error}" for k, o in outcomes.items() if o.error))
    latency = _latency_targets(prepared, latency_targets)
    ref, ref_source = _pooled_reference(studies, prepared, budget)
    text = reference_text(ref, obj, ref_source)
    log(f"reference point (minimisation form) {[float(v) + 0.0 for v in ref]}: {text}")
    rows, metrics = _run_rows(plan, studies, outcomes, ref, budget, latency)
    labelled = {f"{k[0]}\x00{k[1]}": s for k, s in studies.items()}
    front = [(label.split("\x00")[0], t) for label, t in combined_front(labelled, ref, budget)]
    front_hv = _front_hv(front, obj.directions, ref)
    for r in rows:
        r["final_hv_normalised"] = (r["final_hv"] / front_hv if front_hv > 0
                                    and r["final_hv"] is not None else None)
    samplers = _sampler_table(names, rows, latency, front_hv)
    finals = {n: [r["final_hv"] for r in rows if r["sampler"] == n and r["complete"]]
              for n in names}
    counts = {n: len(v) for n, v in finals.items()}
    enough = bool(counts) and min(counts.values()) >= MIN_SEEDS
    tests = pairwise_tests({n: v for n, v in finals.items() if v})
    ecdf_summary, ecdf_curves = _ecdf_block(names, metrics, rows, targets, budget)
    ecdf_summary["to_match"] = _to_match(names, metrics, rows, finals) if enough else {}
    ref_rows, ref_objs = _references(prepared, ref, front)
    summary = {
        "space": prepared.space.name, "objectives": obj.name,
        "metric_names": obj.metric_names, "directions": obj.directions,
        "reference_point": [float(v) + 0.0 for v in ref], "reference_point_source": ref_source,
        "reference_point_text": text,
        "storage": storage, "trials": budget,
        "seeds": sorted({seed for _, seed, _ in plan}),
        "latency_targets": latency, "samplers": samplers, "runs": rows,
        "pairwise": tests, "ecdf": ecdf_summary, "references": ref_rows,
        "combined_front": [{"sampler": s, "study_trial": t.number,
                            "values": list(t.values)} for s, t in front],
        "machine": {"platform": platform.platform(), "cpus": cpu_count,
                    "python": platform.python_version()},
        "combined_front_hv": front_hv,
        "statistics": {
            "min_seeds": MIN_SEEDS, "runs_per_sampler": counts, "tests": enough,
            "adjustment": ADJUSTMENT if enough else None,
            "note": (f"every sampler has >= {MIN_SEEDS} complete runs: IQM intervals, "
                     f"Mann-Whitney tests with A12 and p adjusted by {ADJUSTMENT}")
            if enough else
            (f"fewer than {MIN_SEEDS} complete runs for "
             f"{', '.join(n for n, c in counts.items() if c < MIN_SEEDS)}: medians and "
             f"ranges only; no interval, test or samples-to-match claim is possible")},
        "provenance": provenance(prepared.space, obj, options or {}, names, started),
    }
    print_table(summary, log)
    if folder is not None:
        _write(folder, summary, rows, metrics, ecdf_curves, front, ref_objs, names, budget,
               _figure_context(prepared, ref), formats)
        (folder / "report.md").write_text(markdown(summary))
        log(f"wrote {folder / 'summary.json'}, report.md, runs.csv and figures in {folder}")
    return rows, summary


def _figure_context(prepared: "Prepared", ref: np.ndarray) -> dict[str, Any]:
    """Axis labels with units, the hard limits and the reference point in the objectives' own
    units, for the Pareto-front figure."""
    from ..analysis import accuracy_label, axis_label

    obj = prepared.objectives
    acc = accuracy_label(obj.accuracy)
    return {"labels": {m: axis_label(m, acc) for m in obj.metric_names},
            "limits": {c.metric: float(v) for c, v in prepared.objective.limits
                       if c.metric in obj.metric_names},
            "reference_point": {m: (-float(v) if d == "maximize" else float(v)) + 0.0
                                for (m, d), v in zip(obj.objectives, ref)}}


def _write(folder: Path, summary: dict, rows: Sequence[dict], metrics: Mapping, curves: Mapping,
           front: Sequence, refs: Sequence, names: Sequence[str], budget: int,
           context: Mapping[str, Any], formats: Sequence[str]) -> None:
    from ._plots import plot_curves, plot_ecdf, plot_front

    (folder / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    with (folder / "runs.csv").open("w", newline="") as fh:
        flat = [{**{k: v for k, v in r.items() if k != "best_accuracy_under_latency"},
                 **{f"best_accuracy_at_{t}ms": v for t, v in
                    (r["best_accuracy_under_latency"] or {}).items()}} for r in rows]
        writer = csv.DictWriter(fh, fieldnames=list(flat[0]))
        writer.writeheader()
        writer.writerows(flat)
    done = {n: [metrics[(r["sampler"], r["seed"])] for r in rows
                if r["sampler"] == n and r["complete"]] for n in names}
    done = {n: v for n, v in done.items() if v}
    scale = summary["combined_front_hv"] or 1.0
    if done:
        plot_curves(np.arange(1, budget + 1),
                    {n: np.array([m["hv"] for m in v]) / scale for n, v in done.items()},
                    folder / "hv_trials", xlabel="evaluated trials",
                    title="hypervolume against evaluations", formats=formats)
        walls = [w for v in done.values() for m in v for w in m["wall"] if w > 0]
        grid = np.geomspace(min(walls), max(walls), 200) if walls else np.array([1.0])
        plot_curves(grid, {n: np.array([time_curve(m["hv"], m["wall"], grid)
                                        for m in v]) / scale for n, v in done.items()},
                    folder / "hv_time", log_x=True, title="hypervolume against wall-clock",
                    xlabel="wall-clock (s): sampler decisions, evaluations, storage",
                    formats=formats)
        plot_ecdf(curves, folder / "ecdf", title="evaluations to reach the targets",
                  formats=formats)
    plot_front(front, summary["metric_names"], refs, names, folder / "pareto",
               title="combined Pareto front and references", formats=formats, **context)
