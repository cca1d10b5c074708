"""The NAHAS recipe on a third-party simulator: ZigZag samples -> MLP surrogate -> search on
the surrogate -> Pareto set verified on ZigZag; against searching on ``edge`` and verifying
on ZigZag with the same wall-clock (README.md).

Steps (each kept in ``results/`` and reused when rerun with the same arguments):

1. ``train.npz``: ``--accelerators`` accelerator configurations of ``nb201-edge``, each with
   ``--per-accelerator`` cells, priced by ZigZag (``zigzag:lpf=2``: LOMA's loop-prime-factor
   limit 2, as ``benchmarks/bench_fidelity.py``); ZigZag caches per (layer, accelerator), so a
   group costs about one design (``sample --per-accelerator``).
2. ``test.npz``: fresh designs (other accelerators, other cells, another seed).
3. ``surrogate.pt``: the NAHAS MLP (``fit_surrogate``, NAHAS defaults) on ``train.npz``; its
   error on ``test.npz``, with ``edge``'s error on the same designs next to it.
4. Search arm A: ``--sampler`` for ``--trials`` on the surrogate, then its Pareto set priced
   by ZigZag. Wall-clock T_A = sampling + training + search + verification.
5. Search arm B: the same search on ``edge``, then its designs priced by ZigZag in order of
   non-dominated rank on ``edge`` (the Pareto set first) until B has used T_A.
6. Each arm's result: the non-dominated set of every design it priced with ZigZag (arm A:
   its training samples too). Hypervolume of (accuracy, ZigZag latency, area) normalised
   per objective by the range of all priced designs of both arms, reference point 1.1 x the
   worst, divided by the volume of the reference box (1.0: one design at the union's ideal
   point).

    python studies/surrogate-zigzag/run.py [--seeds 0 1 2] [--accelerators 16]
        [--per-accelerator 8] [--test-accelerators 8] [--trials 300] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPACE = "nb201-edge"
OBJECTIVES = "nb201-cifar10-latency-area"
ZIGZAG = "zigzag:lpf=2"


def _timed(path: Path, fn) -> float:
    """Run ``fn`` unless ``path`` exists; the seconds it took (kept in ``path``.time)."""
    clock = path.with_name(path.name + ".seconds")
    if path.exists() and clock.exists():
        return float(clock.read_text())
    t = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t
    clock.write_text(f"{seconds:.3f}")
    return seconds


def _price_group(designs: list[dict]) -> list[list[float]]:
    from moo_cosearch import load_space
    from moo_cosearch.objectives import make_objective

    space = load_space(SPACE)
    objective = make_objective(space, OBJECTIVES, cost=ZIGZAG, gate=None)
    return [list(ev.values) if ev.feasible and not ev.failed else [math.nan] * 3
            for ev in objective.evaluate_many(designs)]


def zigzag_pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing as mp

    return ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))


def price_on_zigzag(designs: list[dict], pool: ProcessPoolExecutor) -> np.ndarray:
    """(accuracy, ZigZag latency, area) of ``designs`` (NaN where outside the hard limits or
    not mappable), grouped by accelerator over the pool's processes (ZigZag's per-layer cache
    then serves a group's cells, and a process keeps it across calls)."""
    from moo_cosearch.hardware.edge import EDGE_PARAMS

    groups: dict[tuple, list[int]] = {}
    for i, d in enumerate(designs):
        groups.setdefault(tuple(d[p] for p in EDGE_PARAMS), []).append(i)
    order = sorted(groups.values(), key=len, reverse=True)
    out = np.full((len(designs), 3), np.nan)
    for members, values in zip(order, pool.map(_price_group,
                                               [[designs[i] for i in m] for m in order])):
        out[members] = values
    return out


def _designs(samples: Path) -> list[dict]:
    from moo_cosearch import load_space
    from moo_cosearch.surrogate import load_samples

    return load_space(SPACE).from_indices(load_samples(samples)[0]["idx"])


def _errors(true: np.ndarray, pred: np.ndarray) -> dict:
    from scipy.stats import spearmanr

    from moo_cosearch.surrogate import regression_metrics

    ok = np.isfinite(true) & np.isfinite(pred)
    m = regression_metrics(true[ok], pred[ok])
    return {"n": int(ok.sum()), "mape_pct": m["mape_pct"],
            "within_10pct": m["within_10pct"],
            "spearman": float(spearmanr(true[ok], pred[ok]).statistic),
            "median_ratio_pred_over_true": float(np.median(pred[ok] / true[ok]))}


def _search(backend: str, name: str, args, seed: int) -> tuple[float, "optuna.Study"]:
    import optuna

    from moo_cosearch.workers import RunConfig, run_worker

    url = f"sqlite:///{HERE / 'results' / 'studies.db'}"
    marker = HERE / "results" / f"{name}.done"
    seconds = _timed(marker, lambda: (run_worker(RunConfig(
        objectives=OBJECTIVES, backend=backend, sampler=args.sampler, seed=seed,
        trials=args.trials, storage=url, study_name=name)), marker.write_text("done")))
    return seconds, optuna.load_study(study_name=name, storage=url)


def _ranked(study) -> list:
    """The study's complete trials within the hard limits (accuracy evaluated), in order of
    non-dominated rank (then number)."""
    from moocore import pareto_rank

    trials = [t for t in study.trials if t.values is not None and all(
        math.isfinite(v) for v in t.values) and t.user_attrs.get("accuracy_evaluated")]
    signs = np.array([-1.0 if d.name == "MAXIMIZE" else 1.0 for d in study.directions])
    ranks = pareto_rank(np.array([t.values for t in trials]) * signs)
    return [trials[i] for i in np.lexsort((np.arange(len(trials)), ranks))]


def _front(points: np.ndarray) -> np.ndarray:
    from moocore import is_nondominated

    ok = np.isfinite(points).all(1)
    minimised = points[ok] * np.array([-1.0, 1.0, 1.0])
    return points[ok][is_nondominated(minimised)]


def _hypervolume(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    from moocore import hypervolume

    if not len(points):
        return 0.0
    minimised = points * np.array([-1.0, 1.0, 1.0])
    lo_m, hi_m = np.minimum(lo * [-1, 1, 1], hi * [-1, 1, 1]), np.maximum(
        lo * [-1, 1, 1], hi * [-1, 1, 1])
    scaled = (minimised - lo_m) / (hi_m - lo_m)
    return float(hypervolume(scaled, ref=np.full(3, 1.1))) / 1.1 ** 3


def run_seed(seed: int, args) -> dict:
    from moo_cosearch import load_space
    from moo_cosearch.hardware import get_backend
    from moo_cosearch.surrogate import FitConfig, fit_surrogate, sample_designs

    res = HERE / "results" / f"seed{seed}"
    res.mkdir(parents=True, exist_ok=True)
    space = load_space(SPACE)
    n = args.accelerators * args.per_accelerator
    t_sample = _timed(res / "train.npz", lambda: sample_designs(
        SPACE, ZIGZAG, n, res / "train.npz", seed=seed, workers=args.workers,
        chunk=args.per_accelerator, per_accelerator=args.per_accelerator))
    _timed(res / "test.npz", lambda: sample_designs(
        SPACE, ZIGZAG, args.test_accelerators * 4, res / "test.npz", seed=10_000 + seed,
        workers=args.workers, chunk=4, per_accelerator=4))
    t_fit = _timed(res / "surrogate.pt", lambda: fit_surrogate(
        res / "train.npz", config=FitConfig(seed=seed), log=lambda s: None).save(
        res / "surrogate.pt"))
    surrogate = f"surrogate:{res / 'surrogate.pt'}"

    from moo_cosearch.surrogate import load_samples

    test_designs = _designs(res / "test.npz")
    cols, _ = load_samples(res / "test.npz")
    errors = {}
    for label, name in (("surrogate", surrogate), ("edge", "edge")):
        r = get_backend(name)(space, test_designs)
        errors[label] = {m: _errors(np.asarray(cols[m], float), np.asarray(r.metric(m), float))
                         for m in ("latency_ms", "energy_mj")}

    # arm A: search on the surrogate, verify its Pareto set on ZigZag
    t_search_a, study_a = _search(surrogate, f"surrogate-seed{seed}", args, seed)
    best = {t.number for t in study_a.best_trials}
    designs_a = [space.design_of(t) for t in _ranked(study_a) if t.number in best]
    verified = res / "verified_a.npy"

    def verify_a() -> None:
        with zigzag_pool(args.workers) as pool:
            np.save(verified, price_on_zigzag(designs_a, pool))

    t_verify_a = _timed(verified, verify_a)
    priced_a = np.load(verified)
    train_designs = _designs(res / "train.npz")
    train_priced = res / "train_priced.npy"     # accuracy of the samples (table): no ZigZag
    if not train_priced.exists():
        from moo_cosearch.objectives import make_objective

        obj = make_objective(space, OBJECTIVES, cost="edge", gate=None)
        train_cols, _ = load_samples(res / "train.npz")
        acc = np.array([ev.values[0] if ev.feasible and not ev.failed else np.nan
                        for ev in obj.evaluate_many(train_designs)])   # area: edge's = ZigZag's
        ok = train_cols["feasible"].astype(bool)
        np.save(train_priced, np.where(ok[:, None], np.column_stack(
            [acc, train_cols["latency_ms"], train_cols["area_mm2"]]), np.nan))
    points_a = np.vstack([np.load(train_priced), priced_a])
    budget = t_sample + t_fit + t_search_a + t_verify_a

    # arm B: search on edge, verify by rank until the same wall-clock is spent
    t_search_b, study_b = _search("edge", f"edge-seed{seed}", args, seed)
    verified_b = res / "verified_b.npz"
    if not verified_b.exists():
        ranked = [space.design_of(t) for t in _ranked(study_b)]
        priced, k, start = [], 0, time.perf_counter()
        with zigzag_pool(args.workers) as pool:
            while t_search_b + time.perf_counter() - start < budget and k < len(ranked):
                chunk = ranked[k:k + args.verify_chunk]
                priced.append(price_on_zigzag(chunk, pool))
                k += len(chunk)
        spent = t_search_b + time.perf_counter() - start
        np.savez(verified_b, points=np.vstack(priced) if priced else np.zeros((0, 3)),
                 spent=spent, n=k)
    vb = np.load(verified_b)
    points_b = vb["points"]
    return {"seed": seed, "errors": errors,
            "arm_a": {"seconds": {"sample": t_sample, "fit": t_fit, "search": t_search_a,
                                  "verify": t_verify_a, "total": budget},
                      "zigzag_designs": int(len(points_a)), "pareto_verified": len(designs_a),
                      "verified_infeasible": int((~np.isfinite(priced_a).all(1)).sum()),
                      "points": points_a.tolist()},
            "arm_b": {"seconds": {"search": t_search_b, "total": float(vb["spent"])},
                      "zigzag_designs": int(vb["n"]), "points": points_b.tolist()}}


def plot(runs: list[dict], path: Path) -> None:
    """Each seed's two verified fronts: NB201 CIFAR-10 accuracy against ZigZag latency
    (the third objective, area, is why some points look dominated in this projection)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 3.6), squeeze=False,
                             sharey=True)
    for ax, r in zip(axes[0], runs):
        for arm, label, style in (("arm_a", "A: surrogate of ZigZag", dict(marker="o",
                                   color="tab:blue")), ("arm_b", "B: edge, then ZigZag",
                                                        dict(marker="s", color="tab:orange",
                                                             mfc="none"))):
            f = np.array(r[arm]["front"]).reshape(-1, 3)
            ax.plot(f[:, 1], f[:, 0], ls="none", ms=5, label=f"{label} (HV {r[arm]['hv']:.3f})",
                    **style)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("latency on ZigZag (ms)")
        ax.set_title(f"seed {r['seed']}")
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("CIFAR-10 accuracy (%)")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--accelerators", type=int, default=16)
    ap.add_argument("--per-accelerator", type=int, default=8)
    ap.add_argument("--test-accelerators", type=int, default=8)
    ap.add_argument("--sampler", default="nsga2")
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--verify-chunk", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    (HERE / "results").mkdir(exist_ok=True)
    runs = [run_seed(s, args) for s in args.seeds]
    allpts = np.vstack([np.array(r[a]["points"]).reshape(-1, 3) for r in runs
                        for a in ("arm_a", "arm_b")])
    allpts = allpts[np.isfinite(allpts).all(1)]
    lo = np.array([allpts[:, 0].max(), allpts[:, 1].min(), allpts[:, 2].min()])
    hi = np.array([allpts[:, 0].min(), allpts[:, 1].max(), allpts[:, 2].max()])
    for r in runs:
        for a in ("arm_a", "arm_b"):
            front = _front(np.array(r[a]["points"]).reshape(-1, 3))
            r[a]["front_size"] = len(front)
            r[a]["hv"] = _hypervolume(front, lo, hi)
            r[a]["front"] = front.tolist()
            del r[a]["points"]
    import moo_cosearch

    summary = {"space": SPACE, "objectives": OBJECTIVES, "simulator": ZIGZAG,
               "settings": vars(args), "normalisation": {"ideal": lo.tolist(),
                                                         "worst": hi.tolist()},
               "machine": f"{platform.machine()} {os.cpu_count()} CPUs, "
                          f"{platform.python_version()}",
               "moo_cosearch": moo_cosearch.__version__, "runs": runs}
    (HERE / "results" / "summary.json").write_text(json.dumps(summary, indent=1))
    plot(runs, HERE / "fronts.png")
    for r in runs:
        a, b = r["arm_a"], r["arm_b"]
        print(f"seed {r['seed']}: surrogate latency MAPE {r['errors']['surrogate']['latency_ms']['mape_pct']:.1f} % "
              f"(edge {r['errors']['edge']['latency_ms']['mape_pct']:.1f} %), spearman "
              f"{r['errors']['surrogate']['latency_ms']['spearman']:.3f} "
              f"(edge {r['errors']['edge']['latency_ms']['spearman']:.3f})")
        print(f"  A surrogate: HV {a['hv']:.4f}  {a['zigzag_designs']} ZigZag designs "
              f"{a['seconds']['total']:.0f} s  (sample {a['seconds']['sample']:.0f}, fit "
              f"{a['seconds']['fit']:.0f}, search {a['seconds']['search']:.0f}, verify "
              f"{a['seconds']['verify']:.0f})")
        print(f"  B edge:      HV {b['hv']:.4f}  {b['zigzag_designs']} ZigZag designs "
              f"{b['seconds']['total']:.0f} s")


if __name__ == "__main__":
    main()
