"""A DPU-like FPGA convolution engine, vectorised over designs (backend ``fpga-dpu``).

Conventions shared by all backends: ``moo_cosearch/hardware/README.md``. The Accel-NASBench
latencies were measured with Xilinx's Vitis AI DPUs (DPUCZDX8G on the ZCU102, DPUCVDX8G on the
VCK190), which run a network **layer by layer** on one engine (no layer pipelining), 8-bit
data, feature maps and weights in DDR between layers. The engine computes ``dpu_pp`` output
pixels of a row x ``dpu_icp`` input channels x ``dpu_ocp`` output channels MACs per cycle at
``clock_mhz`` (DPUCZDX8G B4096: 8 x 16 x 16 = 2,048 MACs = 4,096 ops per cycle, Xilinx PG338).
Per layer (k x k kernel, OH x OW output, Cin -> Cout)::

    conv, pwconv   cycles = OH * ceil(OW/pp) * ceil(Cin/icp) * ceil(Cout/ocp) * k*k
    fc             cycles = ceil(Cin/icp) * ceil(Cout/ocp)          (one pixel)
    dwconv         cycles = OH * ceil(OW/pp) * ceil(C/icp) * k*k    (one input channel per
                                                                    output channel: the ocp
                                                                    lanes have nothing to add)
    pool, add, mul cycles = ceil(max(element ops, input elements) / (pp*icp))   (the ALU)

so a squeeze-excite block (global pool, two 1x1 convs on a 1x1 map, the scaling ``mul``) costs
its poorly-parallel pieces, and a depthwise conv runs at 1/ocp of the dense peak.

DDR traffic per layer (bytes, 8-bit): the layer's weights (the DPU's weight buffer holds one
layer's tile, so weights stream **every inference**; nothing resident across layers or
inferences), its input feature map (both operands for add/mul) and its output. ``ddr_gbyte_s``
is the bandwidth the engine's own data ports reach, **GB/s**: min(DDR peak, data ports x width
x clock) — on the ZCU102 two 128-bit AXI data ports at 300 MHz (9.6 GB/s) below the 19.2 GB/s
of its 64-bit DDR4-2400. Loads, compute and stores overlap (the DPU's instruction-level
parallelism): layer latency = max(cycles / clock, bytes / bandwidth); layers add up.

Not modelled: per-instruction and per-layer fixed overheads, DDR efficiency below the port
rate, the host (runner) time, activation functions (fused), tiling halos, energy and area (NaN).
The device's DSP / BRAM / URAM counts live in the space files as published facts; the engine
size is fixed by the DPU configuration, so no resource check is made.
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

__all__ = ["DPU_PARAMS", "DpuBackend", "dpu_cost"]

#: Hardware parameters of the engine, all required and positive.
DPU_PARAMS: tuple[str, ...] = ("dpu_pp", "dpu_icp", "dpu_ocp", "clock_mhz", "ddr_gbyte_s")
_K = {name: i for i, name in enumerate(LAYER_KINDS)}


def _cdiv(a: Any, b: Any) -> np.ndarray:
    return np.ceil(a / b)


def dpu_cost(layers: LayerBatch, hw: Mapping[str, Any], *, per_layer: bool = False) -> CostResult:
    """Latency of n networks on DPU-like engines (see the module docstring).

    Args:
        layers: n padded networks.
        hw: every name in :data:`DPU_PARAMS`, scalars or (n,) arrays.
        per_layer: also return (n, L) ``layer_latency_ms``, ``layer_cycles`` and
            ``layer_ddr_bytes`` in ``extra``.

    Returns:
        A :class:`CostResult` (energy, area NaN; every design feasible) with ``extra``:
        ``compute_ms`` and ``memory_ms`` (sums over the layers of each part alone),
        ``ddr_bytes``, ``utilization`` (MACs / (elapsed cycles * peak MACs per cycle)).

    Raises:
        ValueError: a missing, non-numeric or non-positive parameter.
    """
    n = layers.shape[0]
    h = per_design("fpga-dpu", DPU_PARAMS, hw, n)
    f = {k: getattr(layers, k).astype(np.float64) for k in (
        "in_ch", "out_ch", "out_h", "out_w", "kernel", "macs", "vector_ops", "input_bytes",
        "output_bytes", "weight_bytes")}
    kind, valid = layers.kind, layers.valid
    pp, icp, ocp = h["dpu_pp"], h["dpu_icp"], h["dpu_ocp"]
    k2 = f["kernel"] ** 2
    rows = f["out_h"] * _cdiv(f["out_w"], pp)
    cycles = np.select(
        [(kind == _K["conv"]) | (kind == _K["pwconv"]), kind == _K["fc"], kind == _K["dwconv"]],
        [rows * _cdiv(f["in_ch"], icp) * _cdiv(f["out_ch"], ocp) * k2,
         _cdiv(f["in_ch"], icp) * _cdiv(f["out_ch"], ocp),
         rows * _cdiv(f["in_ch"], icp) * k2],
        default=_cdiv(np.maximum(f["vector_ops"], f["input_bytes"]), pp * icp))
    cycles = np.where(valid, cycles, 0.0)
    ddr = np.where(valid, f["weight_bytes"] + f["input_bytes"] + f["output_bytes"], 0.0)
    t_c = cycles / (h["clock_mhz"] * 1e6)
    t_m = ddr / (h["ddr_gbyte_s"] * 1e9)
    layer_s = np.maximum(t_c, t_m)
    latency_ms = layer_s.sum(axis=1) * 1e3
    macs = np.where(valid, f["macs"], 0.0).sum(axis=1)
    elapsed = latency_ms * 1e-3 * h["clock_mhz"][:, 0] * 1e6
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(elapsed > 0, macs / (elapsed * (pp * icp * ocp)[:, 0]), 0.0)
    extra: dict[str, Any] = {"compute_ms": t_c.sum(axis=1) * 1e3,
                             "memory_ms": t_m.sum(axis=1) * 1e3,
                             "ddr_bytes": ddr.sum(axis=1), "utilization": util}
    if per_layer:
        extra.update(layer_latency_ms=layer_s * 1e3, layer_cycles=cycles, layer_ddr_bytes=ddr)
    nan = np.full(n, np.nan)
    return CostResult(latency_ms=latency_ms, energy_mj=nan, area_mm2=nan.copy(),
                      feasible=np.ones(n, dtype=bool), reason=("",) * n, extra=extra)


class DpuBackend(CostBackend):
    """``fpga-dpu``: :func:`dpu_cost` on any space with a network and :data:`DPU_PARAMS`."""

    name = "fpga-dpu"
    metrics: tuple[str, ...] = ("latency_ms", "compute_ms", "memory_ms", "ddr_bytes",
                                "utilization")

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> CostResult:
        require_network(self.name, space, DPU_PARAMS)
        _, layers, hw = design_arrays(space, designs, DPU_PARAMS)
        return dpu_cost(layers, hw)


register_backend("fpga-dpu", DpuBackend)
