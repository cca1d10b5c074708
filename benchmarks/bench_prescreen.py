"""What qehvi's ``prescreen=`` costs per trial: the README's example (the edge cost model
screening the candidate pool for feasibility) against the same sampler without it, same
space, objective set, seeds and trials, measured in the same run. Prints CPU seconds per
trial (process time: the sampler's and the evaluation's work, not time waiting for a loaded
machine) and wall seconds, and the ratio.

    python benchmarks/bench_prescreen.py [--trials 40] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import time

import optuna

from moo_cosearch import create_study, get_backend, load_space, make_objective
from moo_cosearch.samplers import create_sampler

OBJ = "nb201-cifar10-latency-area"


def run(seed: int, trials: int, prescreen: bool) -> tuple[float, float]:
    space, edge = load_space("nb201-edge"), get_backend("edge")
    options = {"prescreen": lambda designs: edge(space, designs).feasible} if prescreen else {}
    sampler = create_sampler("qehvi", seed=seed, n_startup_trials=10,
                             reference_point=[0, 0.2, 147.8], **options)
    study = create_study(space, OBJ, sampler=sampler, storage=None)
    objective = make_objective(space, OBJ)
    cpu, wall = time.process_time(), time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return (time.process_time() - cpu) / trials, (time.perf_counter() - wall) / trials


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = {True: [], False: []}
    for seed in args.seeds:                 # interleaved: both see the same machine load
        for prescreen in (False, True):
            rows[prescreen].append(run(seed, args.trials, prescreen))
    for prescreen, label in ((False, "without prescreen"), (True, "with prescreen")):
        cpu = sorted(c for c, _ in rows[prescreen])
        wall = sorted(w for _, w in rows[prescreen])
        print(f"{label:18s} CPU s/trial median {cpu[len(cpu) // 2]:.3f} "
              f"(range {cpu[0]:.3f}-{cpu[-1]:.3f}), wall s/trial median {wall[len(wall) // 2]:.3f}")
    ratio = [p[0] / n[0] for p, n in zip(rows[True], rows[False])]
    print(f"CPU ratio with/without per seed: {', '.join(f'{r:.2f}' for r in ratio)}; "
          f"{args.trials} trials on nb201-edge / {OBJ}, seeds {args.seeds}")


if __name__ == "__main__":
    main()
