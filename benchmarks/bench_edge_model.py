"""Throughput of the edge cost model: one vectorised batch against the same model called one
design at a time (the peer, measured in the same run). Prints designs/s and the ratio.

    python benchmarks/bench_edge_model.py [--space nahas-mbv2-edge] [--n 4000] [--repeat 3]

Two figures per space: the array kernel alone (`edge_cost` on a pre-stacked LayerBatch) and the
whole backend (validation + network building + stacking + kernel), each batched vs per-design.
"""

from __future__ import annotations

import argparse
import platform

from _timing import best_of  # noqa: E402  (benchmarks/ is on sys.path when run)
import numpy as np

from moo_cosearch import get_backend, load_space
from moo_cosearch.networks import stack_layers
from moo_cosearch.hardware.edge import EDGE_PARAMS, edge_cost
from moo_cosearch.networks import build_network


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", action="append", default=None)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}, numpy {np.__version__}")
    backend = get_backend("edge")
    for name in args.space or ["nb201-edge", "nahas-mbv2-edge", "nahas-effnetb0-edge"]:
        space = load_space(name)
        designs = space.sample(args.n, seed=0)
        nets = [build_network(space.network, d) for d in designs]
        batch = stack_layers(nets)
        hw = {p: np.array([float(d[p]) for d in designs]) for p in EDGE_PARAMS}
        few = min(args.n, 500)  # the per-design peer is slow; time a subset and scale
        singles = [(stack_layers([nets[i]]), {p: hw[p][i:i + 1] for p in EDGE_PARAMS})
                   for i in range(few)]
        t_kernel = best_of(lambda: edge_cost(batch, hw), args.repeat) / args.n
        t_kernel_1 = best_of(lambda: [edge_cost(b, h) for b, h in singles], args.repeat) / few
        t_backend = best_of(lambda: backend(space, designs), args.repeat) / args.n
        t_backend_1 = best_of(lambda: [backend(space, [d]) for d in designs[:few]],
                              args.repeat) / few
        print(f"{name:<22} kernel {1 / t_kernel:>10.0f}/s batched vs {1 / t_kernel_1:>8.0f}/s "
              f"one by one (x{t_kernel_1 / t_kernel:.0f}); backend {1 / t_backend:>8.0f}/s vs "
              f"{1 / t_backend_1:>7.0f}/s (x{t_backend_1 / t_backend:.1f}); "
              f"{batch.shape[1]} layers max")


if __name__ == "__main__":
    main()
