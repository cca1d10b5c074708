"""Held-out error of the measured-FPGA latency predictors (backends ``anb-zcu102``,
``anb-vck190``): for each split seed, fit on 80 % of the measured Accel-NASBench rows (and on
300), test on the rest; share of held-out networks within ±10 %, MAPE, Kendall tau.

    nice -n 10 python benchmarks/bench_anb_fpga_latency.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from moo_cosearch.space import load_space
from moo_cosearch.surrogate import fit_table_predictor
from moo_cosearch.surrogate._measured import _COLUMNS, measured_rows

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=HERE / "results" / "anb_fpga_latency.jsonl")
    args = ap.parse_args()
    space = load_space("anb-mnas-zcu102-measured")
    for device in ("zcu102", "vck190"):
        rows = measured_rows(device)
        for frac in (0.8, 300):
            for seed in args.seeds:
                perm = np.random.default_rng(seed).permutation(len(rows))
                n = int(round(frac * len(rows))) if isinstance(frac, float) else frac
                train, test = [rows[i] for i in perm[:n]], [rows[i] for i in perm[n:]]
                pred = np.exp(fit_table_predictor(space, train, "log_latency", seed=0,
                                                  model="gbt")(test))
                y = np.array([r[_COLUMNS[device]] for r in test])
                rel = pred / y - 1
                rec = {"device": device, "n_train": n, "n_test": len(test), "split_seed": seed,
                       "within_10pct": float(np.mean(np.abs(rel) <= 0.10)),
                       "mape": float(np.mean(np.abs(rel))),
                       "kendall_tau": float(kendalltau(pred, y)[0])}
                print(json.dumps(rec), flush=True)
                with args.out.open("a") as f:
                    f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
