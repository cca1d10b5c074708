"""Dataflow-aware cost model (v2) of the NAHAS edge accelerator: per-layer best mapping.

Same accelerator and parameters as the v1 model (:mod:`moo_cosearch.hardware.edge`, whose
constants, area and SRAM-energy functions are imported, not copied). Where v1 fixes one mapping
(output pixels over PEs and lanes, output channels over SIMD units), v2 evaluates a family of
four mappings per layer and keeps, per layer, the valid one with the lowest latency (ties: the
lowest energy), in one numpy pass over (designs x layers x mappings).

Notation per layer: P = pes_x*pes_y, Ln lanes per PE, S SIMD units per lane (each a 4-way MAC),
K output channels (channels, for the channel-wise dwconv/pool/add/mul), Cg reduction channels
(in_ch/groups for conv/pwconv/fc, 1 for channel-wise kinds), k kernel, OH x OW output, PIX =
OH*OW, s = min(S, K) active SIMD units. A SIMD unit computes one output channel and reduces
4 products per cycle: R = ceil(Cg/4)*k*k cycles per output for conv/pwconv/fc, ceil(k*k/4) for
dwconv/pool, 1 for add/mul; R_row = R with one filter row (k instead of k*k).

Mappings (spatial unrolling of PE array / lanes / SIMD; the loop order follows from what stays):

=====  ===========================  =====================================================
name   PE array / lanes / SIMD      compute cycles
=====  ===========================  =====================================================
os     pixels / pixels / K          ceil(PIX/(P*Ln)) * ceil(K/S) * R   (output-stationary;
                                    = v1 for conv/dw)
ws     K / pixels / K               ceil(K/(P*S)) * ceil(PIX/Ln) * R   (weight-stationary)
rs     (FY on x, OY on y) / OX / K  ceil(k/px) * ceil(OH/py) * ceil(OW/Ln) * ceil(K/S) * R_row
                                    (row-stationary, Eyeriss-style; partial sums of the
                                    filter rows are summed across PE x)
cp     K / K / K                    ceil(K/(P*Ln*S)) * PIX * R         (channel-parallel; = v1
                                    for fc)
=====  ===========================  =====================================================

Register file (per lane; the mapping is invalid if this exceeds ``register_file_kb``): the
weights of one reduction step, the input window they read and one int32 accumulator per unit:
conv/pwconv/fc ``s*4*t + 4*t + 4*s``; dwconv ``s*t + s*t + 4*s``; pool ``s*t + 4*s``; add/mul
``2*s + 4*s``, with t = k*k taps (k for ``rs``, which holds one filter row). The lane's weight
slice (``s*Cg*t``, 0 for pool/add/mul) stays in the RF when it fits beside that working set;
otherwise weights are re-read from local memory at every temporal pixel step.

Local memory (per PE; invalid if the minimum working set exceeds ``local_memory_mb``): os: one
weight tile ``min(s*Cg*k*k, W)`` + k input rows + one output row (the v1 rule); ws: the PE's
whole weight share ``W / Pk`` (it is stationary) + k input rows + one output row, Pk =
min(P, ceil(K/S)) PEs with channels; rs: one filter row per unit ``s*Cg*k`` + one input row +
one output row; cp: the PE's weight share ``W / Pc`` (Pc = min(P, ceil(K/(Ln*S)))) + the input
window of one pixel ``Cg*k*k`` + one output per active unit ``Ln*s``. Input rows are
``IW*Cg`` bytes each for conv/pwconv/fc and ``IW*min(K, S)`` for channel-wise kinds (two
operands for add/mul).

Local-memory traffic (bytes over all PEs; a read from a PE's LM is broadcast to its lanes):
weights ``W * copies * refetch`` with copies = PEs that need the same weight (os: min(P,
ceil(PIX/Ln)); ws, cp: 1; rs: min(py, OH)) and refetch = 1 when the lane slice stays in the RF,
else the temporal pixel steps (os: ceil(PIX/(P*Ln)); ws: ceil(PIX/Ln); rs: ceil(OH/py) *
ceil(OW/Ln); cp: PIX). Inputs, for conv/pwconv/fc: ``I * ceil(K/S)`` (os; re-read per output-
channel group), ``I * Pk * ceil(K/(P*S))`` (ws: every PE reads the whole input per pass),
``I * ceil(K/S) * ceil(k/px)`` (rs), ``I * Pc * ceil(K/(P*Ln*S))`` (cp); channel-wise kinds read
their input once (``I``). Outputs: ``O``, times min(px, k) for rs (partial sums).

DRAM: a weight tile is what fits in half of each PE's LM, over the PEs that split the weights:
n_w = ceil(W / (d * LM/2)), d = 1 (os, weights replicated), Pk (ws), min(px, k) (rs), Pc (cp).
Default (``layer_by_layer=False``): v1's residency rules (all weights resident when the network's
weights fit in P*LM/2; activations stay in LM when (I+O)/P <= LM/2), with a non-resident layer
re-reading its input once per weight tile (``I * n_w``). ``layer_by_layer=True`` is ZigZag's
convention: every layer reads W and ``I * n_w`` from DRAM and writes O. Latency per layer =
max(cycles / 0.8 GHz, DRAM bytes / bandwidth).

Energy = MACs*e_mac + vector ops*e_vec (``energy_mac_mj``) + 2 RF bytes per MAC * e_rf
(``energy_rf_mj``) + LM bytes * e_lm (``energy_lm_mj``) + DRAM bytes * e_dram
(``energy_dram_mj``), e_rf / e_lm from :func:`~moo_cosearch.hardware.edge.sram_pj_per_byte`.
Area as v1, with its breakdown in ``extra``.

A design is infeasible when some layer has no valid mapping, or has a shape outside the family
(grouped conv/pwconv with 1 < groups); ``reason`` names the first such layer and each mapping's
failed check. Costs of infeasible designs are still computed (best mapping ignoring capacity).

Conventions shared by all backends (units, per-PE or shared memories, weight residency,
layer-by-layer or pipelined execution, what is not modelled): ``moo_cosearch/hardware/README.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..networks import LAYER_KINDS, LayerBatch
from ._base import CostBackend
from ._registry import register_backend
from ._result import COST_FIELDS, CostResult
from .edge import (ACC_BYTES, BASELINE, CLOCK_HZ, E_DRAM_PJ_PER_BYTE, E_MAC_PJ, E_VEC_PJ,
                   EDGE_PARAMS, KB, MACS_PER_SIMD, MB, RF_BYTES_PER_MAC, _describe, _hw_arrays,
                   edge_area_breakdown, edge_inputs, peak_tops, sram_pj_per_byte)

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["MAPPINGS", "DataflowBackend", "dataflow_cost"]

#: Mapping family, in the order of the last axis of per-mapping arrays.
MAPPINGS: tuple[str, ...] = ("os", "ws", "rs", "cp")
_K = {name: i for i, name in enumerate(LAYER_KINDS)}
_ENERGY_PARTS = ("energy_mac_mj", "energy_rf_mj", "energy_lm_mj", "energy_dram_mj")
_AREA_PARTS = ("area_mac_arrays_mm2", "area_register_files_mm2", "area_local_memories_mm2")


def _cdiv(a: Any, b: Any) -> np.ndarray:
    return np.ceil(a / b)


def dataflow_cost(layers: LayerBatch, hw: Mapping[str, Any], *, per_layer: bool = False,
                  layer_by_layer: bool = False) -> CostResult:
    """Latency, energy, area and feasibility of n designs, best mapping per layer.

    Args:
        layers: n padded networks, one row per design.
        hw: every name in :data:`~moo_cosearch.hardware.edge.EDGE_PARAMS`, scalars or (n,).
        per_layer: also return (n, L) ``layer_mapping`` (names, ``""`` on padding),
            ``layer_latency_ms``, ``layer_cycles``, ``layer_dram_bytes``, ``layer_lm_bytes``
            and (n, L, M) ``mapping_latency_ms``, ``mapping_cycles``, ``mapping_energy_mj``,
            ``mapping_valid`` (M = len(:data:`MAPPINGS`)).
        layer_by_layer: every layer reads its weights and input from DRAM and writes its output
            there (ZigZag's convention) instead of the v1 residency rules.

    Returns:
        A :class:`CostResult`; ``extra`` holds (n,) ``energy_mac_mj``, ``energy_rf_mj``,
        ``energy_lm_mj``, ``energy_dram_mj``, ``area_mac_arrays_mm2``,
        ``area_register_files_mm2``, ``area_local_memories_mm2``, ``peak_tops``,
        ``utilization``, ``dram_bytes``, ``lm_bytes``, ``macs``, ``compute_cycles``.

    Raises:
        ValueError: a hardware parameter is missing, non-numeric, non-positive or of the wrong
            length.
    """
    n, n_layers = layers.shape
    h = {k: v[:, None, None] for k, v in _hw_arrays(hw, EDGE_PARAMS, n).items()}
    f = {name: getattr(layers, name).astype(np.float64)[:, :, None] for name in (
        "in_ch", "out_ch", "in_w", "out_h", "out_w", "kernel", "groups", "macs", "vector_ops",
        "input_bytes", "output_bytes", "weight_bytes")}
    kind, valid = layers.kind[:, :, None], layers.valid[:, :, None]
    is_mac = (kind == _K["conv"]) | (kind == _K["pwconv"]) | (kind == _K["fc"])
    is_dw, is_pool = kind == _K["dwconv"], kind == _K["pool"]
    is_elt = (kind == _K["add"]) | (kind == _K["mul"])
    m = np.arange(len(MAPPINGS))
    os_, ws_, rs_ = (m == 0), (m == 1), (m == 2)   # (M,) masks, broadcast (cp: the rest)

    px, py, ln, simd = h["pes_x"], h["pes_y"], h["compute_lanes"], h["simd_units"]
    pes = px * py
    rf, lm = h["register_file_kb"] * KB, h["local_memory_mb"] * MB
    kch, k, oh, ow = f["out_ch"], f["kernel"], f["out_h"], f["out_w"]
    cg = np.where(is_mac, f["in_ch"] / np.maximum(f["groups"], 1.0), 1.0)
    pix = oh * ow
    w, i_b, o_b = f["weight_bytes"], f["input_bytes"], f["output_bytes"]
    s = np.minimum(simd, kch)
    taps = np.where(rs_, k, k * k)                       # taps held at once (rs: one row)

    # ---- compute cycles, (n, L, M) ----
    red = np.select([is_mac, is_dw | is_pool], [_cdiv(cg, MACS_PER_SIMD) * taps,
                                                 _cdiv(taps, MACS_PER_SIMD)], default=1.0)
    pk = np.maximum(1.0, np.minimum(pes, _cdiv(kch, simd)))        # PEs with channels (ws)
    pc = np.maximum(1.0, np.minimum(pes, _cdiv(kch, ln * simd)))   # PEs with channels (cp)
    steps = np.select([os_, ws_, rs_], [
        _cdiv(pix, pes * ln) * _cdiv(kch, simd),
        _cdiv(kch, pes * simd) * _cdiv(pix, ln),
        _cdiv(k, px) * _cdiv(oh, py) * _cdiv(ow, ln) * _cdiv(kch, simd)],
        default=_cdiv(kch, pes * ln * simd) * pix)
    cycles = np.where(valid, steps * red, 0.0)
    pix_steps = np.select([os_, ws_, rs_], [_cdiv(pix, pes * ln), _cdiv(pix, ln),
                                            _cdiv(oh, py) * _cdiv(ow, ln)], default=pix)

    # ---- register file ----
    rf_w = np.select([is_mac, is_dw], [s * MACS_PER_SIMD * taps, s * taps], default=0.0)
    rf_win = np.select([is_mac, is_dw | is_pool, is_elt],
                       [MACS_PER_SIMD * taps, s * taps, 2 * s], default=0.0)
    rf_need = rf_w + rf_win + ACC_BYTES * s
    slice_b = np.select([is_mac, is_dw], [s * cg * taps, s * taps], default=0.0)
    w_in_rf = rf_need + slice_b <= rf
    rf_ok = rf_need <= rf

    # ---- local memory: minimum working set per PE ----
    rows_in = np.select([is_mac, is_elt], [f["in_w"] * cg, 2 * f["in_w"] * np.minimum(kch, simd)],
                        default=f["in_w"] * np.minimum(kch, simd))
    out_row = ow * s
    lm_w = np.select([os_, ws_, rs_], [np.minimum(s * cg * k * k, w), w / pk,
                                       np.minimum(s * cg * k, w)], default=w / pc)
    lm_io = np.select([os_, ws_, rs_], [k * rows_in + out_row, k * rows_in + out_row,
                                        rows_in + out_row],
                      default=cg * k * k + ln * s)
    lm_need = lm_w + lm_io
    lm_ok = lm_need <= lm
    ok = rf_ok & lm_ok

    # ---- local-memory traffic ----
    copies = np.select([os_, rs_], [np.minimum(pes, _cdiv(pix, ln)), np.minimum(py, oh)],
                       default=1.0)
    w_lm = w * copies * np.where(w_in_rf, 1.0, pix_steps)
    i_factor = np.select([os_, ws_, rs_], [
        _cdiv(kch, simd), pk * _cdiv(kch, pes * simd), _cdiv(kch, simd) * _cdiv(k, px)],
        default=pc * _cdiv(kch, pes * ln * simd))
    i_lm = i_b * np.where(is_mac, i_factor, 1.0)
    o_lm = o_b * np.where(rs_, np.minimum(px, k), 1.0)
    lm_bytes = np.where(valid, w_lm + i_lm + o_lm, 0.0)

    # ---- DRAM traffic ----
    half_lm = lm / 2
    split = np.select([os_, ws_, rs_], [np.ones_like(pk), pk, np.maximum(1.0, np.minimum(px, k))],
                      default=pc)
    n_w = np.maximum(1.0, _cdiv(w, split * half_lm))
    if layer_by_layer:
        dram = w + i_b * n_w + o_b
    else:
        w_res = np.where(valid, w, 0.0)[:, :, 0].sum(axis=1)[:, None, None] <= pes * half_lm
        res = valid[:, :, 0] & ((i_b + o_b)[:, :, 0] / pes[:, :, 0] <= half_lm[:, :, 0])
        none = np.zeros((n, 1), dtype=bool)
        prev_res = np.concatenate([none, res[:, :-1]], axis=1)
        next_res = np.concatenate([res[:, 1:], none], axis=1)
        read_in = (~prev_res | ~res)[:, :, None]
        write_out = (~next_res | ~res)[:, :, None]
        i_dram = np.where(read_in, np.where(res[:, :, None], i_b, i_b * n_w), 0.0)
        dram = np.where(w_res, 0.0, w) + i_dram + np.where(write_out, o_b, 0.0)
    dram = np.where(valid, dram, 0.0)

    # ---- latency and energy per mapping ----
    t_s = np.maximum(cycles / CLOCK_HZ, dram / (h["io_bandwidth_gbyte_s"] * 1e9))
    e_rf, e_lm = sram_pj_per_byte(rf), sram_pj_per_byte(lm)
    macs = np.where(valid, f["macs"], 0.0)
    e_mac = macs * E_MAC_PJ + np.where(valid, f["vector_ops"], 0.0) * E_VEC_PJ
    e_rfp = macs * RF_BYTES_PER_MAC * e_rf
    e_lmp = lm_bytes * e_lm
    e_dram = dram * E_DRAM_PJ_PER_BYTE
    e_tot = e_mac + e_rfp + e_lmp + e_dram

    # ---- choice: lowest latency among valid mappings, then lowest energy ----
    unsupported = valid[:, :, 0] & ((kind[:, :, 0] == _K["conv"]) | (kind[:, :, 0] == _K["pwconv"])) \
        & (f["groups"][:, :, 0] > 1)
    any_ok = ok.any(axis=2)
    pool_ok = np.where(any_ok[:, :, None], ok, True)     # no valid mapping: cost as if it ran
    t_masked = np.where(pool_ok, t_s, np.inf)
    t_best = t_masked.min(axis=2, keepdims=True)
    tie = t_masked <= t_best * (1 + 1e-12)
    choice = np.argmin(np.where(tie, e_tot, np.inf), axis=2)[:, :, None]

    def pick(a: np.ndarray) -> np.ndarray:
        return np.take_along_axis(np.broadcast_to(a, t_s.shape), choice, axis=2)[:, :, 0]

    layer_s = pick(t_s)
    latency_ms = layer_s.sum(axis=1) * 1e3
    parts = {name: pick(e).sum(axis=1) * 1e-9 for name, e in
             zip(_ENERGY_PARTS, (e_mac, e_rfp, e_lmp, e_dram))}
    energy_mj = sum(parts.values())
    cyc = pick(cycles)
    dram_l = pick(dram)
    lm_l = pick(lm_bytes)

    # ---- feasibility and reasons ----
    fail = valid[:, :, 0] & (~any_ok | unsupported)
    feasible = ~fail.any(axis=1)
    first = np.argmax(fail, axis=1) if n_layers else np.zeros(n, dtype=np.int64)
    reasons = [""] * n
    for i in np.flatnonzero(~feasible):
        j = int(first[i])
        if unsupported[i, j]:
            msg = (f"grouped convolution (groups must be 1 or in_ch for the mapping family, "
                   f"got groups={int(f['groups'][i, j, 0])})")
        else:
            msgs = []
            for q, name in enumerate(MAPPINGS):
                why = []
                if not rf_ok[i, j, q]:
                    why.append(f"register file {h['register_file_kb'][i, 0, 0]:g} KB < "
                               f"{int(rf_need[i, j, q])} B")
                if not lm_ok[i, j, q]:
                    why.append(f"local memory {h['local_memory_mb'][i, 0, 0]:g} MB < "
                               f"{int(lm_need[i, j, q])} B")
                msgs.append(f"{name}: " + ", ".join(why))
            msg = "no mapping fits (" + "; ".join(msgs) + ")"
        reasons[i] = f"{_describe(layers, int(i), j)}: {msg}"

    lanes = (pes * ln)[:, 0, 0]
    peak_macs = lanes * simd[:, 0, 0] * MACS_PER_SIMD
    elapsed = latency_ms * 1e-3 * CLOCK_HZ
    total_macs = macs[:, :, 0].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(elapsed > 0, total_macs / (elapsed * peak_macs), 0.0)
    area = edge_area_breakdown(hw)
    extra: dict[str, Any] = dict(parts)
    for name, key in zip(_AREA_PARTS, ("mac_arrays", "register_files", "local_memories")):
        extra[name] = area[key] * np.ones(n)
    extra.update({"peak_tops": peak_tops(hw) * np.ones(n), "utilization": util,
                  "dram_bytes": dram_l.sum(axis=1), "lm_bytes": lm_l.sum(axis=1),
                  "macs": total_macs, "compute_cycles": cyc.sum(axis=1)})
    if per_layer:
        names = np.asarray(MAPPINGS)
        extra["layer_mapping"] = np.where(valid[:, :, 0], names[choice[:, :, 0]], "")
        extra["layer_latency_ms"] = layer_s * 1e3
        extra["layer_cycles"] = cyc
        extra["layer_dram_bytes"] = dram_l
        extra["layer_lm_bytes"] = lm_l
        extra["mapping_latency_ms"] = t_s * 1e3
        extra["mapping_cycles"] = np.broadcast_to(cycles, t_s.shape).copy()
        extra["mapping_energy_mj"] = e_tot * 1e-9
        extra["mapping_valid"] = np.broadcast_to(ok, t_s.shape) & valid
    total_area = sum(extra[a] for a in _AREA_PARTS)
    return CostResult(latency_ms=latency_ms, energy_mj=np.asarray(energy_mj, float),
                      area_mm2=total_area, feasible=feasible, reason=tuple(reasons), extra=extra)


class DataflowBackend(CostBackend):
    """The dataflow-aware edge model (:func:`dataflow_cost`), parameters as the ``edge`` backend.

    Args:
        layer_by_layer: ZigZag's DRAM convention instead of v1's residency rules (for
            comparisons with the ``zigzag`` backend).
    """

    name = "edge-dataflow"
    metrics = COST_FIELDS + _ENERGY_PARTS + _AREA_PARTS + (
        "peak_tops", "utilization", "dram_bytes", "lm_bytes")

    def __init__(self, layer_by_layer: bool = False) -> None:
        self.layer_by_layer = layer_by_layer

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> CostResult:
        _, layers, hw = edge_inputs(self.name, space, designs)
        return dataflow_cost(layers, hw, layer_by_layer=self.layer_by_layer)

    def reference(self, metric: str) -> float:
        if metric == "area_mm2" or metric in _AREA_PARTS:
            parts = edge_area_breakdown({k: np.array([v]) for k, v in BASELINE.items()})
            if metric == "area_mm2":
                return float(sum(p[0] for p in parts.values()))
            return float(parts[metric[5:-4]][0])
        if metric == "peak_tops":
            return float(peak_tops(BASELINE))
        return super().reference(metric)


register_backend("edge-dataflow", DataflowBackend)
