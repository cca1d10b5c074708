"""A comparison as text: the per-sampler table on the terminal and the Markdown report
(``report.md``), both from the summary dict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..objectives import ObjectiveSet

__all__ = ["fmt", "markdown", "print_table", "reference_text"]


def fmt(v: Any) -> str:
    """4 significant digits for numbers, ``-`` for None, ``str`` otherwise."""
    if v is None:
        return "-"
    if isinstance(v, (float, np.floating)):
        return f"{float(v) + 0.0:.4g}"
    return str(v)


def reference_text(ref: Sequence[float], objectives: "ObjectiveSet",
                   source: Sequence[str]) -> str:
    """A minimisation-form reference point in the objectives' own directions, each coordinate
    with where it came from, e.g. ``accuracy >= 0 (objective set)``."""
    return ", ".join(
        f"{m} {'>=' if d == 'maximize' else '<='} {fmt(-v if d == 'maximize' else v)} ({s})"
        for (m, d), v, s in zip(objectives.objectives, ref, source))


def _order(samplers: Mapping[str, Any]) -> list[str]:
    """Sampler names, best median hypervolume first (samplers without runs last)."""
    return sorted(samplers, key=lambda n: -(samplers[n]["median_hv"]
                                            if samplers[n]["median_hv"] is not None
                                            else -np.inf))


def _norm(summary: Mapping[str, Any], v: Any) -> Any:
    """A raw hypervolume as a fraction of the combined front's (None stays None)."""
    front = summary.get("combined_front_hv") or 0.0
    return None if v is None or front <= 0 else v / front


def _rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The per-sampler table: hypervolumes as fractions of the combined front's; with enough
    seeds the IQR and the IQM with its interval, else the range (no interval)."""
    lat = summary["latency_targets"]
    tests = summary.get("statistics", {}).get("tests", False)
    spread = ["IQR", "IQM [95% CI]"] if tests else ["range"]
    head = ["sampler", "n", "median HV", *spread, "violation rate", "s/trial",
            "decision s/trial"] + [f"best acc. ≤{t:g} ms" for t in lat]
    rows = []
    for name in _order(summary["samplers"]):
        s = summary["samplers"][name]
        ci = s["ci"]
        best = [s["best_accuracy_under_latency"].get(f"{t:g}") for t in lat]
        if tests:
            cells = [fmt(_norm(summary, s["iqr"])),
                     f"{fmt(_norm(summary, s['iqm']))} [{fmt(_norm(summary, ci[0]))}, "
                     f"{fmt(_norm(summary, ci[1]))}]" if ci else "-"]
        else:
            cells = [f"[{fmt(_norm(summary, s.get('min_hv')))}, "
                     f"{fmt(_norm(summary, s.get('max_hv')))}]" if s["runs"] else "-"]
        rows.append([name, str(s["runs"]), fmt(_norm(summary, s["median_hv"])), *cells,
                     fmt(s["median_violation_rate"]), fmt(s["s_per_trial"]),
                     fmt(s["decision_s_per_trial"])]
                    + [fmt(b["median"]) if b else "-" for b in best])
    return head, rows


def print_table(summary: Mapping[str, Any], log: Callable[[str], None] = print) -> None:
    """The per-sampler table, best median hypervolume first."""
    head, rows = _rows(summary)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    log(f"feasible hypervolume as a fraction of the combined front's "
        f"({fmt(summary.get('combined_front_hv'))}); n: complete runs")
    for r in [head, *rows]:
        log("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    note = summary.get("statistics", {}).get("note")
    if note:
        log(note)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(r) + " |" for r in rows)]


def markdown(summary: Mapping[str, Any]) -> str:
    """The report: setup, per-sampler table, references, ECDF, pairwise tests, figures."""
    s = summary
    stats = s.get("statistics", {})
    names = _order(s["samplers"])
    lines = [f"# Sampler comparison: {s['space']} / {s['objectives']}", "",
             f"{len(names)} samplers × {len(s['seeds'])} seeds ({', '.join(map(str, s['seeds']))}"
             f"), {s['trials']} evaluated trials per run (designs the gate refuses as repeats "
             f"are not counted); storage `{s['storage']}`; machine {s['machine']['platform']}, "
             f"{s['machine']['cpus']} CPUs, Python {s['machine']['python']}.", "",
             f"Objectives: {', '.join(f'{d} {m}' for m, d in zip(s['metric_names'], s['directions']))}. "
             f"Hypervolume of the feasible designs (every constraint ≤ 0) by `moocore`, one "
             f"reference point for every run: `{s['reference_point']}` in minimisation form "
             f"(maximised objectives negated, as Optuna's hypervolume takes it) = "
             f"{s['reference_point_text']}.", "",
             "## Final feasible hypervolume", "",
             "Hypervolumes are fractions of the combined front's (the best designs of all runs "
             f"pooled: {fmt(s.get('combined_front_hv'))}; raw values in `summary.json`). "
             "Per sampler over its n complete runs: the median and "
             + ("the interquartile range (IQR), the interquartile mean (IQM) with a 95 % "
                "percentile-bootstrap interval, " if stats.get("tests") else
                "the range [min, max] (" + stats.get("note", "") + "), ")
             + "the median violation rate (evaluated designs breaking a constraint), median "
             "seconds per evaluated trial (wall-clock of the trials: sampler, evaluation, "
             "storage) and the sampler's own share, and the median over seeds of the best "
             "feasible accuracy at or under each latency target.", ""]
    lines += _table(*_rows(s))
    lines += ["", "Accuracy evaluations per run (median): spent (the source called), saved "
              "by early pruning (designs over a hard limit, never evaluated), served by the "
              "network cache; repeats the gate refused.", ""]
    lines += _table(["sampler", "spent", "saved by pruning", "cached", "repeats refused"],
                    [[n, fmt(s["samplers"][n]["median_accuracy_evaluations"]),
                      fmt(s["samplers"][n]["median_accuracy_saved_by_pruning"]),
                      fmt(s["samplers"][n]["median_accuracy_cached"]),
                      fmt(s["samplers"][n]["median_repeats_skipped"])] for n in names])
    lines += ["", "## Hand-designed references", "",
              "The space's stock network on the baseline accelerator and, for edge spaces, on "
              "Eyeriss-like and NVDLA-like configurations snapped to the space's grids "
              "(`moo_cosearch/compare/_refs.py` says which published facts each follows). "
              "Infeasible references are drawn hollow on `pareto.png`, at their network's "
              "accuracy.", ""]
    lines += _table(["reference", *s["metric_names"], "feasible", "HV alone",
                     "dominated by the combined front", "snapped to the grid (target → used)"],
                    [[r["name"], *(fmt(v) for v in r["values"]), "yes" if r["feasible"] else
                      f"no ({r['metrics'].get('skip_reason', 'constraint')})", fmt(r["hv"]),
                      {True: "yes", False: "no", None: "- (infeasible)"}[
                          r["dominated_by_front"]],
                      ", ".join(f"{k} {fmt(a)} → {fmt(b)}" for k, (a, b) in
                                r["snapped"].items()) or "-"] for r in s["references"]])
    e = s["ecdf"]
    fr = e["fractions"]
    lines += ["", "## Evaluations to target (ECDF)", "",
              f"Targets: {', '.join(f'{f:g}' for f in fr)} × the best final hypervolume of any "
              f"run ({fmt(e['best_hv'])}). Reached: the fraction of (run, target) pairs "
              f"reached within the budget; then the median evaluations to each target (- when "
              f"half of the runs or more never reach it).", ""]
    lines += _table(["sampler", "reached", *(f"×{f:g}" for f in fr)],
                    [[n, fmt(e["samplers"][n]["final"]),
                      *(fmt(e["samplers"][n]["targets"][f"{f:g}"]["median_evaluations"])
                        for f in fr)] for n in names if n in e["samplers"]])
    match = e.get("to_match", {})
    if not stats.get("tests"):
        lines += ["", "## Evaluations to match", "",
                  f"Not computed: {stats.get('note', 'too few seeds')}."]
    if match:
        cols = [n for n in names if any(n in v for v in match.values())]
        lines += ["", "## Evaluations to match", "",
                  "Row A, column B: the median evaluations A's runs need to reach the median "
                  "final hypervolume of B's (- when half of A's runs or more never reach it "
                  f"within the budget of {s['trials']}); a row sampler needing k evaluations "
                  f"where B spent {s['trials']} needs {s['trials']}/k times fewer samples.", ""]
        lines += _table(["A \\ B", *cols],
                        [[a, *("" if b == a else fmt(match[a].get(b, {}).get(
                            "median_evaluations")) for b in cols)]
                         for a in names if a in match])
    lines += ["", "## Pairwise tests", ""]
    if stats.get("tests"):
        lines += [f"Two-sided Mann-Whitney U tests of the final hypervolumes of every pair of "
                  f"samplers (n runs each); p adjusted over all pairs by "
                  f"{stats.get('adjustment')}; A12 (Vargha-Delaney): the probability that a "
                  f"run of A beats one of B (0.5 no effect; 0.56 / 0.64 / 0.71 small / "
                  f"medium / large).", ""]
        lines += _table(["A", "B", "n A", "n B", "median A", "median B", "U", "A12", "p",
                         "p adjusted"],
                        [[t["a"], t["b"], str(t["n_a"]), str(t["n_b"]),
                          fmt(_norm(s, t["median_a"])), fmt(_norm(s, t["median_b"])),
                          fmt(t["u"]), fmt(t["a12"]), fmt(t["p"]), fmt(t.get("p_adjusted"))]
                         for t in s["pairwise"]])
    else:
        lines += [f"No test: {stats.get('note', 'too few seeds')}. With n runs per sampler "
                  f"the smallest two-sided Mann-Whitney p is 2/C(2n, n): 0.33 for 2, 0.1 for "
                  f"3, 0.029 for 4, 0.0079 for 5."]
    prov = s.get("provenance")
    if prov:
        v = prov["versions"]
        m = prov["machine"]
        lines += ["", "## Provenance", "",
                  f"- moo-cosearch {v.get('moo-cosearch')}"
                  + (f", git commit {prov['git_commit']}"
                     + (" (with uncommitted changes)" if prov.get("git_dirty") else "")
                     if prov.get("git_commit") else "")
                  + f"; Python {prov['python']}",
                  "- " + ", ".join(f"{k} {val}" for k, val in v.items()
                                   if k != "moo-cosearch" and val),
                  f"- {m['cpu']}, {m['cores']} cores"
                  + (f", GPU {', '.join(m['gpus'])}" if m["gpus"] else ", no GPU")
                  + f"; {m['platform']}",
                  f"- space hash {prov['space_hash']}, objective-set hash "
                  f"{prov['objectives_hash']}",
                  "- sampler options: " + "; ".join(
                      f"{n} {o if o else '(defaults)'}"
                      for n, o in prov["sampler_options"].items()),
                  f"- started {prov['started']}, finished {prov['finished']} (UTC)"]
    incomplete = [r for r in s["runs"] if not r["complete"]]
    if incomplete:
        lines += ["", "## Runs left out (incomplete)", ""]
        lines += [f"- {r['sampler']} seed {r['seed']}: {r['n_trials'] or 0}/{s['trials']} "
                  f"evaluated" + (f"; {r['error']}" if r["error"] else "") for r in incomplete]
    lines += ["", "## Figures", "", "![hypervolume against evaluated trials](hv_trials.png)",
              "", "![hypervolume against wall-clock](hv_time.png)", "",
              "![ECDF of evaluations to target](ecdf.png)", "",
              "![combined Pareto front and references](pareto.png)", ""]
    return "\n".join(lines)
