"""Rank fidelity of the analytical edge models against ZigZag on MobileNetV2.

    python benchmarks/bench_fidelity.py [--n 36] [--seed 0] [--reuse]

Draws ``--n`` accelerator configurations from the hardware parameters of ``nahas-mbv2-edge``
(seeded), runs ZigZag (``moo_cosearch.hardware.zigzag``) on the default MobileNetV2 for each, and
compares, across configurations, the network latency and energy of

* ``edge-dataflow`` with ZigZag's DRAM convention (``layer_by_layer=True``: like-for-like),
* ``edge-dataflow`` with its default residency rules,
* the v1 ``edge`` model,

by Spearman and Kendall rank correlation, and per layer kind (conv / pwconv / dwconv / fc) over
all (configuration, layer) pairs. ZigZag's raw per-layer outputs go to
``benchmarks/results/fidelity_zigzag_raw.jsonl``; ``--reuse`` recomputes the statistics from that
file without re-running ZigZag (ZigZag's numbers do not depend on our models). The summary goes to
``benchmarks/results/fidelity.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np

from moo_cosearch import load_space
from moo_cosearch.networks import stack_layers
from moo_cosearch.hardware.dataflow import dataflow_cost
from moo_cosearch.hardware.edge import EDGE_PARAMS, edge_cost
from moo_cosearch.networks import build_network

RESULTS = Path(__file__).parent / "results"
KINDS = ("conv", "pwconv", "dwconv", "fc")


def _rank(a: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank)."""
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a))
    sa = a[order]
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and sa[j + 1] == sa[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0
        i = j + 1
    return ranks


def spearman_kendall(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman rho and Kendall tau-b (scipy when importable, else numpy)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    try:
        from scipy.stats import kendalltau, spearmanr
        return float(spearmanr(x, y).statistic), float(kendalltau(x, y).statistic)
    except ImportError:  # pragma: no cover
        rx, ry = _rank(x), _rank(y)
        rho = float(np.corrcoef(rx, ry)[0, 1])
        dx = np.sign(x[:, None] - x[None, :])
        dy = np.sign(y[:, None] - y[None, :])
        num = (dx * dy).sum()
        tau = float(num / math.sqrt((dx != 0).sum() * (dy != 0).sum()))
        return rho, tau


def configurations(n: int, seed: int) -> list[dict[str, float]]:
    space = load_space("nahas-mbv2-edge")
    return [{p: float(d[p]) for p in EDGE_PARAMS} for d in space.sample(n, seed=seed)]


def run_zigzag(configs: list[dict[str, float]], raw: Path, lpf: int) -> None:
    from moo_cosearch.hardware.zigzag import zigzag_network_cost

    net = build_network("mobilenetv2", {})
    with raw.open("w") as fh:
        for i, hw in enumerate(configs):
            t = time.perf_counter()
            try:
                r = zigzag_network_cost(net, hw, lpf_limit=lpf, per_layer=True)
                rec = {"hw": hw, **r}
            except Exception as exc:  # noqa: BLE001 - record and go on
                rec = {"hw": hw, "error": f"{type(exc).__name__}: {exc}"}
            rec["seconds"] = time.perf_counter() - t
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            print(f"[{i + 1}/{len(configs)}] {rec.get('latency_ms', 'ERR')} ms "
                  f"{rec['seconds']:.1f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=36)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lpf", type=int, default=3, help="ZigZag LOMA lpf_limit")
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    raw = RESULTS / "fidelity_zigzag_raw.jsonl"
    if not args.reuse:
        run_zigzag(configurations(args.n, args.seed), raw, args.lpf)
    recs = [json.loads(line) for line in raw.open()]
    ok = [r for r in recs if "error" not in r]
    net = build_network("mobilenetv2", {})
    kinds = np.array([ly.kind for ly in net])
    batch = stack_layers([net] * len(ok))
    hw = {p: np.array([r["hw"][p] for r in ok]) for p in EDGE_PARAMS}
    models = {
        "edge-dataflow (layer-by-layer)": dataflow_cost(batch, hw, per_layer=True,
                                                        layer_by_layer=True),
        "edge-dataflow (default)": dataflow_cost(batch, hw, per_layer=True),
        "edge v1": edge_cost(batch, hw, per_layer=True),
    }
    zz_lat = np.array([r["latency_ms"] for r in ok])
    zz_en = np.array([r["energy_mj"] for r in ok])
    zz_llat = np.array([r["layer_latency_ms"] for r in ok])
    zz_len = np.array([r["layer_energy_mj"] for r in ok])
    secs = np.array([r["seconds"] for r in recs])
    lines = [
        "# Fidelity of the analytical edge models against ZigZag (MobileNetV2)", "",
        f"machine: {platform.machine()} ({os.cpu_count()} cores, shared), numpy "
        f"{np.__version__}; {len(recs)} configurations drawn from nahas-mbv2-edge (seed "
        f"{args.seed}), {len(ok)} mapped by ZigZag; ZigZag {secs.mean():.1f} s per network "
        f"(mean).", "",
        "## Across configurations (network totals)", "",
        "| model | latency Spearman | latency Kendall | energy Spearman | energy Kendall | "
        "median latency ratio ours/ZigZag | median energy ratio |",
        "|---|---|---|---|---|---|---|"]
    for name, r in models.items():
        ls, lk = spearman_kendall(r.latency_ms, zz_lat)
        es, ek = spearman_kendall(r.energy_mj, zz_en)
        lines.append(f"| {name} | {ls:.3f} | {lk:.3f} | {es:.3f} | {ek:.3f} | "
                     f"{np.median(r.latency_ms / zz_lat):.2f} | "
                     f"{np.median(r.energy_mj / zz_en):.2f} |")
    lines += ["", "## Per layer kind (all configuration x layer pairs, edge-dataflow "
              "layer-by-layer; energy per layer only for edge-dataflow)", "",
              "| kind | pairs | latency Spearman | latency Kendall | energy Spearman | "
              "energy Kendall | median latency ratio | median energy ratio |",
              "|---|---|---|---|---|---|---|---|"]
    r = models["edge-dataflow (layer-by-layer)"]
    ours_le = r.extra["mapping_energy_mj"][np.arange(len(ok))[:, None],
                                           np.arange(len(net))[None, :],
                                           _choice_index(r)]
    ours_ll = r.extra["layer_latency_ms"]
    for kind in KINDS:
        sel = kinds == kind
        a, b = ours_ll[:, sel].ravel(), zz_llat[:, sel].ravel()
        c, d = ours_le[:, sel].ravel(), zz_len[:, sel].ravel()
        ls, lk = spearman_kendall(a, b)
        es, ek = spearman_kendall(c, d)
        lines.append(f"| {kind} | {a.size} | {ls:.3f} | {lk:.3f} | {es:.3f} | {ek:.3f} | "
                     f"{np.median(a / b):.2f} | {np.median(c / d):.2f} |")
    # largest disagreements, per layer (log ratio of latency), for the write-up
    ratio = np.log(ours_ll / zz_llat)
    worst = np.argsort(-np.abs(ratio), axis=None)[:8]
    lines += ["", "## Largest per-layer latency disagreements (edge-dataflow layer-by-layer)", "",
              "| config | layer | kind | ours ms | ZigZag ms | ours mapping | bound |",
              "|---|---|---|---|---|---|---|"]
    for flat in worst:
        i, j = np.unravel_index(flat, ratio.shape)
        hwi = {p: ok[i]["hw"][p] for p in EDGE_PARAMS}
        t_dram = r.extra["layer_dram_bytes"][i, j] / (hwi["io_bandwidth_gbyte_s"] * 1e9) * 1e3
        bound = "DRAM" if t_dram >= ours_ll[i, j] * (1 - 1e-9) else "compute"
        lines.append(f"| {json.dumps(hwi)} | {net[j].name} | {net[j].kind} | "
                     f"{ours_ll[i, j]:.4g} | {zz_llat[i, j]:.4g} | "
                     f"{r.extra['layer_mapping'][i, j]} | {bound} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "fidelity.md").write_text(text)
    print(text)


def _choice_index(r) -> np.ndarray:
    from moo_cosearch.hardware.dataflow import MAPPINGS

    idx = {m: q for q, m in enumerate(MAPPINGS)}
    names = r.extra["layer_mapping"]
    return np.vectorize(lambda s: idx.get(s, 0))(names)


if __name__ == "__main__":
    main()
