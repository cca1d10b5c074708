"""qehvi's acquisition optimiser against BoTorch's ``optimize_acqf_mixed_alternating``.

    python benchmarks/bench_acqopt.py [--problem mbv2-41] [--seeds 0,1,2,3,4] [--history 60]

For each seed: ``--history`` random designs of the problem are evaluated; qehvi's GP is fitted on
them and its qLogEHVI acquisition built exactly as a proposal of the sampler builds it (same
encoding, hyperparameters, reference point, MC base samples). Both optimisers then maximise that
one acquisition function, and the design each returns is scored by it:

* ``pool``: qehvi's path without its local search (``_score`` with ``local_sweeps=0``:
  candidate pool of ``n_candidates`` designs, optimistic pre-screen, MC acquisition of the best
  ``n_rescore``, gradient refinement of float columns);
* ``pool + local``: qehvi's default path, the same plus the discrete local search from the
  ``n_local`` best (``_local.py``);
* ``alternating``: ``botorch.optim.optimize_mixed.optimize_acqf_mixed_alternating`` with every
  encoded column declared discrete (its grid values) or categorical (one-hot columns are not
  supported there and are reported as skipped), BoTorch's defaults (1,024 raw samples, 20
  restarts); its answer may repeat an evaluated design, which qehvi's pool never proposes, so
  both are reported;

Prints per seed the log-acquisition value reached and the seconds, and the medians; writes
``benchmarks/results/acqopt.md``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _problems import get_problem, random_params  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _state(problem, seed: int, history: int):
    """A study of ``history`` random designs and qehvi's acquisition on it."""
    import optuna
    import torch
    from optuna.trial import TrialState, create_trial

    from moo_cosearch.samplers._qehvi._acquisition import make_acquisition, make_partitioning
    from moo_cosearch.samplers._qehvi._data import observations
    from moo_cosearch.samplers._qehvi._pool import row_keys
    from moo_cosearch.samplers._qehvi._sampler import QEHVISampler

    dists = problem.distributions
    rng = np.random.default_rng(seed)
    sampler = QEHVISampler(seed=seed)
    study = optuna.create_study(directions=problem.directions, sampler=sampler)
    for _ in range(history):
        params = random_params(dists, rng)
        values, cons = problem.evaluate(params)
        study.add_trial(create_trial(params=params, distributions=dists, values=values,
                                     constraints=cons, state=TrialState.COMPLETE))
    enc = sampler._encoder(dists)
    sampler._sign = np.array([1.0 if d == optuna.study.StudyDirection.MAXIMIZE else -1.0
                              for d in study.directions])
    X, Yobj, C, feasible = observations(enc, study.trials, sampler._sign)
    tkw = {"dtype": torch.float64}
    Xt = torch.tensor(X, **tkw)
    model = sampler._fit(Xt, torch.tensor(np.concatenate([Yobj, C], axis=1), **tkw),
                         key=(enc.dim, Yobj.shape[1] + C.shape[1]))
    m = Yobj.shape[1]
    part = make_partitioning(sampler._ref_point(Yobj, feasible), Yobj, feasible, **tkw)
    acq = make_acquisition(model, Xt, Yobj, feasible, m, part, None, mc=sampler._mc,
                           seed=seed, noisy=False)
    return sampler, enc, X, Yobj, feasible, model, acq, part, row_keys(X), m


def _pool(sampler, enc, X, Yobj, feasible, model, acq, part, seen, m, sweeps: int):
    import torch

    from moo_cosearch.samplers._qehvi._pool import candidate_pool

    sampler._local_sweeps = sweeps
    pool = candidate_pool(enc, X, Yobj, feasible, seen, sampler._n_candidates, sampler._rng)
    return sampler._score(enc, torch.tensor(pool, dtype=torch.float64), model, acq, Yobj,
                          feasible, m, part, seen)


def _alternating(enc, acq):
    import torch
    from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating

    discrete = {}
    for b in enc.blocks:
        if b.kind == "onehot":
            return None
        if b.kind in ("grid", "ordinal"):
            discrete[b.start] = (np.arange(b.levels) / max(b.levels - 1, 1)).tolist()
    bounds = torch.stack([torch.zeros(enc.dim), torch.ones(enc.dim)]).double()
    x, _ = optimize_acqf_mixed_alternating(acq, bounds, discrete_dims=discrete or None)
    return enc.snap(x.detach().numpy())[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="mbv2-41")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--history", type=int, default=60)
    ap.add_argument("--skip-alternating", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    problem = get_problem(args.problem)
    rows = []
    for seed in map(int, args.seeds.split(",")):
        state = _state(problem, seed, args.history)
        sampler, enc, acq, seen = state[0], state[1], state[6], state[8]
        out = {"seed": seed}
        sweeps = sampler._local_sweeps
        for name, fn in (("pool", lambda: _pool(*state, sweeps=0)),
                         ("pool + local", lambda: _pool(*state, sweeps=sweeps)),
                         ("alternating", lambda: None if args.skip_alternating
                          else _alternating(enc, acq))):
            t = time.perf_counter()
            x = fn()
            secs = time.perf_counter() - t
            if x is None:
                out[name] = None
                continue
            with torch.no_grad():
                val = float(acq(torch.tensor(x, dtype=torch.float64).view(1, 1, -1)))
            out[name] = (val, secs, x.tobytes() in seen)
        rows.append(out)
        print(seed, {k: v for k, v in out.items() if k != "seed"}, flush=True)
    names = ["pool", "pool + local", "alternating"]
    lines = ["# qehvi's acquisition optimiser vs optimize_acqf_mixed_alternating", "",
             f"machine: {platform.machine()}, {platform.python_version()}, torch 1 thread; "
             f"problem {problem.name} ({problem.description}); {args.history} random designs "
             f"of history per seed; one qLogEHVI per seed, maximised by each optimiser.", "",
             "| seed | " + " | ".join(f"{n} log-acq | {n} s" for n in names) + " |",
             "|---|" + "---|---|" * len(names)]
    for r in rows:
        cells = []
        for n in names:
            v = r[n]
            cells += (["skipped (one-hot)", "-"] if v is None else
                      [f"{v[0]:.3f}{' (evaluated design)' if v[2] else ''}", f"{v[1]:.1f}"])
        lines.append(f"| {r['seed']} | " + " | ".join(cells) + " |")
    med = []
    for n in names:
        vals = [r[n] for r in rows if r[n] is not None]
        med += ([f"{statistics.median(v[0] for v in vals):.3f}",
                 f"{statistics.median(v[1] for v in vals):.1f}"] if vals else ["-", "-"])
    lines.append("| median | " + " | ".join(med) + " |")
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "acqopt.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
