"""Measured-device latency prediction on NAS-Bench-201 (HW-NAS-Bench-360 table).

For each device/runtime pair: train on ``--n-train`` random measured cells (``--seeds`` seeds),
test on all the other cells; report the median over seeds of the share of held-out cells within
±10 %, MAPE and Kendall tau, and the training time. Rows:

* the MLP predictor (:func:`moo_cosearch.surrogate.fit_device_predictor`) with its three
  feature sets (the ablation): raw one-hot ops; + live-edge structure features of the raw cell;
  + the same features of the cell's NAS-Bench-201 isomorphism-class representative (default);
* the peer, measured in the same run: scikit-learn ``HistGradientBoostingRegressor`` on raw
  one-hot ops (log latency), from ``--n-train`` cells and from ``--n-large`` cells.

Also the measurement noise floor: with each cell's latency standard deviation
``sqrt(lat_ms_var)`` taken as the error of its median, the expected share of cells a perfect
predictor of the true latency gets within ±10 %.

    OMP_NUM_THREADS=1 python benchmarks/bench_device_predictor.py [--seeds 3] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from moo_cosearch.hardware.table import DEVICES, device_table
from moo_cosearch.surrogate import fit_device_predictor, regression_metrics
from moo_cosearch.surrogate._device import cell_features

HERE = Path(__file__).resolve().parent
ALL_OPS = (np.arange(5 ** 6)[:, None] // 5 ** np.arange(6)) % 5


def noise_floor(lat: np.ndarray, var: np.ndarray) -> dict[str, float]:
    from scipy.special import erf

    ok = np.isfinite(lat) & np.isfinite(var) & (lat > 0)
    if not ok.any():
        return {"n_with_var": 0, "expected_within_10pct": math.nan,
                "share_sd_over_10pct": math.nan}
    sd = np.sqrt(np.maximum(var[ok], 0))
    z = 0.1 * lat[ok] / np.where(sd > 0, sd, 1.0)
    p = np.where(sd > 0, erf(z / math.sqrt(2)), 1.0)
    return {"n_with_var": int(ok.sum()), "expected_within_10pct": float(100 * p.mean()),
            "share_sd_over_10pct": float(100 * (sd > 0.1 * lat[ok]).mean())}


def trees(lat: np.ndarray, n_train: int, seed: int) -> dict[str, float]:
    from sklearn.ensemble import HistGradientBoostingRegressor

    measured = np.flatnonzero(np.isfinite(lat) & (lat > 0))
    perm = np.random.default_rng(seed).permutation(measured)
    tr, te = perm[:n_train], perm[n_train:]
    x = cell_features(ALL_OPS, "onehot")[0]
    t = time.perf_counter()
    model = HistGradientBoostingRegressor(random_state=seed).fit(x[tr], np.log(lat[tr]))
    secs = time.perf_counter() - t
    return {**regression_metrics(lat[te], np.exp(model.predict(x[te]))), "train_seconds": secs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-large", type=int, default=12000)
    ap.add_argument("--devices", nargs="*", default=list(DEVICES))
    ap.add_argument("--out", default=str(HERE / "results" / "device_predictor.md"))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    table = device_table()
    rows, floors, raw = [], {}, []
    start = time.perf_counter()
    for dev in args.devices:
        r = table.row(dev)
        lat = table.latency_ms[r]
        floors[dev] = noise_floor(lat, table.latency_var_ms2[r])
        runs: dict[str, list[dict]] = {}
        for seed in range(args.seeds):
            for feats in ("onehot", "live", "structure"):
                p = fit_device_predictor(dev, n_train=args.n_train, seed=seed, features=feats)
                runs.setdefault(f"MLP {feats}, {args.n_train} cells", []).append(
                    {**p.meta["metrics"], "train_seconds": p.meta["train_seconds"]})
            for n in (args.n_train, args.n_large):
                runs.setdefault(f"trees one-hot, {n} cells", []).append(trees(lat, n, seed))
            print(dev, seed, {k: round(v[-1]["within_10pct"], 1) for k, v in runs.items()},
                  flush=True)
        for label, res in runs.items():
            med = {k: statistics.median(r[k] for r in res)
                   for k in ("within_10pct", "within_5pct", "mape_pct", "kendall_tau",
                             "train_seconds")}
            rows.append((dev, label, med, len(res)))
            raw.append({"device": dev, "model": label, "runs": res})
    total = time.perf_counter() - start
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in raw))
    lines = [
        "# Measured-device latency predictor (NAS-Bench-201, HW-NAS-Bench-360 table)", "",
        f"`{' '.join(['python benchmarks/bench_device_predictor.py'] + [f'--seeds {args.seeds}'])}`"
        f" — {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"torch threads 1, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; "
        f"total {total / 60:.1f} min. Median over {args.seeds} seeds (random training cells "
        f"per seed); test = all other measured cells (~{5 ** 6 - args.n_train}).", "",
        "| device | model | within ±10 % | within ±5 % | MAPE % | Kendall τ | train s |",
        "|---|---|---:|---:|---:|---:|---:|"]
    for dev, label, m, _ in rows:
        lines.append(f"| {dev} | {label} | {m['within_10pct']:.1f} | {m['within_5pct']:.1f} | "
                     f"{m['mape_pct']:.2f} | {m['kendall_tau']:.3f} | "
                     f"{m['train_seconds']:.1f} |")
    lines += ["", "Measurement noise floor (each cell's sd = sqrt(lat_ms_var) taken as the error "
              "of its median; expected share a perfect predictor gets within ±10 %):", "",
              "| device | cells with variance | expected within ±10 % | cells with sd > 10 % |",
              "|---|---:|---:|---:|"]
    for dev, f in floors.items():
        lines.append(f"| {dev} | {f['n_with_var']} | {f['expected_within_10pct']:.1f} | "
                     f"{f['share_sd_over_10pct']:.1f} % |")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
