"""Zero-cost proxies against ImageNet top-1 on Accel-NASBench (issue 24, item 5).

The shipped Accel-NASBench table (5,125 MnasNet-space networks trained on ImageNet) is shuffled
with ``numpy.random.default_rng(0)``; the first ``--rows`` networks are scored by synflow,
naswot and jacob_cov (the proxy source's code, :func:`moo_cosearch.accuracy.proxies.proxy_matrix`)
and compared with their ``val_top1`` by Kendall tau and Spearman rho, next to the baselines the
proxy literature holds proxies against: #params and MACs (of our ``anb-mnas`` network family,
which matches the table's within 5 %, ``benchmarks/results/anb_network.md``). ``combined`` is
what the ``proxy`` source computes by default: the mean robust z-score of
:data:`~moo_cosearch.accuracy.proxies.COMBINED` relative to a 64-design reference sample of the
space (seed 0), scored here too. For orientation, the GP predictor fitted on 300 *other* rows.

Reduced cost (the networks are 224-px ImageNet nets): input 32 px (``resolution=32``), batch
32 (the source's default is 64), scikit-learn's digits upsampled, one thread, seed 0. ::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_anb_proxies.py run --rows 1000 --resume
    python benchmarks/bench_anb_proxies.py report > benchmarks/results/anb_proxies.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from importlib import resources
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moo_cosearch.accuracy import fit_predictor  # noqa: E402
from moo_cosearch.accuracy import proxies as P  # noqa: E402
from moo_cosearch.space import load_space  # noqa: E402
from moo_cosearch.surrogate import table_rows  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "anb_proxies.jsonl"
SPACE = "anb-mnas-edge"
NAMES = ("synflow", "naswot", "jacob_cov")
SETTINGS = {"resolution": 32, "batch_size": 32, "data": "digits", "seed": 0}


def _table() -> list[dict]:
    rows = table_rows(resources.files("moo_cosearch.data") / "accel_nasbench_mnas.csv.gz")
    return [rows[i] for i in np.random.default_rng(0).permutation(len(rows))]


def _design(space, row: dict) -> dict:
    return {p.name: row[p.name] for p in space.group("nas")}


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:        # a line cut short by an interrupted run
            continue
    return out


def run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    space = load_space(SPACE)
    todo = [("reference", i, d) for i, d in enumerate(space.sample(64, seed=0))]
    todo += [("row", int(r["index"]), _design(space, r)) for r in _table()[:args.rows]]
    done = {(r["role"], r["id"]) for r in _read(args.out)} if args.resume else set()
    with args.out.open("a") as f:
        for role, ident, design in todo:
            if (role, ident) in done:
                continue
            t = time.process_time()
            raw = P.proxy_matrix(space, [design], NAMES, SETTINGS["seed"],
                                 batch_size=SETTINGS["batch_size"], data=SETTINGS["data"],
                                 resolution=SETTINGS["resolution"])[0]
            f.write(json.dumps({"role": role, "id": ident, **SETTINGS,
                                "scores": dict(zip(NAMES, map(float, raw))),
                                "cpu_s": round(time.process_time() - t, 3)}) + "\n")
            f.flush()


def _costs(space, designs: list[dict]) -> np.ndarray:
    """(n, 2): MACs and weights of each network (our anb-mnas family)."""
    from moo_cosearch.networks import network_matrix
    from moo_cosearch.networks.layers import LayerBatch

    col = list(LayerBatch.__dataclass_fields__).index("macs") - 1
    return np.array([network_matrix(space.network, d)[:, [col, col + 1]].sum(axis=0)
                     for d in designs])


def report(args: argparse.Namespace) -> None:
    from scipy.stats import kendalltau, spearmanr

    warnings.filterwarnings("ignore")
    space = load_space(SPACE)
    recs = _read(args.out)
    ref = np.array([[r["scores"][n] for n in NAMES] for r in recs if r["role"] == "reference"])
    by_id = {r["id"]: r for r in recs if r["role"] == "row"}
    table = _table()
    rows = [r for r in table if int(r["index"]) in by_id]
    raw = np.array([[by_id[int(r["index"])]["scores"][n] for n in NAMES] for r in rows])
    y = np.array([r["val_top1"] for r in rows])
    designs = [_design(space, r) for r in rows]
    t = P.transform(raw, NAMES)
    cols = {n: t[:, j] for j, n in enumerate(NAMES)}
    cols["combined (source default: z-mean of " + "+".join(P.COMBINED) + ")"] = \
        P.ProxyReference(P.COMBINED, ref[:, [NAMES.index(n) for n in P.COMBINED]]).combined(
            raw[:, [NAMES.index(n) for n in P.COMBINED]])
    costs = _costs(space, designs)
    cols["#params"], cols["MACs"] = costs[:, 1], costs[:, 0]
    ids = {int(r["index"]) for r in rows}
    others = [r for r in table if int(r["index"]) not in ids][:300]
    gp = fit_predictor(space, others, "val_top1", seed=0)
    cols["GP predictor fitted on 300 other rows (not a proxy)"] = gp(designs)
    cpu = [r["cpu_s"] for r in recs]
    print("# Zero-cost proxies vs ImageNet top-1 on Accel-NASBench\n")
    print(f"Script: `benchmarks/bench_anb_proxies.py` (see its docstring). {len(rows)} networks "
          f"of the shipped table (the first of a `default_rng(0)` shuffle), `val_top1` "
          f"{y.min():.1f}-{y.max():.1f} %; proxies at input {SETTINGS['resolution']} px, "
          f"batch {SETTINGS['batch_size']}, digits, seed 0, one thread "
          f"(reduced from 224 px for cost: {np.median(cpu):.2f} CPU-s per network for all "
          f"three, {sum(cpu) / 60:.0f} CPU-min in all, {len(ref)} reference designs "
          f"included).\n")
    print("| score | Kendall tau vs top-1 | Spearman rho vs top-1 | Kendall tau vs #params "
          "| non-finite |")
    print("|---|---|---|---|---|")
    for name, s in cols.items():
        ok = np.isfinite(s)
        tau, rho = kendalltau(s[ok], y[ok])[0], spearmanr(s[ok], y[ok])[0]
        tp = kendalltau(s[ok], costs[ok, 1])[0]
        print(f"| {name} | {tau:.3f} | {rho:.3f} | {tp:.3f} | {int((~ok).sum())} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--rows", type=int, default=1000)
    r.add_argument("--resume", action="store_true")
    rep = sub.add_parser("report")
    for p in (r, rep):
        p.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
