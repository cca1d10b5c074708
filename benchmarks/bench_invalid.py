"""Fraction of invalid (infeasible) designs in each built-in space, edge vs edge-dataflow.

    OMP_NUM_THREADS=1 python benchmarks/bench_invalid.py [--n 5000] [--seed 0]

Draws ``--n`` uniform designs per built-in space (seeded) and writes, per backend, the share
flagged ``feasible=False`` and the most common reason kind to ``results/invalid_fraction.md``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

import numpy as np

from moo_cosearch import get_backend, load_space

SPACES = ("nahas-mbv2-edge", "nahas-effnetb0-edge", "nb201-edge")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    lines = ["# Invalid designs per built-in space", "",
             f"{args.n} uniform designs per space (seed {args.seed}).", "",
             "| space | backend | invalid | most common cause (share of invalid) |",
             "|---|---|---|---|"]
    for name in SPACES:
        space = load_space(name)
        designs = space.sample(args.n, seed=args.seed)
        for backend in ("edge", "edge-dataflow"):
            r = get_backend(backend)(space, designs)
            bad = [s for s in r.reason if s]
            causes = Counter(re.sub(r"[\d.]+", "#", s.split(": ", 1)[1].split(" (")[0]
                                    if "no mapping" not in s else "no mapping fits")
                             for s in bad)
            top = causes.most_common(1)
            cause = f"{top[0][0]} ({top[0][1] / len(bad):.0%})" if top else "-"
            lines.append(f"| {name} | {backend} | {np.mean(~r.feasible):.2%} | {cause} |")
            print(lines[-1], flush=True)
    out = Path(__file__).parent / "results" / "invalid_fraction.md"
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
