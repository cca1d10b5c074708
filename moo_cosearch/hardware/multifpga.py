"""FNAS-style multi-FPGA pipeline model (Jiang et al., "Hardware/Software Co-Exploration of Neural
Architectures", TCAD 2020, and FNAS, DAC 2019; the co-exploration talk: "Partition and Assignment
(HW)", "Pipeline Eff.", XC7Z015 FPGAs, CIFAR-10).

A network's layers are split into ``k`` contiguous partitions, one per FPGA, which form a
pipeline: FPGA j runs layers ``[cut_j, cut_{j+1})`` (``cut_0 = 0``, ``cut_k = L``) and streams its
last output feature map to FPGA j+1 over a serial link. Each FPGA holds one tiled convolution
engine (the loop-tiling template of Zhang et al., "Optimizing FPGA-based Accelerator Design for
Deep Convolutional Neural Networks", FPGA 2015, which FNAS uses), with tile sizes
``Tm`` (output channels), ``Tn`` (input channels) and ``Tr = Tc`` (output rows / columns)
searched per FPGA and the template kernel ``Tk`` derived (the largest kernel on that FPGA).

Per conv layer (M out channels, N in, R x C output, kernel K, stride S) on an FPGA with tiles
(Tm, Tn, Tr, Tc), ``x' = min(Tx, X)``, cycles (FNAS's published performance model, hotNAS
``PM_FPGA_Template.get_cconv_latency``, with the input tile's halo of Zhang et al.)::

    t_I = Tn' * ((Tr'-1)*S + K) * ((Tc'-1)*S + K) / P      load an input tile
    t_W = Tm' * Tn' * K^2 / P                              load a weight tile
    t_O = Tm' * Tr' * Tc' / P                              store an output tile
    t_C = K^2 * Tr' * Tc'                                  Tm x Tn MACs per cycle, II = 1
    cycles = ceil(R/Tr) * ceil(C/Tc) * ceil(M/Tm) * max(ceil(N/Tn) * max(t_I, t_W, t_C), t_O)

with P = ``port_words`` 16-bit words per cycle on each of the input, weight and output ports
(double-buffered, so loads overlap compute). fc layers are 1x1 convs on a 1x1 map; global pooling
takes ``ceil(C/Tn) * H * W`` cycles (Tn adders). Depthwise conv, add and mul layers are not
supported by the template: such a network is infeasible with a reason.

Stage time of FPGA j = sum of its layers' cycles / clock; link time = bytes of its output / link
bandwidth, a pipeline stage of its own. Throughput = 1 / the slowest stage (compute or link);
latency of one input = the sum of all stages; pipeline efficiency = sum of the FPGA stage times /
(k * the slowest stage), FNAS's "Pipeline Eff." as we read it.

Resources per FPGA (16-bit fixed point): DSP = Tm * Tn (one DSP48 per 16-bit MAC, as FNAS's model);
BRAM18K = 2*Tn*ceil(in_tile*16/18000) + 2*Tm*ceil(Tr*Tc*16/18000) + Tm*Tn*ceil(Tk^2*16/18000)
(double-buffered input and output banks, one weight bank per MAC lane; FNAS's model counts 18,000
bits per BRAM). Infeasible (with the FPGA and the numbers in the reason) when DSP or BRAM exceeds
the device, or when the partition is not ``0 < cut_1 < ... < cut_{k-1} < L``.

Assumptions where the papers leave a constant open:

==============================  ===============================================================
what                            value
==============================  ===============================================================
clock                           100 MHz (FREQ of FNAS's released performance model)
data                            16-bit fixed point (weights and activations)
ports                           ``port_words`` words/cycle per port (space, fixed 4: one
                                64-bit AXI HP port each for input, weights, output)
inter-FPGA link                 ``link_gbps`` payload Gb/s (space, fixed 5: one 6.25 Gb/s GTP
                                lane of the XC7Z015 with 8b/10b coding)
devices                         XC7Z015: 160 DSP, 95 BRAM36 = 190 BRAM18K; XC7Z020: 220 DSP,
                                140 BRAM36 = 280 BRAM18K (Xilinx DS190)
==============================  ===============================================================

Conventions shared by all backends (units, per-PE or shared memories, weight residency,
layer-by-layer or pipelined execution, what is not modelled): ``moo_cosearch/hardware/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..networks import LAYER_KINDS, LayerBatch
from ._base import CostBackend
from ._registry import register_backend
from ._result import CostResult

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["BRAM_BITS", "CLOCK_HZ", "MULTI_DEVICES", "MultiFpgaBackend", "MultiFpgaDevice",
           "WORD_BITS", "multifpga_cost", "tile_bram18k", "tiled_layer_cycles"]

CLOCK_HZ = 100e6          # FNAS performance model FREQ = 100 MHz
WORD_BITS = 16            # 16-bit fixed point
BRAM_BITS = 18000         # bits per BRAM18K as FNAS's model counts them


@dataclass(frozen=True)
class MultiFpgaDevice:
    """Resources of one FPGA of the pool."""

    name: str
    dsp: int
    bram18k: int


#: FPGAs of the pool (Xilinx DS190, Zynq-7000 product table). FNAS/co-exploration: XC7Z015.
MULTI_DEVICES: dict[str, MultiFpgaDevice] = {
    "xc7z015": MultiFpgaDevice("xc7z015", dsp=160, bram18k=190),
    "xc7z020": MultiFpgaDevice("xc7z020", dsp=220, bram18k=280),
}

_K = {name: i for i, name in enumerate(LAYER_KINDS)}
_SUPPORTED = (_K["conv"], _K["pwconv"], _K["fc"], _K["pool"])


def _cdiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.ceil(a / b)


def tiled_layer_cycles(layers: LayerBatch, tm: np.ndarray, tn: np.ndarray, tr: np.ndarray,
                       tc: np.ndarray, port_words: np.ndarray) -> np.ndarray:
    """Cycles of every layer on its FPGA's tiled engine, (n, L); tiles are (n, L) arrays.

    Unsupported kinds (dwconv, add, mul) and padding rows get 0 (the caller flags them).
    """
    f = {k: getattr(layers, k).astype(np.float64) for k in
         ("in_ch", "out_ch", "in_h", "in_w", "out_h", "out_w", "kernel", "stride")}
    m, nn, r, c, k, s = f["out_ch"], f["in_ch"], f["out_h"], f["out_w"], f["kernel"], f["stride"]
    trp, tcp = np.minimum(tr, r), np.minimum(tc, c)
    tmp, tnp = np.minimum(tm, m), np.minimum(tn, nn)
    t_i = tnp * ((trp - 1) * s + k) * ((tcp - 1) * s + k) / port_words
    t_w = tmp * tnp * k * k / port_words
    t_o = tmp * trp * tcp / port_words
    t_c = k * k * trp * tcp
    lat1 = np.maximum(np.maximum(t_i, t_w), t_c)
    conv = _cdiv(r, tr) * _cdiv(c, tc) * _cdiv(m, tm) * np.maximum(_cdiv(nn, tn) * lat1, t_o)
    pool = _cdiv(f["in_ch"], tn) * f["in_h"] * f["in_w"]
    kind = layers.kind
    is_conv = (kind == _K["conv"]) | (kind == _K["pwconv"]) | (kind == _K["fc"])
    cycles = np.select([is_conv, kind == _K["pool"]], [conv, pool], default=0.0)
    return np.where(layers.valid, cycles, 0.0)


def tile_bram18k(tm: Any, tn: Any, tr: Any, tc: Any, tk: Any) -> np.ndarray:
    """BRAM18K blocks of one engine's double-buffered input/output banks and weight banks."""
    tm, tn, tr, tc, tk = (np.asarray(a, dtype=np.float64) for a in (tm, tn, tr, tc, tk))
    in_words = (tr + tk - 1) * (tc + tk - 1)
    b_in = 2 * tn * _cdiv(in_words * WORD_BITS, np.float64(BRAM_BITS))
    b_out = 2 * tm * _cdiv(tr * tc * WORD_BITS, np.float64(BRAM_BITS))
    b_w = tm * tn * _cdiv(tk * tk * WORD_BITS, np.float64(BRAM_BITS))
    return b_in + b_out + b_w


def _positive_ints(name: str, a: Any, shape: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.broadcast_to(np.asarray(a, dtype=np.float64), shape)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric with shape {shape}, got "
                         f"{np.shape(a)}") from exc
    if not np.all(np.isfinite(arr)) or np.any(arr < 1) or np.any(arr != np.round(arr)):
        raise ValueError(f"{name} must be positive integers, got {np.unique(arr).tolist()}")
    return arr


def multifpga_cost(layers: LayerBatch, n_fpgas: Any, cuts: Any, tm: Any, tn: Any, tr: Any,
                   tc: Any | None = None, *, device: Any = "xc7z015", port_words: Any = 4,
                   link_gbps: Any = 5.0, per_fpga: bool = False) -> CostResult:
    """Throughput, latency and resources of n multi-FPGA pipeline designs.

    Args:
        layers: n padded networks (L rows).
        n_fpgas: (n,) or scalar k, 1 <= k <= kmax.
        cuts: (n, kmax-1) first layer index of FPGAs 1..kmax-1; only the first k-1 are used.
        tm, tn, tr: (n, kmax) tile sizes per FPGA (unused FPGAs are ignored).
        tc: (n, kmax) column tiles; defaults to ``tr`` (square tiles).
        device: a key of :data:`MULTI_DEVICES` (all FPGAs of a design are alike).
        port_words: 16-bit words per cycle on each of the three memory ports.
        link_gbps: inter-FPGA link payload bandwidth, Gb/s.
        per_fpga: also return (n, kmax) ``fpga_stage_ms``, ``fpga_dsp``, ``fpga_bram18k``,
            ``fpga_tk`` and (n, L) ``layer_fpga``, ``layer_cycles`` in ``extra``.

    Returns:
        A :class:`CostResult` (energy, area NaN) with ``extra``: ``throughput_fps``, ``dsp`` and
        ``bram18k`` (sums over the used FPGAs), ``max_dsp_fraction``, ``pipeline_efficiency``,
        ``n_fpgas``.

    Raises:
        ValueError: malformed shapes or values, unknown device, k outside 1..kmax.
    """
    n, n_layers = layers.shape
    tm = np.asarray(tm, dtype=np.float64)
    if tm.ndim != 2 or tm.shape[0] != n or tm.shape[1] < 1:
        raise ValueError(f"tm must have shape (n={n}, kmax), got {tm.shape}")
    kmax = tm.shape[1]
    tm = _positive_ints("tm", tm, (n, kmax))
    tn = _positive_ints("tn", tn, (n, kmax))
    tr = _positive_ints("tr", tr, (n, kmax))
    tc = tr if tc is None else _positive_ints("tc", tc, (n, kmax))
    k = _positive_ints("n_fpgas", n_fpgas, (n,))
    if np.any(k > kmax):
        raise ValueError(f"n_fpgas must be at most {kmax} (tile parameters given for {kmax} "
                         f"FPGAs), got {int(k.max())}")
    cuts = np.asarray(cuts, dtype=np.float64).reshape(n, -1) if kmax > 1 else np.zeros((n, 0))
    if cuts.shape != (n, kmax - 1) or not np.all(np.isfinite(cuts)) \
            or np.any(cuts != np.round(cuts)):
        raise ValueError(f"cuts must be integers of shape {(n, kmax - 1)}, got {cuts.shape}")
    ports = _positive_ints("port_words", port_words, (n,))
    try:
        link = np.broadcast_to(np.asarray(link_gbps, dtype=np.float64), (n,))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"link_gbps must be numeric, got {link_gbps!r}") from exc
    if not np.all(np.isfinite(link) & (link > 0)):
        raise ValueError(f"link_gbps must be positive and finite, got {np.unique(link).tolist()}")
    dev = np.broadcast_to(np.asarray(device, dtype=object), (n,))
    bad = sorted({d for d in dev if d not in MULTI_DEVICES}, key=str)
    if bad:
        raise ValueError(f"FPGA device must be one of {sorted(MULTI_DEVICES)}, got {bad[0]!r}")

    valid = layers.valid
    n_valid = valid.sum(axis=1).astype(np.float64)
    j = np.arange(kmax - 1)
    used_cut = j[None, :] < (k[:, None] - 1)                       # (n, kmax-1)
    # partition rule: 0 < cut_1 < ... < cut_{k-1} < L
    prev = np.concatenate([np.zeros((n, 1)), cuts[:, :-1]], axis=1) if kmax > 1 else cuts
    bad_cut = used_cut & ((cuts <= prev) | (cuts >= n_valid[:, None]))
    bad_part = bad_cut.any(axis=1)

    # ---- which FPGA runs each layer, tiles gathered per layer
    idx = np.arange(n_layers)[None, :, None]
    fpga = (used_cut[:, None, :] & (idx >= cuts[:, None, :])).sum(axis=2)     # (n, L)
    take = lambda a: np.take_along_axis(a, fpga, axis=1)  # noqa: E731
    cycles = tiled_layer_cycles(layers, take(tm), take(tn), take(tr), take(tc), ports[:, None])
    onehot = (fpga[:, :, None] == np.arange(kmax)[None, None, :]) & valid[:, :, None]
    used_fpga = np.arange(kmax)[None, :] < k[:, None]                          # (n, kmax)
    stage_s = np.einsum("nl,nlk->nk", cycles, onehot.astype(np.float64)) / CLOCK_HZ

    # link: output of the last layer of FPGA j (j < k-1), bytes / bandwidth
    out_elems = (layers.out_ch * layers.out_h * layers.out_w).astype(np.float64)
    last = np.where(onehot, idx, -1).max(axis=1)                               # (n, kmax)
    last_elems = np.take_along_axis(out_elems, np.maximum(last, 0), axis=1)
    has_next = np.arange(kmax)[None, :] < (k[:, None] - 1)
    link_s = np.where(has_next & (last >= 0), last_elems * WORD_BITS / (link[:, None] * 1e9), 0.0)

    slowest = np.maximum(np.where(used_fpga, stage_s, 0.0).max(axis=1), link_s.max(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        throughput = np.where(slowest > 0, 1.0 / slowest, np.inf)
        efficiency = np.where(slowest > 0, np.where(used_fpga, stage_s, 0.0).sum(axis=1)
                              / (k * slowest), 1.0)
    latency_ms = (stage_s.sum(axis=1) + link_s.sum(axis=1)) * 1e3

    # ---- resources per FPGA; template kernel = largest kernel on that FPGA
    kern = layers.kernel.astype(np.float64)
    is_conv = np.isin(layers.kind, (_K["conv"], _K["pwconv"], _K["fc"]))
    tk = np.where(onehot & is_conv[:, :, None], kern[:, :, None], 1.0).max(axis=1)
    dsp_f = np.where(used_fpga, tm * tn, 0.0)
    bram_f = np.where(used_fpga, tile_bram18k(tm, tn, tr, tc, tk), 0.0)
    cap_dsp = np.array([MULTI_DEVICES[d].dsp for d in dev], dtype=np.float64)[:, None]
    cap_bram = np.array([MULTI_DEVICES[d].bram18k for d in dev], dtype=np.float64)[:, None]
    over_dsp = used_fpga & (dsp_f > cap_dsp)
    over_bram = used_fpga & (bram_f > cap_bram)
    unsupported = valid & ~np.isin(layers.kind, _SUPPORTED)

    fail = bad_part | over_dsp.any(axis=1) | over_bram.any(axis=1) | unsupported.any(axis=1)
    reasons = [""] * n
    for i in np.flatnonzero(fail):
        msgs = []
        ki = int(k[i])
        if bad_part[i]:
            got = ", ".join(f"cut{c + 1}={int(cuts[i, c])}" for c in range(ki - 1))
            msgs.append(f"partition cut points must satisfy 0 < cut1 < ... < cut{ki - 1} < "
                        f"{int(n_valid[i])} (every FPGA gets a layer), got {got}")
        for jj in range(ki):
            if over_dsp[i, jj]:
                msgs.append(f"FPGA {jj} ({dev[i]}): DSP Tm*Tn = {int(tm[i, jj])}*"
                            f"{int(tn[i, jj])} = {int(dsp_f[i, jj])} > {int(cap_dsp[i, 0])}")
            if over_bram[i, jj]:
                msgs.append(f"FPGA {jj} ({dev[i]}): {int(bram_f[i, jj])} BRAM18K for tiles "
                            f"Tm={int(tm[i, jj])} Tn={int(tn[i, jj])} Tr={int(tr[i, jj])} "
                            f"Tc={int(tc[i, jj])} Tk={int(tk[i, jj])} > {int(cap_bram[i, 0])}")
        if unsupported[i].any():
            jl = int(np.argmax(unsupported[i]))
            msgs.append(f"layer {jl} is {LAYER_KINDS[int(layers.kind[i, jl])]}: the tiled "
                        f"conv template runs conv, pwconv, fc and pool layers only")
        reasons[i] = "; ".join(msgs)

    extra: dict[str, Any] = {
        "throughput_fps": throughput,
        "dsp": dsp_f.sum(axis=1),
        "bram18k": bram_f.sum(axis=1),
        "max_dsp_fraction": (dsp_f / cap_dsp).max(axis=1),
        "pipeline_efficiency": efficiency,
        "n_fpgas": k.copy(),
    }
    if per_fpga:
        extra.update(fpga_stage_ms=np.where(used_fpga, stage_s, 0.0) * 1e3,
                     fpga_link_ms=link_s * 1e3, fpga_dsp=dsp_f, fpga_bram18k=bram_f, fpga_tk=tk,
                     layer_fpga=np.where(valid, fpga, -1), layer_cycles=cycles)
    nan = np.full(n, np.nan)
    return CostResult(latency_ms=latency_ms, energy_mj=nan, area_mm2=nan.copy(),
                      feasible=~fail, reason=tuple(reasons), extra=extra)


class MultiFpgaBackend(CostBackend):
    """``fnas-multifpga``: the FNAS multi-FPGA pipeline model on any space whose network the
    template runs (built for ``fnas-cifar10``).

    Space parameters: ``n_fpgas`` (k), ``cut1..cut{kmax-1}`` (first layer of FPGA j),
    ``fpga{j}_tm``, ``fpga{j}_tn``, ``fpga{j}_tr`` for j < kmax (``Tc = Tr``), ``fpga_device``,
    ``port_words``, ``link_gbps``. kmax is the number of ``fpga{j}_tm`` parameters.
    """

    name = "fnas-multifpga"
    metrics: tuple[str, ...] = ("latency_ms", "throughput_fps", "dsp", "bram18k",
                                "pipeline_efficiency", "n_fpgas")

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]], *,
                 per_fpga: bool = False) -> CostResult:
        from ..networks import network_matrix, stack_matrices

        if space.network is None:
            raise ValueError(f"space {space.name!r} declares no network family; the "
                             f"fnas-multifpga backend needs one")
        kmax = 0
        while f"fpga{kmax}_tm" in space.names:
            kmax += 1
        need = ["n_fpgas", "fpga_device", "port_words", "link_gbps"]
        need += [f"cut{j}" for j in range(1, kmax)]
        need += [f"fpga{j}_{t}" for j in range(max(kmax, 1)) for t in ("tm", "tn", "tr")]
        missing = [p for p in need if p not in space.names]
        if missing:
            raise ValueError(f"the fnas-multifpga backend needs parameters {missing} that space "
                             f"{space.name!r} does not have")
        designs = [space.validate(d) for d in designs]
        n = len(designs)
        layers = stack_matrices([network_matrix(space.network, d) for d in designs])
        tile = {t: np.array([[d[f"fpga{j}_{t}"] for j in range(kmax)] for d in designs],
                            dtype=np.float64).reshape(n, kmax) for t in ("tm", "tn", "tr")}
        cuts = np.array([[d[f"cut{j}"] for j in range(1, kmax)] for d in designs],
                        dtype=np.float64).reshape(n, kmax - 1)
        return multifpga_cost(
            layers, [d["n_fpgas"] for d in designs], cuts, tile["tm"], tile["tn"], tile["tr"],
            device=[d["fpga_device"] for d in designs],
            port_words=[d["port_words"] for d in designs],
            link_gbps=[d["link_gbps"] for d in designs], per_fpga=per_fpga)


register_backend("fnas-multifpga", MultiFpgaBackend)
