"""Ordered grids as Optuna sees them: categorical values vs an ordered integer-index view.

    python benchmarks/bench_ordered_view.py [--samplers tpe,gp,nsga2] [--seeds 0,1,2,3,4]
                                            [--trials 150] [--gp-trials 80] [--jobs 2]

A numeric grid such as ``pes_x in {1, 2, 4, 6, 8}`` reaches Optuna as a
``CategoricalDistribution`` (``categorical``): TPE, GPSampler and fANOVA treat it as unordered.
The ``index`` view suggests ``suggest_int(name, 0, k - 1)`` for every ordered grid and maps the
index to the grid value (unordered grids, e.g. op names, stay categorical in both views). Same
objective, same budget, same seeds; only the view differs.

Problems: ``nb201-edge`` with ``nb201-cifar10-latency-area`` (accuracy from the NAS-Bench-201
table vs latency, area <= baseline), and ``nahas-mbv2-edge`` with cost only (minimise latency and
energy, area <= baseline; no accuracy source exists for that space yet). Hypervolume of the
feasible COMPLETE trials in minimisation form, against one reference point per problem: the
worst feasible value over ALL runs of that problem, pushed out by 10 % of the range (derived
once from all runs, printed). Writes ``benchmarks/results/ordered_view.jsonl`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
PROBLEMS = {
    "nb201-edge": ("nb201-edge", "nb201-cifar10-latency-area"),
    "nahas-mbv2-edge": ("nahas-mbv2-edge", {
        "name": "mbv2-latency-energy", "cost": "edge",
        "objectives": [{"metric": "latency_ms", "direction": "minimize"},
                       {"metric": "energy_mj", "direction": "minimize"}],
        "constraints": [{"metric": "area_mm2", "max": "baseline"}]}),
}


def run_one(problem: str, sampler: str, view: str, seed: int, trials: int) -> dict:
    import optuna

    from moo_cosearch import load_space, make_objective
    from moo_cosearch.objectives import ObjectiveSet, load_objectives
    from moo_cosearch.samplers import create_sampler

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space_name, obj_spec = PROBLEMS[problem]
    space = load_space(space_name)
    objs = (ObjectiveSet.from_dict(obj_spec) if isinstance(obj_spec, dict)
            else load_objectives(obj_spec))
    objective = make_objective(space, objs)
    study = optuna.create_study(directions=objs.directions,
                                sampler=create_sampler(sampler, seed=seed))
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in objs.directions])
    points = []

    def fn(trial):
        ev = objective.evaluate(space.suggest(trial, view))
        for k, v in ev.constraints.items():
            trial.set_constraint(k, v)
        if ev.feasible:
            points.append(np.array(ev.values) * signs)
        return list(ev.values) if len(ev.values) > 1 else ev.values[0]

    t0 = time.perf_counter()
    study.optimize(fn, n_trials=trials)
    distinct = len({tuple(sorted(t.params.items())) for t in study.trials})
    return {"problem": problem, "sampler": sampler, "view": view, "seed": seed,
            "trials": trials, "seconds": time.perf_counter() - t0, "distinct": distinct,
            "feasible_points": [p.tolist() for p in points]}


def _hv(points: list, ref: np.ndarray) -> float:
    import moocore

    pts = np.array(points, dtype=float).reshape(-1, len(ref))
    pts = pts[np.all(pts < ref, axis=1)]
    return float(moocore.hypervolume(pts, ref=ref)) if len(pts) else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samplers", default="tpe,gp,nsga2")
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--trials", type=int, default=150)
    ap.add_argument("--gp-trials", type=int, default=80, help="budget of the (slow) gp sampler")
    ap.add_argument("--jobs", type=int, default=2, help="runs in parallel processes")
    ap.add_argument("--tag", default="")
    ap.add_argument("--resume", action="store_true",
                    help="keep the runs already in the .jsonl and run only the missing ones")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(pr, sa, view, seed, args.gp_trials if sa == "gp" else args.trials)
            for pr in args.problems.split(",") for sa in args.samplers.split(",")
            for view in ("categorical", "index") for seed in seeds]
    RESULTS.mkdir(exist_ok=True)
    stem = "ordered_view" + (f"_{args.tag}" if args.tag else "")
    path = RESULTS / f"{stem}.jsonl"
    done = [json.loads(line) for line in path.read_text().splitlines()] \
        if args.resume and path.exists() else []
    have = {(r["problem"], r["sampler"], r["view"], r["seed"], r["trials"]) for r in done}
    todo = sorted((j for j in jobs if j not in have), key=lambda j: j[1] == "gp")  # gp last
    t0 = time.perf_counter()
    with open(path, "a" if args.resume else "w") as fh, ProcessPoolExecutor(args.jobs) as pool:
        for fut in as_completed([pool.submit(run_one, *j) for j in todo]):
            r = fut.result()
            fh.write(json.dumps(r) + "\n")
            fh.flush()
            done.append(r)
            print(f"{r['problem']} {r['sampler']} {r['view']} seed {r['seed']}: "
                  f"{r['seconds']:.0f} s", flush=True)
    wall = time.perf_counter() - t0
    want = set(jobs)
    runs = [r for r in done if (r["problem"], r["sampler"], r["view"], r["seed"], r["trials"])
            in want]
    lines = [f"# Ordered grids: categorical vs index view ({platform.node()}, "
             f"{platform.processor() or platform.machine()}; runs took "
             f"{sum(r['seconds'] for r in runs):.0f} s in all, this invocation {wall:.0f} s "
             f"wall in {args.jobs} processes)", "",
             "Median feasible hypervolume [IQR] over seeds " + args.seeds
             + f"; {args.trials} trials ({args.gp_trials} for gp); higher is better.", ""]
    for pr in args.problems.split(","):
        mine = [r for r in runs if r["problem"] == pr]
        allp = np.array([p for r in mine for p in r["feasible_points"]], dtype=float)
        worst, best = allp.max(axis=0), allp.min(axis=0)
        ref = worst + 0.1 * np.maximum(worst - best, 1e-12)
        lines += [f"## {pr}", "", f"reference point (minimisation form): "
                  f"{[float(f'{v:.6g}') for v in ref]}", "",
                  "| sampler | categorical | index | index / categorical | distinct designs "
                  "(cat / idx, median) |", "|---|---|---|---|---|"]
        for sa in args.samplers.split(","):
            cells, med, dist = [], {}, {}
            for view in ("categorical", "index"):
                hv = np.array([_hv(r["feasible_points"], ref) for r in mine
                               if r["sampler"] == sa and r["view"] == view])
                q1, q2, q3 = np.percentile(hv, [25, 50, 75])
                med[view] = q2
                dist[view] = np.median([r["distinct"] for r in mine
                                        if r["sampler"] == sa and r["view"] == view])
                cells.append(f"{q2:.4g} [{q1:.4g}, {q3:.4g}]")
            ratio = med["index"] / med["categorical"] if med["categorical"] else float("nan")
            lines.append(f"| {sa} | {cells[0]} | {cells[1]} | {ratio:.3f} | "
                         f"{dist['categorical']:.0f} / {dist['index']:.0f} |")
        lines.append("")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
