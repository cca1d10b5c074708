"""Zero-cost proxies against NAS-Bench-201's 200-epoch CIFAR-10/100 test accuracies.

Three steps, each appending to one jsonl file (``--resume`` skips what is there, so a run
survives interruption)::

    # 1. the source's reference sample (64 random designs of nb201-edge, seed 0), then 1,000
    #    random NB201 cells (fixed seed), all five proxies on the digits minibatch
    nice -n 10 python benchmarks/bench_proxies.py run --cells 1000 --resume
    # 2. the data-dependent proxies again on Gaussian noise, first 300 cells of the same order
    nice -n 10 python benchmarks/bench_proxies.py run --data noise --cells 300 \
        --proxies naswot jacob_cov grad_norm snip --resume
    # 3. seconds per network of each proxy alone (30 cells)
    nice -n 10 python benchmarks/bench_proxies.py timing --cells 30 --resume
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
    if path.exists():
        with path.open() as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


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
    with args.out.open("a") as f:
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
    with args.out.open("a") as f:
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
        from _proxy_report import report
        print(report(list(read(args.out)), args.fit))


if __name__ == "__main__":
    main()
