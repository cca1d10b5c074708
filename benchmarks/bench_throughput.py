"""Full-network evaluations per second of every registered cost backend, on one CPU core.

    OMP_NUM_THREADS=1 python benchmarks/bench_throughput.py [--n 4000] [--repeat 3]
        [--out benchmarks/results/throughput.md]

For each name in ``moo_cosearch.hardware.list_backends()`` the bench picks a built-in space whose
``accelerator`` is that backend (edge-like backends, whose parameters are the edge ones, run on
``nahas-mbv2-edge``), draws ``--n`` designs (seed 0), and times ``backend(space, designs)`` (one
vectorised batch: validation, network building, stacking, model), best of ``--repeat``. Backends
with no matching space are listed as skipped. Slow backends (``zigzag``, anything over 1 s per
design) are timed on one design (the probe); the table gives every backend's rate
and its ratio to ``edge`` measured in the same run. The kernel alone (array model on a
pre-stacked batch) is timed too for ``edge`` and ``edge-dataflow``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from _timing import best_of  # noqa: E402  (benchmarks/ is on sys.path when run)
import numpy as np  # noqa: E402

from moo_cosearch import get_backend, load_space  # noqa: E402
from moo_cosearch.hardware import list_backends  # noqa: E402
from moo_cosearch.hardware.edge import EDGE_PARAMS  # noqa: E402

EDGE_SPACE = "nahas-mbv2-edge"


def builtin_spaces() -> list[str]:
    root = Path(__file__).resolve().parents[1] / "spaces"
    return sorted(p.stem for p in root.glob("*.toml"))


def space_for(backend: str, spaces: dict) -> tuple[str | None, float]:
    """A built-in space declaring ``backend`` (else nahas-mbv2-edge when the backend evaluates
    it) and the seconds of a one-design probe evaluation on it."""
    names = [n for n, sp in spaces.items() if getattr(sp, "accelerator", None) == backend]
    if backend == "edge" or not names:
        names = [EDGE_SPACE]
    be = get_backend(backend)
    t = time.perf_counter()
    try:
        be(spaces[names[0]], spaces[names[0]].sample(1, seed=1))
    except Exception:  # noqa: BLE001 - the backend cannot evaluate this space
        return None, 0.0
    return names[0], time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "throughput.md"))
    args = ap.parse_args()
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    spaces = {}
    for name in builtin_spaces():
        try:
            spaces[name] = load_space(name)
        except Exception as exc:  # noqa: BLE001
            print(f"skip space {name}: {exc}")
    rows, rates = [], {}
    for backend in list_backends():
        sname, probe = space_for(backend, spaces)
        if sname is None:
            rows.append(f"| {backend} | - | - | - | - | skipped: no built-in space fits |")
            continue
        space, be = spaces[sname], get_backend(backend)
        slow = backend == "zigzag" or probe > 1.0
        if slow:                           # the one-design probe is the measurement
            n, sec, how = 1, probe, "one design"
        else:
            n = args.n
            fresh = [space.sample(n, seed=1 + r) for r in range(args.repeat)]
            cold = min(best_of(lambda: be(space, batch), 1) for batch in fresh)
            designs = space.sample(n, seed=0)
            be(space, designs)             # warm the network cache, as in a running study
            sec, how = best_of(lambda: be(space, designs), args.repeat), f"best of {args.repeat}"
        rates[backend] = n / sec
        cold_rate = f"{n / cold:,.4g}" if not slow else "-"
        rows.append(f"| {backend} | {sname} | {n} | {cold_rate} | {n / sec:,.4g} | {how} |")
        print(rows[-1], flush=True)
    # kernels alone
    from moo_cosearch.networks import stack_layers
    from moo_cosearch.hardware.dataflow import dataflow_cost
    from moo_cosearch.hardware.edge import edge_cost
    from moo_cosearch.networks import build_network

    space = spaces[EDGE_SPACE]
    designs = space.sample(args.n, seed=0)
    batch = stack_layers([build_network(space.network, d) for d in designs])
    hw = {p: np.array([float(d[p]) for d in designs]) for p in EDGE_PARAMS}
    kern = {"edge (kernel)": best_of(lambda: edge_cost(batch, hw), args.repeat),
            "edge-dataflow (kernel)": best_of(lambda: dataflow_cost(batch, hw), args.repeat)}
    lines = ["# Cost-backend throughput (full-network evaluations per second, one core)", "",
             f"machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs "
             f"(figures are lower bounds), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
             f"torch threads 1, numpy {np.__version__}", "",
             "| backend | space | designs | evaluations/s, new networks | evaluations/s, networks cached | timing |",
             "|---|---|---|---|---|---|",
             *rows, "", "| kernel (pre-stacked MobileNetV2 batch) | designs | evaluations/s |",
             "|---|---|---|"]
    for k, sec in kern.items():
        lines.append(f"| {k} | {args.n} | {args.n / sec:,.0f} |")
    if "edge" in rates:
        lines += ["", "Ratios to `edge` (same run): " + ", ".join(
            f"{b} x{r / rates['edge']:.3g}" for b, r in rates.items() if b != "edge")]
    if "zigzag" in rates and "edge-dataflow" in rates:
        lines.append(f"edge-dataflow / zigzag: x{rates['edge-dataflow'] / rates['zigzag']:,.0f}")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
