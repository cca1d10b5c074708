"""Short-training accuracy source: seconds per epoch on this machine, per network and size.

    python benchmarks/bench_training.py [--cells 3] [--epochs 2] [--resolution 16 32]

Trains NAS-Bench-201 networks (the space's baseline cell and random cells, seed 0) on
scikit-learn's digits with the ``train`` source and records seconds per epoch and the final
validation accuracy; torch on one thread (``torch.set_num_threads(1)``), or the GPU when torch
sees one. Appends to ``benchmarks/results/training.jsonl`` and rewrites ``training.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--resolution", type=int, nargs="+", default=[16, 32])
    args = p.parse_args()
    import torch

    from moo_cosearch import load_space
    from moo_cosearch.accuracy import TrainedAccuracy
    from moo_cosearch.networks.nb201 import arch_str, design_ops

    torch.set_num_threads(1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    space = load_space("nb201-edge")
    designs = [space.baseline] + space.sample(args.cells - 1, seed=0)
    rows = []
    for resolution in args.resolution:
        source = TrainedAccuracy(space=space, epochs=args.epochs, resolution=resolution)
        for design in designs:
            start = time.perf_counter()
            acc = source(design)
            seconds = time.perf_counter() - start
            row = {"cell": arch_str(design_ops(design)), "resolution": resolution,
                   "epochs": args.epochs, "s_per_epoch": round(seconds / args.epochs, 2),
                   "val_accuracy": round(acc, 2), "device": device,
                   "machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread, "
                              f"2-core sandbox shared with other jobs"}
            rows.append(row)
            print(json.dumps(row), flush=True)
            with open(RESULTS / "training.jsonl", "a") as fh:
                fh.write(json.dumps(row) + "\n")
    keys = list(rows[0])
    lines = ["# Short training on digits: seconds per epoch (benchmarks/bench_training.py)", "",
             "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]).replace("|", "\\|") for k in keys) + " |"
              for r in rows]
    (RESULTS / "training.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
