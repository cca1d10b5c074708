"""MLP surrogate of the edge model on nahas-mbv2-edge: accuracy (ablation) and predict speed.

Trains the NAHAS MLP on simulator samples with and without the derived network features,
reports the held-out test metrics (MAPE, share within ±5 / ±10 %, Kendall tau per target,
feasibility accuracy, latency error near the latency target) and the training time, then times
batch prediction against the analytical edge backend itself in the same run.

    python benchmarks/bench_surrogate.py                      # sample 200k, train both, time
    python benchmarks/bench_surrogate.py --load a.pt b.pt     # report saved surrogates, time

Results: benchmarks/results/surrogate.md (append with --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import best_of  # noqa: E402

SPACE = "nahas-mbv2-edge"


def _train(args: argparse.Namespace) -> list[Path]:
    from moo_cosearch.surrogate import FitConfig, fit_surrogate, sample_designs

    samples = Path(args.samples)
    if not samples.exists():
        sample_designs(SPACE, "edge", args.n, samples, seed=0)
    paths = []
    for name in args.configs:
        cfg = FitConfig(max_minutes=args.minutes, derived_features=(name == "derived"))
        sur = fit_surrogate(samples, config=cfg)
        paths.append(sur.save(Path(args.models) / f"{name}.pt"))
    return paths


def _throughput(paths: list[Path], n: int) -> list[str]:
    import torch

    from moo_cosearch import load_space
    from moo_cosearch.hardware import get_backend
    from moo_cosearch.surrogate import draw_indices, load_surrogate

    space = load_space(SPACE)
    idx = draw_indices(space, n, np.random.default_rng(1))
    designs = space.sample(20000, seed=2)
    edge = get_backend("edge")
    edge(space, designs[:500])
    t = time.perf_counter()
    edge(space, designs)
    edge_rate = len(designs) / (time.perf_counter() - t)
    lines = [f"| edge backend (simulator), design dicts | {edge_rate:,.0f} | 1.0 |"]
    for threads in sorted({1, torch.get_num_threads()}):
        torch.set_num_threads(threads)
        for p in paths:
            sur = load_surrogate(p)
            for precision in ("float32", "bfloat16"):
                sur.predict(idx[:1000], precision=precision)
                rate = n / best_of(lambda: sur.predict(idx, precision=precision), repeat=3)
                lines.append(f"| surrogate {p.stem}, index matrix, {precision}, {threads} "
                             f"thread(s) | {rate:,.0f} | {rate / edge_rate:.1f} |")
            rate_d = len(designs) / best_of(lambda: sur.predict(designs), repeat=1)
            lines.append(f"| surrogate {p.stem}, design dicts, float32, {threads} thread(s) | "
                         f"{rate_d:,.0f} | {rate_d / edge_rate:.1f} |")
    return lines


def _precision_accuracy(paths: list[Path], samples: Path) -> list[str]:
    """Test-set MAPE of each model at float32 and bfloat16 (the split ``fit_surrogate`` used:
    crashed designs dropped, then the config's seeded permutation)."""
    from moo_cosearch.surrogate import load_samples, load_surrogate, regression_metrics
    from moo_cosearch.surrogate._surrogate import _split

    cols, _ = load_samples(samples)
    rows = np.flatnonzero(~np.char.startswith(cols["reason"].astype(str), "error:"))
    lines = []
    for p in paths:
        sur = load_surrogate(p)
        test = rows[_split(len(rows), sur.config)[2]]
        if len(test) != sur.meta["split"]["test"]:
            print(f"note: {p.stem} was not trained on {samples}; precision accuracy skipped")
            continue
        idx = cols["idx"][test].astype(np.int64)
        cells = []
        for precision in ("float32", "bfloat16"):
            pred = sur.predict(idx, precision=precision)
            cells.append(" / ".join(f"{regression_metrics(cols[t][test], pred[t])['mape_pct']:.3f}"
                                    for t in ("latency_ms", "area_mm2", "energy_mj")))
        lines.append(f"| {p.stem} | {cells[0]} | {cells[1]} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200000, help="samples to draw")
    ap.add_argument("--samples", default="runs/bench-surrogate/mbv2_edge.npz")
    ap.add_argument("--models", default="runs/bench-surrogate")
    ap.add_argument("--configs", nargs="+", default=["plain", "derived"])
    ap.add_argument("--minutes", type=float, default=28.0, help="training budget per model")
    ap.add_argument("--load", nargs="+", default=None, help="saved surrogates to report")
    ap.add_argument("--predict-n", type=int, default=1_000_000)
    ap.add_argument("--time", nargs="+", default=None, metavar="STEM",
                    help="time predict for these models only (default: all)")
    ap.add_argument("--out", default="benchmarks/results/surrogate.md")
    args = ap.parse_args()

    paths = [Path(p) for p in args.load] if args.load else _train(args)
    rows = []
    for p in paths:
        meta = json.loads(p.with_suffix(".json").read_text())
        m, tr = meta["metrics"], meta["training"]
        near = m.get("near_latency_target", {})
        c = meta["config"]
        recipe = (f"{'x'.join(map(str, c['hidden']))}, dropout {c['dropout']}, batch "
                  f"{c['batch_size']}, lr {c['lr']:g} {c.get('lr_schedule', 'plateau')}"
                  + (", derived" if c.get("derived_features") else "")
                  + ("" if c["weights"].get("area_mm2", 1.0) == 1.0
                     else f", w_area {c['weights']['area_mm2']:g}"))
        rows.append(
            f"| {p.stem} | {recipe} | {len(meta['features']['columns'])} | "
            + " | ".join(f"{m[t]['mape_pct']:.3f} / {m[t]['within_5pct']:.1f} / "
                         f"{m[t]['kendall_tau']:.4f}" for t in ("latency_ms", "area_mm2",
                                                                 "energy_mj"))
            + f" | {m['feasibility_accuracy_pct']:.3f} | {near.get('mape_pct', float('nan')):.3f}"
              f" ({near.get('n', 0)}) | {tr['members'][0]['epochs']} / {tr['train_seconds']:.0f}"
              f" s on {tr['device']} |")
    speed = _throughput([p for p in paths if args.time is None or p.stem in args.time],
                        args.predict_n)
    meta = json.loads(paths[0].with_suffix(".json").read_text())
    text = [
        f"## MLP surrogate of `edge` on `{SPACE}` ({time.strftime('%Y-%m-%d')}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs)",
        "",
        f"{meta['data']['n_samples']:,} uniform samples (seed {meta['data']['seed']}), split "
        f"{meta['split']['train']:,} / {meta['split']['val']:,} / {meta['split']['test']:,} "
        "(train / validation / test); metrics on the held-out test designs. NAHAS recipe: 3x256, "
        "dropout 0.1, Adam 1e-3, batch 128, loss MSE_area + 10 MSE_latency (+ MSE_energy + BCE "
        "feasibility); other rows change what the recipe column says.",
        "",
        "| model | recipe | features | latency MAPE % / ±5 % share / tau | area MAPE % / ±5 % / "
        "tau | energy MAPE % / ±5 % / tau | feasibility acc. % | latency MAPE near target "
        "(designs) | epochs / train time |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Predict throughput ({args.predict_n:,} designs as an index matrix; 20,000 as dicts):",
        "",
        "| evaluator | designs/s | vs edge backend |",
        "|---|---|---|",
        *speed,
        "",
    ]
    if Path(args.samples).exists():
        acc = _precision_accuracy([p for p in paths if args.time is None or p.stem in args.time],
                                  Path(args.samples))
        if acc:
            text += ["Test MAPE % (latency / area / energy) by predict precision:", "",
                     "| model | float32 | bfloat16 |", "|---|---|---|", *acc, ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as fh:
        fh.write("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
