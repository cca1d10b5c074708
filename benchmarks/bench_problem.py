"""Evaluations per second of the vectorised pymoo problem (``make_problem``) against the
elementwise one (``JointSpace.to_pymoo`` with a per-design ``Objective.evaluate``), same run.

    OMP_NUM_THREADS=1 python benchmarks/bench_problem.py [--n 1000] [--repeat 3]
        [--space nb201-edge] [--objectives nb201-cifar10-latency-area]

Both problems evaluate the same ``--n`` uniformly drawn designs (seed 0) through pymoo's
``Problem.evaluate`` (the call an algorithm makes once per population): the vectorised one as
an (n, n_var) array of grid indices, one ``Objective.evaluate_many`` call (one batched cost
model call); the elementwise one as one dict of real values per design (what
``MixedVariableGA`` hands it), one ``Objective.evaluate`` per design. Each repeat builds both
problems afresh outside the timer (empty accuracy and network caches: ``cold``), then times
them again on the same designs (caches warm: ``warm``, as later generations revisit networks).
The two must give the same ``F`` and ``G``; the bench checks that before timing.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from moo_cosearch import load_space, make_objective, make_problem  # noqa: E402


def elementwise(space, objective):
    """The hand-written pymoo mapping a user makes with ``to_pymoo`` (directions, constraints)."""
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in objective.directions])
    names = objective.constraint_names()

    def evaluate(design):
        ev = objective.evaluate(design)
        return sign * np.asarray(ev.values), [ev.constraints[n] for n in names]

    return space.to_pymoo(evaluate, n_obj=len(sign), n_ieq_constr=len(names))


def clear_network_caches() -> None:
    from moo_cosearch.networks import _registry as net

    for name in ("layers_of_key", "matrix_of_key"):
        fn = getattr(net, name, None)
        if hasattr(fn, "cache_clear"):
            fn.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--space", default="nb201-edge")
    ap.add_argument("--objectives", default="nb201-cifar10-latency-area")
    args = ap.parse_args()

    space = load_space(args.space)
    designs = space.sample(args.n, seed=0)
    searched = [p.name for p in space.params if not p.fixed]
    X_index = space.indices(designs)
    X_dicts = np.empty(len(designs), dtype=object)
    X_dicts[:] = [{k: d[k] for k in searched} for d in designs]

    def build():
        clear_network_caches()
        vec = make_problem(space, args.objectives)
        elem = elementwise(space, make_objective(space, args.objectives))
        return vec, elem

    vec, elem = build()
    F1, G1 = vec.evaluate(X_index, return_values_of=["F", "G"])
    F2, G2 = elem.evaluate(X_dicts, return_values_of=["F", "G"])
    assert np.allclose(F1, F2, equal_nan=True) and np.allclose(G1, G2, equal_nan=True), \
        "vectorised and elementwise problems disagree"

    times: dict[str, list[float]] = {k: [] for k in
                                     ("vec cold", "elem cold", "vec warm", "elem warm")}
    for _ in range(max(1, args.repeat)):
        vec, elem = build()
        for key, prob, X in (("vec", vec, X_index), ("elem", elem, X_dicts)):
            if key == "elem":
                clear_network_caches()
            for phase in ("cold", "warm"):
                t = time.perf_counter()
                prob.evaluate(X, return_values_of=["F", "G"])
                times[f"{key} {phase}"].append(time.perf_counter() - t)

    best = {k: min(v) for k, v in times.items()}
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"# make_problem vs to_pymoo + Objective.evaluate: {args.space} x {args.objectives}, "
          f"{args.n} designs, best of {args.repeat}")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("| caches | vectorised (evals/s) | elementwise (evals/s) | ratio |")
    print("|---|---:|---:|---:|")
    for phase in ("cold", "warm"):
        v, e = args.n / best[f"vec {phase}"], args.n / best[f"elem {phase}"]
        print(f"| {phase} | {v:,.0f} | {e:,.0f} | {v / e:.1f}x |")


if __name__ == "__main__":
    main()
