"""Every registered sampler on one problem, in one table: the comparisons that ran them, merged.

    python benchmarks/bench_samplers.py DIR [DIR ...] [--out benchmarks/results/samplers.md]

Each DIR is the output folder of a ``moo-cosearch compare`` run (its ``summary.json``), e.g.
``studies/sampler-shootout/300-trials`` (15 samplers) together with the folders where the
slower GP-based ones ran (``studies/sampler-shootout/run.sh`` makes all of them). The folders
must agree on the space, the objective set, the number of evaluated trials per run and the
reference point — otherwise their hypervolumes are not comparable and the merge stops with a
one-line error. A sampler measured in two folders keeps the one with more seeds.

The table, per sampler: seeds, median final feasible hypervolume with its IQR, the interquartile
mean with its 95 % bootstrap interval, the median best feasible accuracy at or under each
latency target, the median violation rate, seconds per evaluated trial and the sampler's own
share of it (fits and candidate generation), and the machine of its folder. Seconds are only
comparable within one folder (one machine, one load); the table names each row's folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KEYS = ("space", "objectives", "trials", "reference_point")


def merge(folders: list[Path]) -> tuple[dict, list[tuple[str, dict, Path]]]:
    """(the shared setup, [(sampler, its summary, its folder)]) best HV first."""
    setup: dict | None = None
    rows: dict[str, tuple[dict, Path]] = {}
    for folder in folders:
        path = folder / "summary.json"
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise SystemExit(f"bench_samplers: cannot read {path}: {e}") from None
        mine = {k: summary.get(k) for k in KEYS}
        if setup is None:
            setup = {**mine, "latency_targets": summary.get("latency_targets") or []}
        else:
            differ = [k for k in KEYS if mine[k] != setup[k]]
            if differ:
                raise SystemExit(f"bench_samplers: {path} differs from {folders[0]} in "
                                 f"{', '.join(differ)}: its hypervolumes are not comparable")
        for name, stats in summary["samplers"].items():
            stats = {**stats, "machine": summary.get("machine", {})}
            if name not in rows or stats["runs"] > rows[name][0]["runs"]:
                rows[name] = (stats, folder)
    assert setup is not None
    ordered = sorted(rows.items(), key=lambda kv: -kv[1][0]["median_hv"])
    return setup, [(name, stats, folder) for name, (stats, folder) in ordered]


def table(setup: dict, rows: list[tuple[str, dict, Path]]) -> str:
    targets = [f"{float(t):g}" for t in setup["latency_targets"]]
    lines = [f"# Every sampler on {setup['space']} / {setup['objectives']}", "",
             f"{setup['trials']} evaluated trials per run; one reference point "
             f"{setup['reference_point']} (minimisation form) for every run. Written by "
             "`benchmarks/bench_samplers.py` from the comparison folders named in the last "
             "column; seconds are comparable only within one folder.", "",
             "| sampler | seeds | median HV | IQR | IQM [95% CI] | best feasible accuracy ≤ "
             + " / ".join(targets) + " ms (median) | violation rate | s/trial "
             "(sampler's share) | folder |", "|---|---|---|---|---|---|---|---|---|"]
    for name, s, folder in rows:
        best = s.get("best_accuracy_under_latency", {})
        acc = " / ".join("-" if (best.get(t) or {}).get("median") is None
                         else f"{best[t]['median']:.2f}" for t in targets)
        lo, hi = s["ci"]
        lines.append(f"| {name} | {s['runs']} | {s['median_hv']:.4g} | {s['iqr']:.3g} | "
                     f"{s['iqm']:.4g} [{lo:.4g}, {hi:.4g}] | {acc} | "
                     f"{s['median_violation_rate']:.2g} | {s['s_per_trial']:.2g} "
                     f"({s['decision_s_per_trial']:.2g}) | `{folder}` |")
    machines = {json.dumps(s["machine"], sort_keys=True) for _, s, _ in rows}
    lines += ["", "Machines: " + "; ".join(sorted(machines)) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "samplers.md")
    args = ap.parse_args(argv)
    setup, rows = merge(args.folders)
    text = table(setup, rows)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
