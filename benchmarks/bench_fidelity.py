"""Rank fidelity of the analytical edge models against ZigZag on three networks.

    python benchmarks/bench_fidelity.py [--n 50] [--seed 0] [--lpf 2] [--jobs 2] [--reuse]

Draws accelerator configurations from the hardware parameters of ``nahas-mbv2-edge`` (seeded;
the same configurations for every network), runs our ZigZag backend
(``moo_cosearch.hardware.zigzag``, layer by layer, each distinct layer shape mapped once) on

* ``mobilenetv2``: MobileNetV2 1.0 at 224 px (the NAHAS backbone),
* ``efficientnet-b0``: EfficientNet-B0 at 224 px (squeeze-excite, 5x5 depthwise),
* ``anb``: one Accel-NASBench MnasNet-space network, drawn from ``anb-mnas-edge`` with
  ``--anb-seed`` (its parameters are printed),

until ``--n`` configurations are mapped on every network (ZigZag's LOMA cannot map some
layer / array combinations; those configurations are counted and left out), and compares,
across configurations and per network, the network latency and energy of

* ``edge-dataflow (layer-by-layer)``: ZigZag's DRAM convention (every layer's operands start and
  end in DRAM): the like-for-like comparison,
* ``edge-dataflow``: its default residency rules (weights and activations that fit stay on chip),
* ``edge`` (v1): the NAHAS-style roofline model,

by Spearman and Kendall rank correlation and by the ratio of absolute latencies ours / ZigZag
(median, interquartile range, min-max), and per layer kind (conv / pwconv / dwconv / fc / other)
over all (configuration, layer) pairs. Conventions of each model: moo_cosearch/hardware/README.md.

ZigZag's raw per-layer outputs go to ``benchmarks/results/fidelity_zigzag_raw.jsonl`` (one line
per network and configuration; a rerun continues from it); ``--reuse`` recomputes the statistics
from that file without running ZigZag (its numbers do not depend on our models). The summary goes
to ``benchmarks/results/fidelity.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau, spearmanr

from moo_cosearch import load_space
from moo_cosearch.hardware.dataflow import MAPPINGS, dataflow_cost
from moo_cosearch.hardware.edge import EDGE_PARAMS, edge_cost
from moo_cosearch.networks import Layer, build_network, stack_layers

RESULTS = Path(__file__).parent / "results"
RAW = RESULTS / "fidelity_zigzag_raw.jsonl"
NETWORKS = ("mobilenetv2", "efficientnet-b0", "anb")
KINDS = ("conv", "pwconv", "dwconv", "fc")


def spearman_kendall(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman rho and Kendall tau-b."""
    return float(spearmanr(x, y).statistic), float(kendalltau(x, y).statistic)


def anb_params(seed: int) -> dict[str, Any]:
    """The network parameters of one design drawn from ``anb-mnas-edge``."""
    space = load_space("anb-mnas-edge")
    design = space.sample(1, seed=seed)[0]
    return {p.name: design[p.name] for p in space.group("nas")}


def network(name: str, anb_seed: int) -> tuple[Layer, ...]:
    if name == "anb":
        return build_network("anb-mnas", anb_params(anb_seed))
    return build_network(name, {})


def configurations(n: int, seed: int) -> list[dict[str, float]]:
    space = load_space("nahas-mbv2-edge")
    return [{p: float(d[p]) for p in EDGE_PARAMS} for d in space.sample(n, seed=seed)]


def _hw_key(hw: dict[str, float]) -> str:
    return json.dumps({p: float(hw[p]) for p in EDGE_PARAMS}, sort_keys=True)


def _zigzag_one(task: tuple[list[str], int, dict[str, float], int]) -> list[dict[str, Any]]:
    """ZigZag on the named networks and one configuration, in one process: a layer shape the
    networks share is mapped once (the backend's per-layer cache)."""
    from moo_cosearch.hardware.zigzag import zigzag_network_cost

    names, anb_seed, hw, lpf = task
    out = []
    for name in names:
        t = time.perf_counter()
        try:
            rec = {"network": name, "hw": hw,
                   **zigzag_network_cost(network(name, anb_seed), hw, lpf_limit=lpf,
                                         per_layer=True)}
        except Exception as exc:  # noqa: BLE001 - record and go on
            rec = {"network": name, "hw": hw, "error": f"{type(exc).__name__}: {exc}"[:300]}
        rec["seconds"] = time.perf_counter() - t
        rec["lpf_limit"] = lpf
        out.append(rec)
    return out


def _load_raw() -> list[dict[str, Any]]:
    if not RAW.exists():
        return []
    return [r for r in (json.loads(line) for line in RAW.open()) if "network" in r]


def run_zigzag(n: int, seed: int, lpf: int, anb_seed: int, jobs: int, max_draw: int) -> None:
    """ZigZag on the configurations in draw order, in chunks, until every network has ``n``
    mapped ones (or ``max_draw`` configurations were tried); records already in the raw file
    are kept and not run again."""
    done = {(r["network"], _hw_key(r["hw"])): r for r in _load_raw()}
    configs = configurations(max_draw, seed)
    with ProcessPoolExecutor(jobs) as pool, RAW.open("a") as fh:
        start = 0
        while start < len(configs):
            mapped = {net: sum(1 for c in configs[:start]
                               if "error" not in done.get((net, _hw_key(c)), {"error": 1}))
                      for net in NETWORKS}
            if min(mapped.values()) >= n:
                break
            need = n - min(mapped.values())
            chunk = configs[start:start + max(jobs, need)]
            start += len(chunk)
            tasks = [([net for net in NETWORKS if (net, _hw_key(hw)) not in done],
                      anb_seed, hw, lpf) for hw in chunk]
            for recs in pool.map(_zigzag_one, [t for t in tasks if t[0]]):
                for rec in recs:
                    done[(rec["network"], _hw_key(rec["hw"]))] = rec
                    fh.write(json.dumps(rec) + "\n")
                    fh.flush()
                    print(f"[{rec['network']}] {rec.get('latency_ms', 'unmapped')} ms "
                          f"{rec['seconds']:.1f} s", flush=True)


def _mapping_index(r) -> np.ndarray:
    idx = {m: q for q, m in enumerate(MAPPINGS)}
    return np.vectorize(lambda s: idx.get(s, 0))(r.extra["layer_mapping"])


def _ratio_cells(ratio: np.ndarray) -> str:
    q1, med, q3 = np.percentile(ratio, [25, 50, 75])
    return f"{med:.2f} | [{q1:.2f}, {q3:.2f}] | [{ratio.min():.2f}, {ratio.max():.2f}]"


def network_tables(name: str, net: tuple[Layer, ...], ok: list[dict[str, Any]]
                   ) -> tuple[list[str], dict[str, Any]]:
    """Lines of the per-network table, and the layer-level arrays for the pooled table."""
    batch = stack_layers([net] * len(ok))
    hw = {p: np.array([r["hw"][p] for r in ok]) for p in EDGE_PARAMS}
    models = {
        "edge-dataflow (layer-by-layer)": dataflow_cost(batch, hw, per_layer=True,
                                                        layer_by_layer=True),
        "edge-dataflow (default residency)": dataflow_cost(batch, hw, per_layer=True),
        "edge v1": edge_cost(batch, hw, per_layer=True),
    }
    zz_lat = np.array([r["latency_ms"] for r in ok])
    zz_en = np.array([r["energy_mj"] for r in ok])
    lines = []
    for model, r in models.items():
        ls, lk = spearman_kendall(r.latency_ms, zz_lat)
        es, _ = spearman_kendall(r.energy_mj, zz_en)
        lines.append(f"| {name} | {model} | {len(ok)} | {ls:.3f} | {lk:.3f} | "
                     f"{_ratio_cells(r.latency_ms / zz_lat)} | {es:.3f} | "
                     f"{np.median(r.energy_mj / zz_en):.2f} |")
    lbl = models["edge-dataflow (layer-by-layer)"]
    rows = np.arange(len(ok))[:, None]
    layer = {
        "kinds": np.broadcast_to(np.array([ly.kind for ly in net]), (len(ok), len(net))),
        "ours_lat": lbl.extra["layer_latency_ms"],
        "ours_en": lbl.extra["mapping_energy_mj"][rows, np.arange(len(net))[None, :],
                                                  _mapping_index(lbl)],
        "zz_lat": np.array([r["layer_latency_ms"] for r in ok]),
        "zz_en": np.array([r["layer_energy_mj"] for r in ok]),
        "dram_ms": lbl.extra["layer_dram_bytes"]
        / (hw["io_bandwidth_gbyte_s"][:, None] * 1e9) * 1e3,
    }
    return lines, layer


def report(n_target: int, seed: int, anb_seed: int, max_draw: int) -> str:
    recs = _load_raw()
    configs = {_hw_key(c) for c in configurations(max_draw, seed)}
    lines = [
        "# Fidelity of the analytical edge models against ZigZag (three networks)", "",
        f"machine: {platform.machine()} ({os.cpu_count()} cores, shared), numpy "
        f"{np.__version__}; configurations drawn from the hardware parameters of "
        f"nahas-mbv2-edge (seed {seed}); ZigZag layer by layer (LOMA lpf_limit "
        f"{sorted({r['lpf_limit'] for r in recs})}), each distinct layer shape mapped once. "
        f"Accel-NASBench network: anb-mnas-edge draw seed {anb_seed}, "
        f"`{json.dumps(anb_params(anb_seed))}`.", "",
        "Conventions (moo_cosearch/hardware/README.md): ZigZag and `edge-dataflow "
        "(layer-by-layer)` start and end every layer in DRAM; `edge-dataflow` by default and "
        "`edge` keep weights and activations on chip when they fit the local memories; "
        "`edge` prices a layer as the larger of its compute time and its DRAM time (a "
        "roofline). Ratios are ours / ZigZag.", "",
        "## Across configurations (network totals)", "",
        "| network | model | configs | latency Spearman | latency Kendall | latency ratio "
        "median | IQR | min-max | energy Spearman | energy ratio median |",
        "|---|---|---|---|---|---|---|---|---|---|"]
    layers = []
    counts = []
    for name in NETWORKS:
        mine = [r for r in recs if r["network"] == name and _hw_key(r["hw"]) in configs]
        ok = [r for r in mine if "error" not in r]
        secs = np.array([r["seconds"] for r in mine]) if mine else np.zeros(1)
        counts.append(f"{name}: {len(ok)} of {len(mine)} mapped, ZigZag {secs.mean():.1f} s "
                      f"per network (mean)")
        if len(ok) < 3:
            continue
        net = network(name, anb_seed)
        rows, layer = network_tables(name, net, ok)
        lines += rows
        layers.append(layer)
    lines += ["", "; ".join(counts) + f" (target {n_target} mapped per network).", "",
              "## Per layer kind (all networks, configuration x layer pairs, edge-dataflow "
              "layer-by-layer)", "",
              "| kind | pairs | latency Spearman | latency Kendall | latency ratio median | "
              "IQR | min-max | share DRAM-bound (ours) | energy Spearman |",
              "|---|---|---|---|---|---|---|---|---|"]
    if layers:
        cat = {k: np.concatenate([lay[k].ravel() for lay in layers]) for k in layers[0]}
        bound = cat["dram_ms"] >= cat["ours_lat"] * (1 - 1e-9)
        ratio = cat["ours_lat"] / cat["zz_lat"]
        by_bound = [f"| ours {what} | {sel.sum()} | {_ratio_cells(ratio[sel])} |"
                    for what, sel in (("DRAM-bound", bound), ("compute-bound", ~bound))
                    if sel.any()]
        kinds = [k for k in KINDS if (cat["kinds"] == k).any()]
        others = sorted(set(cat["kinds"]) - set(KINDS))
        for kind in kinds + (["other: " + ", ".join(others)] if others else []):
            sel = (np.isin(cat["kinds"], others) if kind.startswith("other")
                   else cat["kinds"] == kind)
            a, b = cat["ours_lat"][sel], cat["zz_lat"][sel]
            keep = (a > 0) & (b > 0)
            ls, lk = spearman_kendall(a, b)
            es, _ = spearman_kendall(cat["ours_en"][sel], cat["zz_en"][sel])
            dram = np.mean(cat["dram_ms"][sel] >= a * (1 - 1e-9))
            lines.append(f"| {kind} | {sel.sum()} | {ls:.3f} | {lk:.3f} | "
                         f"{_ratio_cells(a[keep] / b[keep])} | {dram:.2f} | {es:.3f} |")
        lines += ["", "## Where ours is optimistic: layers by what bounds them in our model (all "
                  "networks, edge-dataflow layer-by-layer)", "",
                  "| layers | pairs | latency ratio median | IQR | min-max |", "|---|---|---|---|---|",
                  *by_bound, "",
                  "Where our model says the DRAM transfer bounds a layer, it agrees with ZigZag; "
                  "where it says compute does, it assumes every MAC of the array busy (only "
                  "ceil-division losses), while ZigZag's spatial mapping of the layer's loops "
                  "onto the fixed 4-D array (SIMD x 4 x lanes x PEs) leaves MACs idle and adds "
                  "on/off-loading stalls."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50, help="mapped configurations per network")
    ap.add_argument("--max-draw", type=int, default=200, help="configurations tried at most")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--anb-seed", type=int, default=0)
    ap.add_argument("--lpf", type=int, default=2, help="ZigZag LOMA lpf_limit")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--reuse", action="store_true", help="statistics from the raw file only")
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if not args.reuse:
        run_zigzag(args.n, args.seed, args.lpf, args.anb_seed, args.jobs, args.max_draw)
    text = report(args.n, args.seed, args.anb_seed, args.max_draw)
    (RESULTS / "fidelity.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
