"""The zigzag backend's per-layer cache: drawing N NAHAS-S1 designs on M accelerator
configurations, how many ZigZag layer mappings are run without the cache (each network's
distinct layer shapes, network by network) and with it (each distinct (layer shape,
accelerator) pair once), counted exactly from the networks; and, with ``--time K``, the wall
seconds of both paths on the first K designs of one configuration, measured in the same run.

    python benchmarks/bench_zigzag_cache.py [--designs 1000] [--configs 20] [--time 4]
"""

from __future__ import annotations

import argparse
import time

from moo_cosearch import load_space
from moo_cosearch.hardware.edge import EDGE_PARAMS
from moo_cosearch.networks import build_network

SPACE = "nahas-mbv2-edge"


def _shape(ly) -> tuple:
    return (ly.kind, ly.in_ch, ly.out_ch, ly.in_h, ly.in_w, ly.out_h, ly.out_w, ly.kernel,
            ly.stride, ly.groups)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", type=int, default=1000)
    ap.add_argument("--configs", type=int, default=20)
    ap.add_argument("--time", type=int, default=0, metavar="K",
                    help="also time both paths on K designs of one configuration (ZigZag)")
    args = ap.parse_args()
    space = load_space(SPACE)
    nets = [d for d in space.sample(args.designs, seed=0)]
    configs = [{p: d[p] for p in EDGE_PARAMS} for d in space.sample(args.configs, seed=1)]
    shapes = [{_shape(ly) for ly in build_network(space.network, d)} for d in nets]
    without = sum(len(s) for s in shapes) * len(configs)
    with_cache = len(set().union(*shapes)) * len({tuple(c.values()) for c in configs})
    print(f"{SPACE}: {args.designs} networks x {args.configs} accelerator configurations")
    print(f"ZigZag layer mappings without the cache: {without:,}; with it: {with_cache:,} "
          f"({without / with_cache:.1f}x fewer)")
    if args.time:
        from moo_cosearch.hardware import zigzag as zz

        batch = [{**d, **configs[0]} for d in nets[:args.time]]
        for label, backend in (("without cache", zz.ZigZagBackend(cache=False)),
                               ("with cache", zz.ZigZagBackend(cache=True))):
            zz._LAYER_CACHE.clear()
            t = time.perf_counter()
            r = backend(space, batch)
            print(f"{label:14s} {args.time} designs on one configuration: "
                  f"{time.perf_counter() - t:.1f} s (feasible {int(r.feasible.sum())})")


if __name__ == "__main__":
    main()
