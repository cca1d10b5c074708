"""NASAIC heterogeneous-accelerator model: hetero pairs vs one large accelerator, throughput,
infeasible fractions. Writes ``benchmarks/results/hetero.txt`` (and prints it).

    OMP_NUM_THREADS=1 python benchmarks/bench_hetero.py [--networks 20] [--seed 0] [--n 2000]

1. Hetero vs single (NASAIC section V-D, W1 and W2): for ``--networks`` network pairs drawn
   uniformly (seeded) from the space's NAS grid, plus the largest and the smallest pair of the
   grid, every feasible hardware design of the space's HAS grid is evaluated (exhaustive, 7,056
   two-sub-accelerator designs per network pair: 9 template pairs x 28 PE splits x 28 bandwidth
   splits, all within 4,096 PEs and 64 GB/s) and split into *heterogeneous pairs* (two different
   templates), *homogeneous pairs* (the same template twice) and the three *single* accelerators
   with all 4,096 PEs and 64 GB/s. Per network pair: the best latency (makespan), best energy and
   best energy-delay product of each group, and whether some heterogeneous pair dominates the
   best single accelerator on (latency, energy). The same networks run in every group, so
   accuracy plays no part. "Dominates" counts network pairs where some heterogeneous pair is
   no worse on both latency and energy than the single accelerator of best EDP, and better on
   one.
2. Throughput: designs/s of the ``hetero`` backend (validation, network building with its cache,
   stacking, template costs, HEFT scheduling) on one batch of ``--n`` uniform designs, against
   the same backend called one design at a time (the peer, measured in the same run); and the
   ``edge`` backend on ``nahas-mbv2-edge`` as a second peer.
3. Infeasible fraction of each new space under uniform sampling (``--n-infeasible`` designs).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from _timing import best_of  # noqa: E402  (benchmarks/ is on sys.path when run)
import numpy as np

from moo_cosearch import get_backend, load_space
from moo_cosearch.networks import stack_matrices
from moo_cosearch.hardware.hetero import MAX_BW_GBPS, MAX_PES, TEMPLATES, hetero_cost
from moo_cosearch.networks import network_matrix

OUT = Path(__file__).resolve().parent / "results" / "hetero.txt"


def hw_grid(space) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every feasible (dataflow, pes, bw) design of the space's HAS grid, as (m, 2) arrays."""
    pes0, pes1 = space["a0_pes"].choices, space["a1_pes"].choices
    bw0, bw1 = space["a0_bw_gbps"].choices, space["a1_bw_gbps"].choices
    rows = []
    for d0 in range(len(TEMPLATES)):
        for d1 in range(len(TEMPLATES)):
            for p0 in pes0:
                for p1 in pes1:
                    if p1 == 0 or p0 + p1 > MAX_PES:
                        continue
                    rows += [(d0, d1, p0, p1, b0, b1) for b0 in bw0 for b1 in bw1
                             if b0 + b1 <= MAX_BW_GBPS]
    for d0 in range(len(TEMPLATES)):            # single accelerators: all PEs, all bandwidth
        rows.append((d0, d0, MAX_PES, 0, MAX_BW_GBPS, bw1[0]))
    a = np.array(rows, dtype=np.float64)
    return a[:, :2].astype(np.int64), a[:, 2:4], a[:, 4:6]


def nas_designs(space, rng: np.random.Generator, n: int) -> list[dict]:
    nas = [p for p in space.params if p.group == "nas"]
    out = [{p.name: p.choices[-1] for p in nas}, {p.name: p.choices[0] for p in nas}]
    out += [{p.name: p.choices[int(rng.integers(len(p.choices)))] for p in nas}
            for _ in range(n)]
    return out


def compare(space_name: str, n_networks: int, seed: int) -> list[str]:
    space = load_space(space_name)
    df, pes, bw = hw_grid(space)
    m = df.shape[0]
    single = pes[:, 1] == 0
    homo = ~single & (df[:, 0] == df[:, 1])
    het = ~single & (df[:, 0] != df[:, 1])
    groups = {"hetero pair": het, "homo pair": homo, "single 4096": single}
    from moo_cosearch.hardware.hetero import workload_tasks

    tasks = workload_tasks(space.network)
    rng = np.random.default_rng(seed)
    lines = [f"== {space_name}: {len(tasks)} tasks, {int(het.sum())} hetero-pair + "
             f"{int(homo.sum())} homogeneous-pair + {int(single.sum())} single designs per "
             f"network pair, {n_networks} random network pairs + largest + smallest (seed {seed})"]
    wins = {"latency": 0, "energy": 0, "edp": 0, "dominates": 0}
    ratios = {"latency": [], "energy": [], "edp": []}
    t0 = time.perf_counter()
    nets = nas_designs(space, rng, n_networks)
    for k, nas in enumerate(nets):
        batches = []
        for family, prefix in tasks:
            mat = network_matrix(family, {n[len(prefix):]: v for n, v in nas.items()
                                          if n.startswith(prefix)})
            batches.append(stack_matrices([mat] * m))
        r = hetero_cost(batches, df, pes, bw)
        assert r.feasible.all(), r.reason[int(np.argmin(r.feasible))]
        lat, en = r.latency_ms, r.energy_mj
        edp = lat * en
        best = {g: (lat[mask].min(), en[mask].min(), edp[mask].min())
                for g, mask in groups.items()}
        s_lat, s_en, s_edp = best["single 4096"]
        h_lat, h_en, h_edp = best["hetero pair"]
        wins["latency"] += h_lat < s_lat
        wins["energy"] += h_en < s_en
        wins["edp"] += h_edp < s_edp
        ratios["latency"].append(h_lat / s_lat)
        ratios["energy"].append(h_en / s_en)
        ratios["edp"].append(h_edp / s_edp)
        # some hetero pair at least as good on both latency and energy as the single design
        # of best EDP, better on one: Pareto-dominates it
        i = np.flatnonzero(single)[np.argmin(edp[single])]
        wins["dominates"] += bool(np.any(het & (lat <= lat[i]) & (en <= en[i])
                                         & ((lat < lat[i]) | (en < en[i]))))
        if k < 2:
            label = "largest networks" if k == 0 else "smallest networks"
            lines.append(f"  {label}:")
            for g, mask in groups.items():
                i_edp = np.flatnonzero(mask)[np.argmin(edp[mask])]
                cfg = (f"{TEMPLATES[df[i_edp, 0]]}:{pes[i_edp, 0]:g}PE/{bw[i_edp, 0]:g}GBps"
                       + ("" if pes[i_edp, 1] == 0 else
                          f" + {TEMPLATES[df[i_edp, 1]]}:{pes[i_edp, 1]:g}PE/"
                          f"{bw[i_edp, 1]:g}GBps"))
                lines.append(f"    {g:<12} best latency {best[g][0]:8.4f} ms  best energy "
                             f"{best[g][1]:8.4f} mJ  best EDP {best[g][2]:9.5f} ms*mJ "
                             f"({cfg}, {r.area_mm2[i_edp]:.2f} mm^2)")
    n = len(nets)
    secs = time.perf_counter() - t0
    lines.append(f"  over all {n} network pairs ({n * m} designs in {secs:.1f} s): the best "
                 f"heterogeneous pair beats the best single 4096-PE accelerator on latency in "
                 f"{wins['latency']}/{n}, on energy in {wins['energy']}/{n}, on EDP in "
                 f"{wins['edp']}/{n}; some hetero pair Pareto-dominates the best-EDP single design in "
                 f"{wins['dominates']}/{n}")
    for key, vals in ratios.items():
        v = np.array(vals)
        lines.append(f"  best hetero / best single {key:<7}: median {np.median(v):.3f}, "
                     f"min {v.min():.3f}, max {v.max():.3f}")
    return lines


def throughput(n: int, repeat: int) -> list[str]:
    lines = [f"== throughput, one process, OMP_NUM_THREADS=1 (best of {repeat})"]
    hetero = get_backend("hetero")
    for name in ("nasaic-w1", "nasaic-w2", "nasaic-w3"):
        space = load_space(name)
        designs = space.sample(n, seed=0)
        hetero(space, designs[:50])                     # warm the network cache a little
        t_cold = time.perf_counter()
        hetero(space, designs)
        t_cold = (time.perf_counter() - t_cold) / n
        t_batch = best_of(lambda: hetero(space, designs), repeat) / n
        few = min(n, 200)
        t_one = best_of(lambda: [hetero(space, [d]) for d in designs[:few]], repeat) / few
        lines.append(f"  {name}: backend {1 / t_batch:8.0f} designs/s batched (first pass, "
                     f"building networks: {1 / t_cold:.0f}/s) vs {1 / t_one:6.0f}/s one by one "
                     f"(x{t_one / t_batch:.1f})")
    edge = get_backend("edge")
    space = load_space("nahas-mbv2-edge")
    designs = space.sample(n, seed=0)
    edge(space, designs)
    t_edge = best_of(lambda: edge(space, designs), repeat) / n
    lines.append(f"  peer: edge backend on nahas-mbv2-edge {1 / t_edge:8.0f} designs/s batched")
    return lines


def infeasible(n: int) -> list[str]:
    lines = [f"== infeasible fraction under uniform sampling ({n} designs, seed 0)"]
    b = get_backend("hetero")
    for name in ("nasaic-w1", "nasaic-w2", "nasaic-w3"):
        space = load_space(name)
        r = b(space, space.sample(n, seed=0))
        pes_rule = np.array(["total PEs" in s for s in r.reason])
        bw_rule = np.array(["total NoC bandwidth" in s for s in r.reason])
        lines.append(f"  {name}: {1 - r.feasible.mean():.3f} infeasible (PE budget "
                     f"{pes_rule.mean():.3f}, bandwidth budget {bw_rule.mean():.3f}, both "
                     f"{(pes_rule & bw_rule).mean():.3f})")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--n-infeasible", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    lines = [f"machine: {platform.processor() or platform.machine()}, python "
             f"{platform.python_version()}, numpy {np.__version__}; 2-core Xeon sandbox, CPU"]
    for w in ("nasaic-w1", "nasaic-w2"):
        lines += compare(w, args.networks, args.seed)
    lines += throughput(args.n, args.repeat)
    lines += infeasible(args.n_infeasible)
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
