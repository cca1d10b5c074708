"""Analytical cost model (v1) of the NAHAS edge accelerator.

The accelerator (NAHAS, "Neural Architecture and Hardware Accelerator Search", ICLR 2021
submission, section 3.3 and Table 1) is a ``pes_x x pes_y`` array of
processing elements (PEs). Each PE has ``compute_lanes`` lanes sharing ``local_memory_mb`` of
local memory; each lane has a ``register_file_kb`` register file and ``simd_units`` SIMD units,
each a 4-way 8-bit MAC (4 MACs per cycle). Clock 0.8 GHz. ``io_bandwidth_gbyte_s`` is the DRAM
bandwidth in gigaBYTES per second. NAHAS Table 1 lists "I/O bandwidth (Gbps)" 5..25 without
saying bits or bytes; read literally as Gbit/s it would be 8x less bandwidth. We keep GB/s (an
edge accelerator with LPDDR4 has 10-25 GB/s) and name the unit in the parameter; the old name
``io_bandwidth_gbps`` is still accepted with a deprecation warning. The NAHAS
baseline (4x4 PEs, 4 lanes, 64 SIMD units, 32 KB RF, 2 MB local memory) peaks at
``2 * 16*4*64*4 * 0.8e9 = 26.2 TOPS``; its bandwidth is not published, :data:`BASELINE` assumes
10 GB/s. All data is 8-bit (1 byte per element); MB = 2**20 bytes, KB = 1024 bytes.

Model (per layer, layers run one after the other; padding rows of a :class:`LayerBatch` cost
nothing). P = pes_x*pes_y, Ln = lanes, S = SIMD units, sp = ceil(OH*OW / (P*Ln)) spatial steps
(output pixels are split over all lanes; each SIMD unit computes one output channel)::

    conv/pwconv  cycles = sp * ceil(Cout/S) * ceil((Cin/groups)/4) * k*k   (4-way MAC over Cin)
    dwconv, pool cycles = sp * ceil(C/S) * ceil(k*k/4)                      (4-way MAC over taps)
    fc           cycles = ceil(Cout / (P*Ln*S)) * ceil(Cin/4)
    add, mul     cycles = sp * ceil(C/S)

Memory, with W/I/O the weight/input/output bytes and LM the local memory per PE: half of LM holds
weights, half activations. Weight residency: when all of the network's weights fit in the weight
halves of all PEs (sum W <= P*LM/2, sharded over the PEs), they are loaded once with the model and
cost no DRAM traffic per inference; otherwise each layer streams its W bytes from DRAM, in
n_w = max(1, ceil(W / (LM/2))) tiles. Activations are split over the PEs; a layer whose
(I + O)/P fits in LM/2 is *resident*: its input comes from DRAM only if it is the network input
or the previous layer was not resident, its output goes to DRAM only if it is the network output
or the next layer is not resident. A non-resident layer reads its input from DRAM once per weight
tile (I * n_w) and writes its output (O). Latency = max(cycles / 0.8 GHz, dram / bandwidth). Local-memory weight reads: a lane holds the weights of its channel group,
``min(S, Cout) * (Cin/groups) * k*k`` bytes, in its register file if they fit (weights read from
LM once, W), otherwise they are re-read every spatial step (W * sp). fc weights are used once per
inference and stream straight from LM (W).

Feasibility (a design fails if any layer does; ``reason`` names its first failing layer):
(a) register file: a lane holds, for its s = min(S, Cout) active SIMD units, the weights of one
reduction step, the input window they read and one int32 accumulator per unit:
``s*k*k*4 + 4*k*k + 4*s`` bytes for conv/pwconv (4 input channels, all taps; the window is shared
by the units), ``s*k*k + s*k*k + 4*s`` for dwconv (one channel per unit), 0 for
fc/pool/add/mul; fails if that exceeds the RF. (b) local memory: the minimum working set of a PE
is one weight tile for its channel group, ``min(min(S,Cout)*(Cin/groups)*k*k, W)``, plus k input
rows (``k*IW*Cin/groups`` for conv/pwconv/fc, whose reduction spans all input channels;
``k*IW*min(C,S)`` for the channel-wise dwconv/pool; two operand rows ``2*IW*min(C,S)`` for
add/mul) plus one output row ``OW*min(Cout,S)``; fails if that exceeds LM. Costs of infeasible
designs are still computed (as if they ran); use ``feasible``.

Energy = MACs*e_mac + vector_ops*e_vec + RF bytes*e_rf(RF size) + LM bytes*e_lm(LM size)
+ DRAM bytes*e_dram, with 2 RF bytes per MAC (activation + weight operand) and LM bytes
``I + O + LM weight reads``. SRAM energy per byte grows with capacity (piecewise log-log in
Horowitz's three points, about sqrt(capacity); extrapolated with the end slopes). Area = MAC
arrays + register files + local memories, 45 nm numbers; no per-PE overhead (interconnect,
control) is added because we have no citable figure, so areas are a lower bound.

Conventions shared by all backends (units, per-PE or shared memories, weight residency,
layer-by-layer or pipelined execution, what is not modelled): ``moo_cosearch/hardware/README.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..networks import LAYER_KINDS, LayerBatch
from ._base import CostBackend, design_arrays, require_network
from ._registry import register_backend
from ._result import CostResult

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["BASELINE", "CLOCK_HZ", "EDGE_PARAMS", "EdgeBackend", "edge_inputs", "MACS_PER_SIMD", "edge_area_breakdown",
           "edge_area_mm2", "edge_cost", "peak_tops", "sram_pj_per_byte"]

#: Hardware parameters of the edge accelerator (NAHAS Table 1), all required and positive.
EDGE_PARAMS: tuple[str, ...] = ("pes_x", "pes_y", "simd_units", "compute_lanes",
                                "register_file_kb", "local_memory_mb", "io_bandwidth_gbyte_s")

#: NAHAS baseline (section 3.3). ``io_bandwidth_gbyte_s`` = 10 GB/s is OUR assumption
#: (not published).
#: parameters that count hardware units: whole numbers only
_COUNTS = ("pes_x", "pes_y", "simd_units", "compute_lanes")
BASELINE: dict[str, float] = {"pes_x": 4, "pes_y": 4, "simd_units": 64, "compute_lanes": 4,
                              "register_file_kb": 32, "local_memory_mb": 2,
                              "io_bandwidth_gbyte_s": 10}

# ---------------------------------------------------------------------------------------------
# Constants. [H14] M. Horowitz, "Computing's energy problem (and what we can do about it)",
# ISSCC 2014 (45 nm, 0.9 V). [M07] K. Mistry et al., "A 45nm logic technology with high-k +
# metal gate transistors, strained silicon, 9 Cu interconnect layers, 193nm dry patterning, and
# 100% Pb-free packaging", IEDM 2007. [N] NAHAS (ICLR 2021 submission), section 3.3.
CLOCK_HZ = 0.8e9                  # [N] 0.8 GHz
MACS_PER_SIMD = 4                 # [N] "4-way SIMD units": 4 8-bit MACs per cycle
E_MAC_PJ = 0.2 + 0.1              # [H14] 8-bit int multiply 0.2 pJ + 32-bit int add 0.1 pJ
E_VEC_PJ = E_MAC_PJ               # assumption: a pool/add/mul element op costs one MAC
SRAM_POINTS_BYTES = (8 * 1024, 32 * 1024, 1024 * 1024)   # [H14] SRAM sizes ...
SRAM_READ64_PJ = (10.0, 20.0, 100.0)                      # ... 64-bit read energy, pJ
E_DRAM_PJ_PER_BYTE = 2000.0 / 8   # [H14] DRAM 1.3-2.6 nJ per 64-bit access -> 2.0 nJ / 8 B
ACC_BYTES = 4                     # assumption: one int32 partial sum per active SIMD unit
RF_BYTES_PER_MAC = 2              # assumption: activation + weight operand per MAC
A_MAC_UM2 = 282.0 + 137.0         # [H14] 8-bit multiplier 282 um^2 + 32-bit adder 137 um^2
A_SRAM_CELL_UM2 = 0.346           # [M07] Intel 45 nm 6T SRAM cell
SRAM_ARRAY_EFFICIENCY = 0.7       # assumption: CACTI-style periphery overhead (cells / array)
A_SRAM_BIT_UM2 = A_SRAM_CELL_UM2 / SRAM_ARRAY_EFFICIENCY
KB = 1024
MB = 1024 * 1024
# ---------------------------------------------------------------------------------------------

_K = {name: i for i, name in enumerate(LAYER_KINDS)}


def _hw_arrays(hw: Mapping[str, Any], names: tuple[str, ...],
               n: int | None = None) -> dict[str, np.ndarray]:
    """Validate ``names`` in ``hw`` and return them as broadcast float64 arrays."""
    if not isinstance(hw, Mapping):
        raise TypeError(f"hw must be a mapping of parameter name -> value, got {type(hw)!r}")
    missing = [k for k in names if k not in hw]
    if missing:
        raise ValueError(f"missing edge hardware parameter(s): {', '.join(missing)}")
    out: dict[str, np.ndarray] = {}
    for k in names:
        try:
            a = np.asarray(hw[k], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"edge hardware parameter {k!r} must be numeric") from exc
        if a.ndim > 1:
            raise ValueError(f"edge hardware parameter {k!r} must be a scalar or 1-D array")
        if not np.all(np.isfinite(a) & (a > 0)):
            raise ValueError(f"edge hardware parameter {k!r} must be positive and finite, "
                             f"got {hw[k]!r}")
        out[k] = a
    try:
        shape = np.broadcast_shapes(*(a.shape for a in out.values()),
                                    *(() if n is None else ((n,),)))
        if n is not None and shape != (n,):
            raise ValueError
    except ValueError as exc:
        raise ValueError(f"edge hardware parameters must be scalars or have {n} entries, got "
                         f"shapes {({k: a.shape for k, a in out.items()})}") from exc
    return {k: np.broadcast_to(a, shape) for k, a in out.items()}


def peak_tops(hw: Mapping[str, Any]) -> np.ndarray:
    """Peak 8-bit throughput, tera-operations per second (1 MAC = 2 ops).

    Args:
        hw: ``pes_x``, ``pes_y``, ``compute_lanes``, ``simd_units`` as scalars or (n,) arrays.

    Returns:
        float64 array of the broadcast shape (0-d for scalars); 26.2144 for :data:`BASELINE`.
    """
    h = _hw_arrays(hw, ("pes_x", "pes_y", "compute_lanes", "simd_units"))
    macs_per_cycle = h["pes_x"] * h["pes_y"] * h["compute_lanes"] * h["simd_units"] * MACS_PER_SIMD
    return 2.0 * macs_per_cycle * CLOCK_HZ / 1e12


def sram_pj_per_byte(capacity_bytes: Any) -> np.ndarray:
    """Read energy per byte of an SRAM of the given capacity, pJ ([H14], log-log interpolation).

    Piecewise linear in (log capacity, log energy) through Horowitz's 8 KB / 32 KB / 1 MB 64-bit
    read energies (10 / 20 / 100 pJ), extrapolated with the end slopes, divided by 8 bytes.
    """
    x = np.log(np.asarray(capacity_bytes, dtype=np.float64))
    xp = np.log(np.asarray(SRAM_POINTS_BYTES, dtype=np.float64))
    yp = np.log(np.asarray(SRAM_READ64_PJ, dtype=np.float64))
    slope = np.diff(yp) / np.diff(xp)
    y = np.interp(x, xp, yp)
    y = np.where(x < xp[0], yp[0] + slope[0] * (x - xp[0]), y)
    y = np.where(x > xp[-1], yp[-1] + slope[-1] * (x - xp[-1]), y)
    return np.exp(y) / 8.0


def edge_area_breakdown(hw: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Area of the MAC arrays, register files and local memories, mm^2 (45 nm).

    Returns:
        ``{"mac_arrays": ..., "register_files": ..., "local_memories": ...}``, each float64 of
        the broadcast shape: ``P*Ln*S*4*A_mac``, ``P*Ln*RF_bits*A_bit``, ``P*LM_bits*A_bit``.
    """
    h = _hw_arrays(hw, ("pes_x", "pes_y", "compute_lanes", "simd_units", "register_file_kb",
                        "local_memory_mb"))
    pes = h["pes_x"] * h["pes_y"]
    lanes = pes * h["compute_lanes"]
    um2_to_mm2 = 1e-6
    return {
        "mac_arrays": lanes * h["simd_units"] * MACS_PER_SIMD * A_MAC_UM2 * um2_to_mm2,
        "register_files": lanes * h["register_file_kb"] * KB * 8 * A_SRAM_BIT_UM2 * um2_to_mm2,
        "local_memories": pes * h["local_memory_mb"] * MB * 8 * A_SRAM_BIT_UM2 * um2_to_mm2,
    }


def edge_area_mm2(hw: Mapping[str, Any]) -> np.ndarray:
    """Total accelerator area, mm^2 (sum of :func:`edge_area_breakdown`)."""
    parts = edge_area_breakdown(hw)
    return parts["mac_arrays"] + parts["register_files"] + parts["local_memories"]


def _cdiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.ceil(a / b)


def _describe(layers: LayerBatch, i: int, j: int) -> str:
    k = int(layers.kernel[i, j])
    return (f"layer {j} ({LAYER_KINDS[int(layers.kind[i, j])]} {k}x{k}, "
            f"{int(layers.in_ch[i, j])}->{int(layers.out_ch[i, j])} ch, "
            f"{int(layers.in_h[i, j])}x{int(layers.in_w[i, j])}->"
            f"{int(layers.out_h[i, j])}x{int(layers.out_w[i, j])})")


def edge_cost(layers: LayerBatch, hw: Mapping[str, Any], *, per_layer: bool = False) -> CostResult:
    """Latency, energy, area and feasibility of n (network, accelerator) designs.

    Args:
        layers: n padded networks, one row per design.
        hw: every name in :data:`EDGE_PARAMS`, each a scalar (broadcast) or an (n,) array-like;
            other keys are ignored.
        per_layer: also return per-layer ``layer_latency_ms``, ``layer_cycles``,
            ``layer_dram_bytes`` (n, L) floats and ``layer_bound`` (n, L) strings
            ``"compute"`` / ``"memory"`` (``""`` on padding rows).

    Returns:
        A :class:`CostResult`; ``extra`` holds (n,) ``peak_tops``, ``utilization`` (network MACs
        / (elapsed cycles * peak MACs per cycle), elapsed = latency * clock), ``dram_bytes``,
        ``macs`` and ``compute_cycles``.

    Raises:
        ValueError: a parameter of :data:`EDGE_PARAMS` is missing, non-numeric, non-positive or
            of the wrong length.
    """
    n = layers.shape[0]
    h = {k: v[:, None] for k, v in _hw_arrays(hw, EDGE_PARAMS, n).items()}
    f = {name: getattr(layers, name).astype(np.float64) for name in (
        "in_ch", "out_ch", "in_h", "in_w", "out_h", "out_w", "kernel", "groups", "macs",
        "vector_ops", "input_bytes", "output_bytes", "weight_bytes")}
    kind, valid = layers.kind, layers.valid
    is_conv = (kind == _K["conv"]) | (kind == _K["pwconv"])
    is_dw = kind == _K["dwconv"]
    is_pool = kind == _K["pool"]
    is_elt = (kind == _K["add"]) | (kind == _K["mul"])
    is_fc = kind == _K["fc"]

    pes = h["pes_x"] * h["pes_y"]
    lanes = pes * h["compute_lanes"]
    simd = h["simd_units"]
    rf = h["register_file_kb"] * KB
    lm = h["local_memory_mb"] * MB
    cin, cout, k2 = f["in_ch"], f["out_ch"], f["kernel"] ** 2
    cin_g = cin / np.maximum(f["groups"], 1.0)
    w, i_b, o_b = f["weight_bytes"], f["input_bytes"], f["output_bytes"]
    sp = _cdiv(f["out_h"] * f["out_w"], lanes)
    ch_groups = _cdiv(cout, simd)
    s_act = np.minimum(simd, cout)                      # SIMD units with a channel to compute

    # ---- compute cycles ----
    cycles = np.select(
        [is_conv, is_dw | is_pool, is_fc, is_elt],
        [sp * ch_groups * _cdiv(cin_g, MACS_PER_SIMD) * k2,
         sp * ch_groups * _cdiv(k2, MACS_PER_SIMD),
         _cdiv(cout, lanes * simd) * _cdiv(cin, MACS_PER_SIMD),
         sp * ch_groups], default=0.0)
    cycles = np.where(valid, cycles, 0.0)

    # ---- DRAM traffic ----
    half_lm = lm / 2
    n_w = np.maximum(1.0, _cdiv(w, half_lm))
    w_resident = np.where(valid, w, 0.0).sum(axis=1, keepdims=True) <= pes * half_lm
    w_dram = np.where(w_resident, 0.0, w)
    res = valid & ((i_b + o_b) / pes <= half_lm)       # activations stay in local memory
    none = np.zeros((n, 1), dtype=bool)
    prev_res = np.concatenate([none, res[:, :-1]], axis=1)
    next_res = np.concatenate([res[:, 1:], none], axis=1)
    read_in = ~prev_res | ~res                          # network input, or a spill either side
    write_out = ~next_res | ~res                        # network output, or a spill either side
    i_dram = np.where(read_in, np.where(res, i_b, i_b * n_w), 0.0)
    dram = np.where(valid, w_dram + i_dram + np.where(write_out, o_b, 0.0), 0.0)

    # ---- register file / local memory ----
    rf_w = np.select([is_conv, is_dw], [s_act * k2 * MACS_PER_SIMD, s_act * k2], default=0.0)
    rf_win = np.select([is_conv, is_dw], [MACS_PER_SIMD * k2, s_act * k2], default=0.0)
    rf_acc = np.where(is_conv | is_dw, ACC_BYTES * s_act, 0.0)
    rf_need = rf_w + rf_win + rf_acc
    lane_slice = s_act * cin_g * k2
    lm_w_reads = np.where((is_conv | is_dw) & (lane_slice > rf), w * sp, w)
    ws_w = np.minimum(lane_slice, w)
    ws_in = np.select([is_conv | is_fc, is_dw | is_pool, is_elt],
                      [f["kernel"] * f["in_w"] * cin_g,
                       f["kernel"] * f["in_w"] * np.minimum(cin, simd),
                       2 * f["in_w"] * np.minimum(cin, simd)], default=0.0)
    ws_out = f["out_w"] * s_act
    ws = ws_w + ws_in + ws_out
    rf_fail = valid & (rf_need > rf)
    lm_fail = valid & (ws > lm)

    # ---- latency ----
    t_compute = cycles / CLOCK_HZ
    t_mem = dram / (h["io_bandwidth_gbyte_s"] * 1e9)
    layer_s = np.maximum(t_compute, t_mem)
    latency_ms = layer_s.sum(axis=1) * 1e3

    # ---- energy ----
    e_rf = sram_pj_per_byte(rf)
    e_lm = sram_pj_per_byte(lm)
    lm_bytes = np.where(valid, i_b + o_b + lm_w_reads, 0.0)
    macs = np.where(valid, f["macs"], 0.0)
    vec = np.where(valid, f["vector_ops"], 0.0)
    energy_pj = (macs * E_MAC_PJ + vec * E_VEC_PJ + macs * RF_BYTES_PER_MAC * e_rf
                 + lm_bytes * e_lm + dram * E_DRAM_PJ_PER_BYTE).sum(axis=1)

    # ---- feasibility and reasons ----
    fail = rf_fail | lm_fail
    feasible = ~fail.any(axis=1)
    first = np.argmax(fail, axis=1) if fail.shape[1] else np.zeros(n, dtype=np.int64)
    reasons = [""] * n
    for i in np.flatnonzero(~feasible):      # strings only for infeasible designs
        j = int(first[i])
        msgs = []
        if rf_fail[i, j]:
            taps = f"{int(k2[i, j])} taps" + (" x 4" if is_conv[i, j] else "")
            msgs.append(f"register file {h['register_file_kb'][i, 0]:g} KB per lane < "
                        f"{int(rf_need[i, j])} B needed ({int(rf_w[i, j])} B weights for "
                        f"{int(s_act[i, j])} SIMD units x {taps} + {int(rf_win[i, j])} B input "
                        f"window + {int(rf_acc[i, j])} B accumulators)")
        if lm_fail[i, j]:
            msgs.append(f"local memory {h['local_memory_mb'][i, 0]:g} MB per PE < "
                        f"{int(ws[i, j])} B minimum working set ({int(ws_w[i, j])} B weights + "
                        f"{int(ws_in[i, j])} B input rows + {int(ws_out[i, j])} B output row)")
        reasons[i] = f"{_describe(layers, int(i), j)}: " + "; ".join(msgs)

    tops = peak_tops(hw) * np.ones(n)
    peak_macs_per_cycle = (lanes * simd * MACS_PER_SIMD)[:, 0]
    elapsed_cycles = latency_ms * 1e-3 * CLOCK_HZ
    total_macs = macs.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(elapsed_cycles > 0, total_macs / (elapsed_cycles * peak_macs_per_cycle),
                        0.0)
    extra: dict[str, Any] = {
        "peak_tops": tops,
        "utilization": util,
        "dram_bytes": dram.sum(axis=1),
        "macs": total_macs,
        "compute_cycles": cycles.sum(axis=1),
    }
    if per_layer:
        extra["layer_latency_ms"] = layer_s * 1e3
        extra["layer_cycles"] = cycles
        extra["layer_dram_bytes"] = dram
        extra["layer_bound"] = np.where(valid, np.where(t_mem > t_compute, "memory", "compute"),
                                        "")
    area = edge_area_mm2(hw) * np.ones(n)
    return CostResult(latency_ms=latency_ms, energy_mj=energy_pj * 1e-9, area_mm2=area,
                      feasible=feasible, reason=tuple(reasons), extra=extra)


def edge_inputs(backend: str, space: "JointSpace", designs: Sequence[Mapping[str, Any]],
                layers: bool = True) -> tuple[list[dict[str, Any]], Any, dict[str, np.ndarray]]:
    """Validated inputs of the edge-accelerator models (``edge``, ``edge-dataflow``, ``zigzag``):
    the validated designs, the stacked layers of every design's network (``None`` when
    ``layers`` is False) and the accelerator parameters as arrays. Raises ValueError when ``space`` lacks a network or one
    of :data:`EDGE_PARAMS`, or on an invalid design."""
    require_network(backend, space, EDGE_PARAMS)
    for name in _COUNTS:
        fractional = [c for c in space[name].choices
                      if isinstance(c, float) and not c.is_integer()]
        if fractional:
            raise ValueError(f"space {space.name!r}: {name} counts hardware units and must take "
                             f"whole values, got {fractional}")
    return design_arrays(space, designs, EDGE_PARAMS, layers)


class EdgeBackend(CostBackend):
    """The analytical NAHAS edge-accelerator model (:mod:`moo_cosearch.hardware.edge`)."""

    name = "edge"

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> CostResult:
        _, layers, hw = edge_inputs(self.name, space, designs)
        return edge_cost(layers, hw)

    def reference(self, metric: str) -> float:
        if metric == "area_mm2":
            return float(edge_area_mm2({k: np.array([v]) for k, v in BASELINE.items()})[0])
        return super().reference(metric)


register_backend("edge", EdgeBackend)
