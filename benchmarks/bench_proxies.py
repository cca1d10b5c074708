"""Zero-cost proxies against NAS-Bench-201's 200-epoch CIFAR-10/100 test accuracies.

Three steps, each appending to one jsonl file (``--resume`` skips what is there, so a run
survives interruption)::

    # 1. the source's reference sample (64 random designs of nb201-edge, seed 0), then 1,000
    #    random NB201 cells (fixed seed), all five proxies on the digits minibatch
    nice -n 10 python benchmarks/bench_proxies.py run --cells 1000 --resume
    # 2. the data-dependent proxies again on Gaussian noise, first 200 cells of the same order
    nice -n 10 python benchmarks/bench_proxies.py run --data noise --cells 200 --reference 0 \
        --proxies naswot jacob_cov grad_norm snip --resume
    # 3. seconds per network of each proxy alone (20 cells)
    nice -n 10 python benchmarks/bench_proxies.py timing --cells 20 --resume
    # the tables (Spearman, Kendall; combinations fitted on the first 300 cells, reported on
    # the rest) in Markdown
    python benchmarks/bench_proxies.py report

One thread (``torch.set_num_threads(1)``), batch 64, ``seed`` 0 as the proxy source defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moo_cosearch.accuracy import proxies as P  # noqa: E402
from moo_cosearch.networks import nb201  # noqa: E402
from moo_cosearch.space import load_space  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "proxies.jsonl"
SPACE = "nb201-edge"
TARGETS = ("cifar10_test_200ep", "cifar100_test_200ep")


def cell_order(seed: int) -> list[str]:
    """All NB201 arch strings in a random order fixed by ``seed`` (a prefix is the subset)."""
    rows = nb201.benchmark_rows()
    archs = sorted(rows, key=lambda a: rows[a]["index"])
    return [archs[i] for i in np.random.default_rng(seed).permutation(len(archs))]


def design_of(arch: str) -> dict[str, str]:
    return dict(zip(nb201.EDGE_PARAMS, nb201.arch_ops(arch)))


def read(path: Path) -> Iterator[dict[str, Any]]:
    """The records of ``path`` (a line cut short by an interrupted run is skipped)."""
    if path.exists():
        with path.open() as f:
            for line in f:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue


def _append(path: Path):
    """``path`` opened for appending, on a fresh line (after a line cut short)."""
    if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
        with path.open("a") as f:
            f.write("\n")
    return path.open("a")


def _done(path: Path, kind: str, data: str) -> set[tuple[str, str]]:
    return {(r["role"], r["arch"]) for r in read(path) if r["kind"] == kind and r["data"] == data}


def run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    space = load_space(SPACE)
    rows = nb201.benchmark_rows()
    todo = [("reference", nb201.arch_str(nb201.design_ops(d)))
            for d in space.sample(args.reference, seed=args.seed)]
    todo += [("cell", a) for a in cell_order(args.cell_seed)[:args.cells]]
    done = _done(args.out, "scores", args.data) if args.resume else set()
    names = tuple(args.proxies)
    with _append(args.out) as f:
        for role, arch in todo:
            if (role, arch) in done:
                continue
            t = time.perf_counter()
            raw = P.proxy_matrix(space, [design_of(arch)], names, args.seed,
                                 batch_size=args.batch_size, data=args.data)[0]
            seconds = time.perf_counter() - t
            rec = {"kind": "scores", "role": role, "arch": arch, "data": args.data,
                   "seed": args.seed, "batch_size": args.batch_size,
                   "scores": dict(zip(names, map(float, raw))), "seconds": seconds,
                   **{k: rows[arch][k] for k in TARGETS}}
            f.write(json.dumps(rec) + "\n")
            f.flush()


def timing(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    space = load_space(SPACE)
    done = _done(args.out, "timing", args.data) if args.resume else set()
    with _append(args.out) as f:
        for arch in cell_order(args.cell_seed)[:args.cells]:
            if ("timing", arch) in done:
                continue
            seconds = {}
            for name in P.MEASURES:
                t = time.perf_counter()
                P.proxy_matrix(space, [design_of(arch)], (name,), args.seed,
                               batch_size=args.batch_size, data=args.data)
                seconds[name] = time.perf_counter() - t
            f.write(json.dumps({"kind": "timing", "role": "timing", "arch": arch,
                                "data": args.data, "batch_size": args.batch_size,
                                "seconds": seconds}) + "\n")
            f.flush()


#: Abdelfattah et al. (ICLR 2021), NAS-Bench-201 CIFAR-10, Spearman rho (the issue's figures).
PUBLISHED_C10 = {"synflow": 0.74, "jacob_cov": 0.73, "grad_norm": 0.58, "snip": 0.58}


def _corr(score: np.ndarray, acc: np.ndarray) -> tuple[float, float]:
    from scipy.stats import kendalltau, spearmanr

    return float(spearmanr(score, acc)[0]), float(kendalltau(score, acc)[0])


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return np.stack([rankdata(x[:, j]) for j in range(x.shape[1])], axis=1)


def _finite(t: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """-inf replaced, per column, by the fit rows' lowest finite value (for fitted models)."""
    out = t.copy()
    for j in range(t.shape[1]):
        low = np.min(fit[np.isfinite(fit[:, j]), j])
        out[~np.isfinite(out[:, j]), j] = low
    return out


def _scores_of(records: list[dict], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[r["scores"][n] for n in names] for r in records], dtype=np.float64)


def _combinations(cells: list[dict], ref: list[dict], n_fit: int, target: str
                  ) -> list[tuple[str, float, float]]:
    """(name, Spearman, Kendall) on the held-out cells of every single proxy and the
    combinations, each fitted (on ``target``) or selected (on CIFAR-10) on the first ``n_fit``
    cells only."""
    from itertools import combinations

    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LinearRegression

    names = P.MEASURES
    t = P.transform(_scores_of(cells, names), names)
    acc = np.array([c[target] for c in cells])
    fit, held = slice(0, n_fit), slice(n_fit, None)
    out = [(n, *_corr(t[held, j], acc[held])) for j, n in enumerate(names)]
    subsets = [s for k in range(2, len(names) + 1) for s in combinations(range(len(names)), k)]

    def rank_avg(rows: slice, cols: tuple[int, ...]) -> np.ndarray:
        return _ranks(t[rows][:, cols]).mean(axis=1)

    for cols in ((0, 1, 2), tuple(range(len(names)))):
        out.append(("rank-average " + "+".join(names[c] for c in cols),
                    *_corr(rank_avg(held, cols), acc[held])))
    acc10 = np.array([c[TARGETS[0]] for c in cells])
    best = max(subsets, key=lambda cols: _corr(rank_avg(fit, cols), acc10[fit])[0])
    out.append((f"rank-average, best subset on the fit cells' CIFAR-10 "
                f"({'+'.join(names[c] for c in best)})",
                *_corr(rank_avg(held, best), acc[held])))
    ref_stats = P.ProxyReference(P.COMBINED, _scores_of(ref, P.COMBINED))  # as the source
    source = ref_stats.percent(_scores_of(cells, P.COMBINED))
    out.append((f"source 'combined' (z-average of {'+'.join(P.COMBINED)}, {len(ref)}-design "
                "reference)",
                *_corr(source[held], acc[held])))
    x = _finite(t, t[fit])
    lin = LinearRegression().fit(x[fit], acc[fit])
    out.append((f"linear regression, all five, fitted on {n_fit} cells",
                *_corr(lin.predict(x[held]), acc[held])))
    forest = RandomForestRegressor(n_estimators=200, min_samples_leaf=3, random_state=0,
                                   n_jobs=1).fit(x[fit], acc[fit])
    out.append((f"random forest (200 trees), all five, fitted on {n_fit} cells",
                *_corr(forest.predict(x[held]), acc[held])))
    return out


def report(records: list[dict], n_fit: int, cell_seed: int) -> str:
    """The Markdown tables of the benchmark's records."""
    position = {a: i for i, a in enumerate(cell_order(cell_seed))}
    by = {}
    for r in records:
        by.setdefault((r["kind"], r["role"], r["data"]), []).append(r)
    cells = sorted(by.get(("scores", "cell", "digits"), []), key=lambda r: position[r["arch"]])
    ref = by.get(("scores", "reference", "digits"), [])
    lines = [f"Cells: {len(cells)} random NB201 cells (order seed {cell_seed}), digits "
             f"minibatch of 64, proxy seed 0; reference sample: {len(ref)} designs.", ""]
    names = P.MEASURES
    lines += ["| proxy | CIFAR-10 Spearman | CIFAR-10 Kendall | CIFAR-100 Spearman | "
              "CIFAR-100 Kendall | published CIFAR-10 Spearman | undefined (-inf) |",
              "|---|---|---|---|---|---|---|"]
    t = P.transform(_scores_of(cells, names), names)
    for j, n in enumerate(names):
        c10 = _corr(t[:, j], np.array([c[TARGETS[0]] for c in cells]))
        c100 = _corr(t[:, j], np.array([c[TARGETS[1]] for c in cells]))
        pub = f"{PUBLISHED_C10[n]:.2f}" if n in PUBLISHED_C10 else "-"
        lines.append(f"| {n} | {c10[0]:.3f} | {c10[1]:.3f} | {c100[0]:.3f} | {c100[1]:.3f} | "
                     f"{pub} | {int(np.sum(~np.isfinite(t[:, j])))} |")
    if len(cells) > n_fit + 10:
        lines += ["", f"Held-out: cells {n_fit + 1}..{len(cells)} (combinations fitted or "
                      f"chosen on cells 1..{n_fit})", "",
                  "| score | CIFAR-10 Spearman | CIFAR-10 Kendall | CIFAR-100 Spearman | "
                  "CIFAR-100 Kendall |", "|---|---|---|---|---|"]
        rows10 = _combinations(cells, ref, n_fit, TARGETS[0])
        rows100 = _combinations(cells, ref, n_fit, TARGETS[1])
        for (n, s10, k10), (_, s100, k100) in zip(rows10, rows100):
            lines.append(f"| {n} | {s10:.3f} | {k10:.3f} | {s100:.3f} | {k100:.3f} |")
    noise = {r["arch"]: r for r in by.get(("scores", "cell", "noise"), [])}
    if noise:
        same = [c for c in cells if c["arch"] in noise]
        lines += ["", f"Digits vs Gaussian noise on the same {len(same)} cells (CIFAR-10 "
                      "Spearman / Kendall):", "",
                  "| proxy | digits | noise |", "|---|---|---|"]
        acc = np.array([c[TARGETS[0]] for c in same])
        for n in names:
            if n not in next(iter(noise.values()))["scores"]:
                continue
            d = P.transform(_scores_of(same, (n,)), (n,))[:, 0]
            z = P.transform(_scores_of([noise[c["arch"]] for c in same], (n,)), (n,))[:, 0]
            lines.append("| {} | {:.3f} / {:.3f} | {:.3f} / {:.3f} |".format(
                n, *_corr(d, acc), *_corr(z, acc)))
    timed = by.get(("timing", "timing", "digits"), [])
    if timed or cells:
        lines += ["", "Seconds per network (median; model built + scored; one thread):", "",
                  "| proxy | median s | networks |", "|---|---|---|"]
        for n in names:
            if timed:
                lines.append(f"| {n} alone | "
                             f"{np.median([r['seconds'][n] for r in timed]):.3f} | "
                             f"{len(timed)} |")
        if cells:
            lines.append(f"| all five (shared passes) | "
                         f"{np.median([c['seconds'] for c in cells]):.3f} | {len(cells)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    for name in ("run", "timing", "report"):
        p = sub.add_parser(name)
        p.add_argument("--out", type=Path, default=OUT)
        p.add_argument("--cells", type=int, default=1000)
        p.add_argument("--cell-seed", type=int, default=0, help="order of the NB201 cells")
        p.add_argument("--seed", type=int, default=0, help="proxy seed (weights, minibatch)")
        p.add_argument("--batch-size", type=int, default=64)
        p.add_argument("--data", choices=("digits", "noise"), default="digits")
        p.add_argument("--resume", action="store_true")
        p.add_argument("--reference", type=int, default=64,
                       help="reference designs of the proxy source scored first")
        p.add_argument("--proxies", nargs="+", default=list(P.MEASURES), choices=P.MEASURES)
        p.add_argument("--fit", type=int, default=300,
                       help="report: cells (first of the order) combinations are fitted on")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.step == "run":
        run(args)
    elif args.step == "timing":
        timing(args)
    else:
        print(report(list(read(args.out)), args.fit, args.cell_seed))


if __name__ == "__main__":
    main()
