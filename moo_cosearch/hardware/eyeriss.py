"""Eyeriss (v1) row-stationary accelerator model, vectorised over designs (backend ``eyeriss``).

Conventions shared with the other backends: ``hardware/README.md``. The accelerator is the
Eyeriss chip (Y.-H. Chen, T. Krishna, J. Emer, V. Sze, "Eyeriss: An Energy-Efficient
Reconfigurable Accelerator for Deep Convolutional Neural Networks", ISSCC 2016 and IEEE JSSC
52(1), 2017; the dataflow: Chen, Emer, Sze, "Eyeriss: A Spatial Architecture for Energy-Efficient
Dataflow for Convolutional Neural Networks", ISCA 2016): a ``pe_rows x pe_cols`` array of PEs
(12 x 14), one 16-bit MAC per PE per cycle, per-PE scratchpads for filter rows
(``filter_spad_words`` = 224), an ifmap sliding window (``ifmap_spad_words`` = 12) and partial
sums (``psum_spad_words`` = 24), all 16-bit words, a **shared** global buffer (``glb_kb`` =
108 KB) holding ifmaps and psums (filters bypass it: DRAM -> filter scratchpads), core clock
``clock_mhz`` (200 MHz in the JSSC measurements; 100-250 MHz supported) and an off-chip link of
``dram_gbyte_s`` GB/s (the chip's 64-bit data bus at its 90 MHz link clock: 0.72 GB/s).

Row-stationary mapping of a MAC layer (R x S filter, E x F output, stride U; ``pairs`` = the
2-D convolutions to run: M*C for a dense conv or fc, C for a depthwise one)::

    rows   = min(R, pe_rows)                 filter rows held by one PE set (one per PE row)
    e      = min(E, pe_cols)                 output rows of one PE set (one per PE column)
    sets   = floor(pe_rows / rows) * floor(pe_cols / e)     PE sets working side by side
    passes = ceil(E / e) * ceil(R / pe_rows)                strips of output rows
    cycles = passes * ceil(pairs / sets) * F * S            a PE computes one 1-D row
                                                            convolution (F outputs x S taps)
                                                            per (filter, channel) pair

fc layers are 1x1 convolutions on a 1x1 map. Element-wise layers (add, mul) have no unit of
their own on Eyeriss v1; they run on the PE adders, ``ceil(elements / PEs)`` cycles.

**Pooling.** The v1 PE array runs dense CONV only (psums accumulate over input channels; the
chip has no pooling or depthwise engine), so a pooling layer is lowered to a convolution with
fixed weights. ``pool_lowering="dense"`` (default): a C -> C convolution of the pooling kernel
with a diagonal weight tensor (it costs what a conv of that shape costs, weights included);
``"depthwise"``: one 2-D convolution per channel (C pairs). The reference of
``benchmarks/bench_fidelity_refs.py`` (HW-NAS-Bench) prices a 3x3 average pool exactly like a
3x3 convolution, i.e. the dense lowering; both figures are reported there.

Memory, 16-bit words (2 bytes per element): weights come from DRAM **every inference** (no
weight residency: the GLB holds no filters); they are fetched once per pass when the layer's
filters exceed all filter scratchpads together (``pe_rows*pe_cols*filter_spad_words``), once
otherwise. Activations: a layer whose input and output fit in the GLB together is *resident*;
consecutive resident layers pass activations through the GLB; otherwise the input is read from
DRAM and the output written there (network input and output always are). Layer latency =
max(cycles / clock, DRAM bytes / bandwidth); layers run one after the other.

Feasibility: a layer needs ``S <= ifmap_spad_words`` (the sliding window), ``S <=
filter_spad_words`` and ``1 <= psum_spad_words``. Not modelled: GLB <-> PE NoC bandwidth and
multicast conflicts, run-length compression and zero gating (dense data assumed), energy and
area (NaN).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..networks import LAYER_KINDS, LayerBatch
from ._base import CostBackend, design_arrays, per_design, require_network
from ._registry import register_backend
from ._result import CostResult

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["EYERISS", "EYERISS_PARAMS", "POOL_LOWERINGS", "EyerissBackend", "eyeriss_cost"]

#: Hardware parameters of the Eyeriss model, all required and positive.
EYERISS_PARAMS: tuple[str, ...] = ("pe_rows", "pe_cols", "glb_kb", "filter_spad_words",
                                   "ifmap_spad_words", "psum_spad_words", "clock_mhz",
                                   "dram_gbyte_s")
#: The Eyeriss chip (ISSCC 2016 / JSSC 2017): 12x14 PEs, 108 KB GLB, 224/12/24-word spads,
#: 200 MHz core clock, 64-bit off-chip bus at the 90 MHz link clock = 0.72 GB/s.
EYERISS: dict[str, float] = {"pe_rows": 12, "pe_cols": 14, "glb_kb": 108,
                             "filter_spad_words": 224, "ifmap_spad_words": 12,
                             "psum_spad_words": 24, "clock_mhz": 200, "dram_gbyte_s": 0.72}
POOL_LOWERINGS: tuple[str, ...] = ("dense", "depthwise")
WORD_BYTES = 2          # 16-bit fixed point (JSSC 2017)
KB = 1024
_K = {name: i for i, name in enumerate(LAYER_KINDS)}


def _cdiv(a: Any, b: Any) -> np.ndarray:
    return np.ceil(a / b)


def eyeriss_cost(layers: LayerBatch, hw: Mapping[str, Any], *, pool_lowering: str = "dense",
                 per_layer: bool = False) -> CostResult:
    """Latency and feasibility of n (network, Eyeriss-like accelerator) designs.

    Args:
        layers: n padded networks.
        hw: every name in :data:`EYERISS_PARAMS`, scalars or (n,) arrays.
        pool_lowering: ``"dense"`` or ``"depthwise"`` (see the module docstring).
        per_layer: also return (n, L) ``layer_latency_ms``, ``layer_cycles`` and
            ``layer_dram_bytes`` in ``extra``.

    Returns:
        A :class:`CostResult` (energy, area NaN) with ``extra``: ``cycles``, ``dram_bytes``,
        ``utilization`` (MACs run / (elapsed cycles * PEs), pooling MACs as lowered).

    Raises:
        ValueError: a missing or non-positive parameter, an unknown ``pool_lowering``.
    """
    if pool_lowering not in POOL_LOWERINGS:
        raise ValueError(f"pool_lowering must be one of {list(POOL_LOWERINGS)}, "
                         f"got {pool_lowering!r}")
    n, n_layers = layers.shape
    h = per_design("eyeriss", EYERISS_PARAMS, hw, n)
    f = {k: getattr(layers, k).astype(np.float64) for k in (
        "in_ch", "out_ch", "in_h", "in_w", "out_h", "out_w", "kernel", "groups")}
    kind, valid = layers.kind, layers.valid
    is_pool = kind == _K["pool"]
    is_dw = (kind == _K["dwconv"]) | (is_pool & (pool_lowering == "depthwise"))
    is_mac = valid & ((kind == _K["conv"]) | (kind == _K["pwconv"]) | (kind == _K["fc"])
                      | (kind == _K["dwconv"]) | is_pool)
    is_elt = valid & ((kind == _K["add"]) | (kind == _K["mul"]))
    pes = h["pe_rows"] * h["pe_cols"]

    r = f["kernel"]
    e_out, f_out = f["out_h"], f["out_w"]
    pairs = np.where(is_dw, f["in_ch"], f["out_ch"] * f["in_ch"] / np.maximum(f["groups"], 1.0))
    rows = np.maximum(1.0, np.minimum(r, h["pe_rows"]))       # padding rows: kernel 0
    e = np.maximum(1.0, np.minimum(e_out, h["pe_cols"]))
    sets = np.maximum(1.0, np.floor(h["pe_rows"] / rows) * np.floor(h["pe_cols"] / e))
    strips = _cdiv(e_out, e)
    passes = strips * _cdiv(r, h["pe_rows"])
    mac_cycles = passes * _cdiv(pairs, sets) * f_out * r
    elt_cycles = _cdiv(f["out_ch"] * e_out * f_out, pes)
    cycles = np.where(is_mac, mac_cycles, np.where(is_elt, elt_cycles, 0.0))
    macs = np.where(is_mac, pairs * e_out * f_out * r * r, 0.0)

    # ---- DRAM traffic, bytes (16-bit words) ----
    w_words = np.where(is_mac, pairs * r * r, 0.0)
    spads = pes * h["filter_spad_words"]
    w_dram = w_words * WORD_BYTES * np.where(w_words > spads, passes, 1.0)
    n_in = np.where(is_elt, 2.0, 1.0)
    i_b = n_in * f["in_ch"] * f["in_h"] * f["in_w"] * WORD_BYTES
    o_b = f["out_ch"] * e_out * f_out * WORD_BYTES
    res = valid & (i_b + o_b <= h["glb_kb"] * KB)
    none = np.zeros((n, 1), dtype=bool)
    prev_res = np.concatenate([none, res[:, :-1]], axis=1)
    next_res = np.concatenate([res[:, 1:], none], axis=1)
    dram = w_dram + np.where(~prev_res | ~res, i_b, 0.0) + np.where(~next_res | ~res, o_b, 0.0)
    dram = np.where(valid, dram, 0.0)

    clock = h["clock_mhz"] * 1e6
    layer_s = np.maximum(cycles / clock, dram / (h["dram_gbyte_s"] * 1e9))
    latency_ms = layer_s.sum(axis=1) * 1e3

    # ---- feasibility ----
    fail = is_mac & ((r > h["ifmap_spad_words"]) | (r > h["filter_spad_words"]))
    feasible = ~fail.any(axis=1)
    reasons = [""] * n
    for i in np.flatnonzero(~feasible):
        j = int(np.argmax(fail[i]))
        reasons[i] = (f"layer {j} ({LAYER_KINDS[int(kind[i, j])]} {int(r[i, j])}x"
                      f"{int(r[i, j])}): a filter row of {int(r[i, j])} taps exceeds the ifmap "
                      f"scratchpad ({h['ifmap_spad_words'][i, 0]:g} words) or the filter "
                      f"scratchpad ({h['filter_spad_words'][i, 0]:g} words)")
    elapsed = latency_ms * 1e-3 * clock[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(elapsed > 0, macs.sum(axis=1) / (elapsed * pes[:, 0]), 0.0)
    extra: dict[str, Any] = {"cycles": cycles.sum(axis=1), "dram_bytes": dram.sum(axis=1),
                             "utilization": util}
    if per_layer:
        extra.update(layer_latency_ms=layer_s * 1e3, layer_cycles=cycles,
                     layer_dram_bytes=dram)
    nan = np.full(n, np.nan)
    return CostResult(latency_ms=latency_ms, energy_mj=nan, area_mm2=nan.copy(),
                      feasible=feasible, reason=tuple(reasons), extra=extra)


class EyerissBackend(CostBackend):
    """``eyeriss``: the row-stationary Eyeriss model (:func:`eyeriss_cost`) on any space with a
    network and the parameters :data:`EYERISS_PARAMS` (fixed or searched).

    Args:
        pool_lowering: ``"dense"`` (default) or ``"depthwise"``.
    """

    name = "eyeriss"
    metrics: tuple[str, ...] = ("latency_ms", "dram_bytes", "utilization")

    def __init__(self, pool_lowering: str = "dense") -> None:
        if pool_lowering not in POOL_LOWERINGS:
            raise ValueError(f"pool_lowering must be one of {list(POOL_LOWERINGS)}, "
                             f"got {pool_lowering!r}")
        self.pool_lowering = pool_lowering

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> CostResult:
        require_network(self.name, space, EYERISS_PARAMS)
        _, layers, hw = design_arrays(space, designs, EYERISS_PARAMS)
        return eyeriss_cost(layers, hw, pool_lowering=self.pool_lowering)


register_backend("eyeriss", EyerissBackend)
