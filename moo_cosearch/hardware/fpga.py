"""EDD's FPGA latency / resource model (Li et al., "EDD: Efficient Differentiable DNN Architecture
and Implementation Co-search for Embedded AI Solutions", DAC 2020, sections 3.2 and 4.1).

EDD maps each operation ``op_i`` (here: one searched MBConv block ``b{i}``: expand 1x1, depthwise
kxk, project 1x1 and the residual add) to an IP of parallelism ``2^pf`` (``2^pf`` multiplications
per cycle; the exponent ``pf`` is searched) running in ``q``-bit fixed point (``q`` searched per
block).

Latency, EDD Eq. 11-12 (``Lat^q(op) = sum over the layers l of op of lat_l``)::

    lat_l = Phi(q) * 2^-pf * work_l,   work_l = k^2*h*w*c_in*c_out   (conv, pwconv)
                                               k^2*h*w*c_in          (dw-conv)
                                               h*w*c_in              (otherwise: add, pool, mul)
    Phi(q) = q                                  ("for simplification, we let Phi(q) = q", 4.1.1)

Resource (DSPs), EDD Eq. 13: ``Res^q(op) = Psi(q) * 2^pf`` with ``Psi(q) = 1`` for 9 <= q <= 16,
``1/2`` for 5 <= q <= 8 (two multiplications per DSP48), ``0`` for q <= 4 ("multiplications are
computed using Lookup-tables"); the LUT multipliers of q <= 4 IPs are counted in ``lut``.

Architectures (EDD 4.1):

* ``recursive`` (CHaiDNN-like; EDD-Net-2, ZCU102): blocks that choose the same operation (same
  kernel and expansion) share one IP, so that its implementation variables are shared
  (``I_i^m = I^m``). Latency = sum of the blocks' latencies (Eq. 6, alpha = 1); resource =
  sum over the *used* operations of their IP's resource (Eq. 9-10).
* ``pipelined`` (DNNBuilder-like; EDD-Net-3, ZC706): every block has its own IP; resource = sum
  over blocks (Eq. 8); throughput = 1 / the slowest block's latency (Eq. 7, the exact max rather
  than its log-sum-exp relaxation); the latency of one input is the sum of the block latencies.

Sharing rule, Eq. 9: ``Res(op^m) <- tanh(sum_i GS(theta_{i,m})) * Res(op^m)``. For a discrete
design the Gumbel-softmax weights are one-hot, so ``sum_i GS = n_m``, the number of blocks using
op m, and Eq. 9 gives ``tanh(n_m) * Res`` (0.762 for one user, 0.964 for two, ...): EDD's smooth
stand-in for "counted once if used at all". ``dsp`` (used for the budget) counts each used IP
once, the value tanh approximates; ``dsp_eq9`` reports Eq. 9 as written. :func:`shared_resource`
evaluates Eq. 9-10 on soft (probability) weights too.

Assumptions where EDD leaves a constant open:

=====================================  ========================================================
what                                   value and why
=====================================  ========================================================
unit of Eq. 12                         cycles after dividing by ``Phi(Q_REF)``, ``Q_REF = 16``:
                                       a 16-bit IP (Psi = 1) with ``2^pf`` DSPs does ``2^pf``
                                       MACs per cycle; a q-bit one is ``q/16`` as long.
                                       ``latency_eq11`` keeps EDD's raw ``sum Phi(q)*work/2^pf``.
clock                                  200 MHz (:data:`CLOCK_HZ`); EDD gives none.
h, w in Eq. 12                         the layer's *output* size (so the conv / dw-conv terms
                                       equal the layer's MACs); input size for pool.
fc layers                              conv with k = h = w = 1 (only in fixed layers here).
BN, activations                        folded into the convolution (the package's convention),
                                       so the "otherwise" case covers add / pool / mul layers.
layers outside the 20 searched blocks  stem, the fixed first block and the head are not part of
                                       EDD's search (Eq. 6-10 sum over the N blocks); they are
                                       excluded from latency and resources.
IP shared by blocks with different     the IP is built for the largest q and the largest pf among
q or pf (recursive)                    the blocks mapped to it (the one IP that can run all of
                                       them; EDD requires them equal); its blocks run at its q/pf.
LUTs per q-bit multiplier (q <= 4)     ``q*q`` (array multiplier, one LUT6 per partial-product
                                       bit; our estimate, EDD gives no LUT figure).
device budgets                         ZCU102 (XCZU9EG): 2,520 DSP slices, 274,080 LUTs; ZC706
                                       (XC7Z045): 900 DSP slices (EDD 6: "ZC706 FPGA with 900
                                       DSPs"), 218,600 LUTs. Xilinx DS891 / DS190 product tables.
=====================================  ========================================================

A design is infeasible (``feasible=False`` with a reason) when its DSPs exceed the device's DSP
slices or its LUT multipliers exceed the device's LUTs.

Conventions shared by all backends (units, per-PE or shared memories, weight residency,
layer-by-layer or pipelined execution, what is not modelled): ``moo_cosearch/hardware/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..networks import LAYER_KINDS, LayerBatch
from ._base import CostBackend
from ._registry import register_backend
from ._result import CostResult

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["ARCHITECTURES", "CLOCK_HZ", "DEVICES", "EddBackend", "FpgaDevice", "Q_REF",
           "edd_cost", "lut_per_multiplier", "op_work", "phi", "psi", "shared_resource"]

ARCHITECTURES: tuple[str, ...] = ("recursive", "pipelined")
CLOCK_HZ = 200e6          # assumption: EDD publishes no clock
Q_REF = 16                # Phi(Q_REF) = one MAC per DSP per cycle (Psi(16) = 1)


@dataclass(frozen=True)
class FpgaDevice:
    """Resource budget of an FPGA part."""

    name: str
    dsp: int
    lut: int


#: Target devices (Xilinx DS891 for the Zynq UltraScale+ XCZU9EG on ZCU102, DS190 for the
#: Zynq-7000 XC7Z045 on ZC706). EDD-Net-2 targets ZCU102, EDD-Net-3 ZC706 (900 DSPs).
DEVICES: dict[str, FpgaDevice] = {
    "zcu102": FpgaDevice("zcu102", dsp=2520, lut=274_080),
    "zc706": FpgaDevice("zc706", dsp=900, lut=218_600),
}

_K = {name: i for i, name in enumerate(LAYER_KINDS)}


def _integers_in(values: Any, lo: int, hi: int, rule: str) -> np.ndarray:
    """``values`` as floats after checking they are integers in ``lo..hi`` (ValueError naming
    ``rule`` and the offending values otherwise)."""
    a = np.asarray(values)
    if a.dtype.kind not in "iuf" or not np.all(np.isfinite(a)) or np.any(a != np.round(a)) \
            or np.any((a < lo) | (a > hi)):
        raise ValueError(f"{rule}, got {np.unique(a).tolist()}")
    return a.astype(np.float64)


def _bits(q: Any) -> np.ndarray:
    return _integers_in(q, 1, 16, "quantisation bits must be integers in 1..16 (EDD's Psi is "
                                  "defined up to 16 bits)")


def phi(q: Any) -> np.ndarray:
    """EDD's latency calibration Phi(q) = q (section 4.1.1)."""
    return _bits(q)


def psi(q: Any) -> np.ndarray:
    """EDD's DSP calibration (section 4.1.2): 1 for 9..16 bits, 1/2 for 5..8, 0 for <= 4."""
    b = _bits(q)
    return np.select([b >= 9, b >= 5], [1.0, 0.5], default=0.0)


def lut_per_multiplier(q: Any) -> np.ndarray:
    """LUT6s of one LUT-based q-bit multiplier: ``q*q`` for q <= 4 (our estimate), else 0."""
    b = _bits(q)
    return np.where(b <= 4, b * b, 0.0)


def _pf(pf: Any) -> np.ndarray:
    return _integers_in(pf, 0, 20, "parallel factors must be integers in 0..20 (parallelism "
                                   "2^pf)")


def op_work(layers: LayerBatch) -> np.ndarray:
    """The bracket of EDD Eq. 12 for every layer, (n, L) float (0 on padding rows)."""
    f = {k: getattr(layers, k).astype(np.float64) for k in
         ("in_ch", "out_ch", "in_h", "in_w", "out_h", "out_w", "kernel")}
    kind = layers.kind
    k2 = f["kernel"] ** 2
    work = np.select(
        [(kind == _K["conv"]) | (kind == _K["pwconv"]) | (kind == _K["fc"]),
         kind == _K["dwconv"], kind == _K["pool"]],
        [k2 * f["out_h"] * f["out_w"] * f["in_ch"] * f["out_ch"],
         k2 * f["out_h"] * f["out_w"] * f["in_ch"],
         f["in_h"] * f["in_w"] * f["in_ch"]],
        default=f["out_h"] * f["out_w"] * f["in_ch"])
    return np.where(layers.valid, work, 0.0)


def shared_resource(usage: Any, res: Any, *, exact: bool = False) -> np.ndarray:
    """EDD Eq. 9-10: ``RES = sum_m tanh(sum_i usage[..., i, m]) * res[..., m]``.

    Args:
        usage: (..., N, M) Gumbel-softmax weights of op m in block i (one-hot for a discrete
            design, probabilities during a relaxed search).
        res: (..., M) resource of each op's IP.
        exact: use ``min(1, sum_i usage)`` instead of tanh (each used IP counted once).

    Returns:
        (...) total resource.
    """
    u = np.asarray(usage, dtype=np.float64)
    r = np.asarray(res, dtype=np.float64)
    if u.ndim < 2 or u.shape[-1] != r.shape[-1]:
        raise ValueError(f"usage must be (..., N, M) and res (..., M) with the same M, got shapes "
                         f"{u.shape} and {r.shape}")
    total = u.sum(axis=-2)
    weight = np.minimum(total, 1.0) if exact else np.tanh(total)
    return (weight * r).sum(axis=-1)


def edd_cost(layers: LayerBatch, block: np.ndarray, op_id: np.ndarray, bits: Any, pf: Any,
             architecture: Any, device: Any = "zcu102", *, per_block: bool = False) -> CostResult:
    """Latency, throughput, DSPs and LUTs of n EDD designs.

    Args:
        layers: n padded networks.
        block: (n, L) int, the searched block (0..N-1) each layer belongs to, -1 for layers
            outside the searched blocks (excluded) and padding.
        op_id: (n, N) int, the operation of each block (equal ids share an IP when recursive).
        bits: (n, N) quantisation bits per block (1..16).
        pf: (n, N) parallel-factor exponent per block.
        architecture: ``"recursive"`` / ``"pipelined"``, one for all or one per design.
        device: a key of :data:`DEVICES`, one for all or one per design.
        per_block: also return (n, N) ``block_latency_ms``, ``block_dsp`` (an IP's DSPs at the
            first block using it, 0 at the others), ``block_ip_pf`` and
            ``block_ip_bits`` in ``extra``.

    Returns:
        A :class:`CostResult` (energy and area NaN: EDD models neither) with ``extra``:
        ``throughput_fps``, ``dsp``, ``lut``, ``dsp_eq9`` (Eq. 9 as written), ``latency_eq11``
        (EDD's raw sum of Phi(q)*work/2^pf) and ``n_ips``.

    Raises:
        ValueError: malformed shapes, bits outside 1..16, bad parallel factors, an unknown
            architecture or device.
    """
    n, n_layers = layers.shape
    block = np.asarray(block)
    op_id = np.asarray(op_id)
    if block.shape != (n, n_layers) or block.dtype.kind not in "iu":
        raise ValueError(f"block must be an integer array of shape {(n, n_layers)}, got "
                         f"{block.dtype} {block.shape}")
    if op_id.ndim != 2 or op_id.shape[0] != n:
        raise ValueError(f"op_id must have shape (n={n}, N), got {op_id.shape}")
    n_blocks = op_id.shape[1]
    if np.any(block >= n_blocks) or np.any(block < -1):
        raise ValueError(f"block indices must be -1 or in 0..{n_blocks - 1}")
    q = np.broadcast_to(_bits(bits), (n, n_blocks)) if n_blocks else np.zeros((n, 0))
    p = np.broadcast_to(_pf(pf), (n, n_blocks)) if n_blocks else np.zeros((n, 0))
    arch = np.broadcast_to(np.asarray(architecture, dtype=object), (n,))
    bad = sorted({a for a in arch if a not in ARCHITECTURES}, key=str)
    if bad:
        raise ValueError(f"architecture must be one of {list(ARCHITECTURES)}, got {bad[0]!r}")
    dev = np.broadcast_to(np.asarray(device, dtype=object), (n,))
    bad = sorted({d for d in dev if d not in DEVICES}, key=str)
    if bad:
        raise ValueError(f"FPGA device must be one of {sorted(DEVICES)}, got {bad[0]!r}")
    pipelined = arch == "pipelined"

    # ---- IP of each block: own (pipelined) or shared by all blocks of the same op (recursive)
    same = (op_id[:, :, None] == op_id[:, None, :]) | np.eye(n_blocks, dtype=bool)
    same = np.where(pipelined[:, None, None], np.eye(n_blocks, dtype=bool), same)
    users = same.sum(axis=2).astype(np.float64)                 # blocks sharing block i's IP
    ip_q = np.where(same, q[:, None, :], 0.0).max(axis=2, initial=0.0)
    ip_pf = np.where(same, p[:, None, :], 0.0).max(axis=2, initial=0.0)
    par = 2.0 ** ip_pf

    # ---- latency, Eq. 11-12 at the IP's precision and parallelism
    work = op_work(layers)
    in_block = (block >= 0) & layers.valid
    onehot = (block[:, :, None] == np.arange(n_blocks)[None, None, :]) & in_block[:, :, None]
    block_work = np.einsum("nl,nlb->nb", work, onehot.astype(np.float64))
    lat_eq11 = phi(np.maximum(ip_q, 1)) * block_work / par          # EDD's raw Perf^q(op)
    block_s = lat_eq11 / Q_REF / CLOCK_HZ
    latency_ms = block_s.sum(axis=1) * 1e3
    stage = block_s.max(axis=1, initial=0.0)
    with np.errstate(divide="ignore"):
        throughput = np.where(pipelined, 1.0 / stage, 1.0 / block_s.sum(axis=1))

    # ---- resources, Eq. 13 and Eq. 8 / 9-10: an IP is counted at its first block
    ip_dsp = psi(np.maximum(ip_q, 1)) * par
    ip_lut = lut_per_multiplier(np.maximum(ip_q, 1)) * par
    first = ~np.tril(same, k=-1).any(axis=2)                    # no earlier block shares it
    dsp = np.where(first, ip_dsp, 0.0).sum(axis=1)
    lut = np.where(first, ip_lut, 0.0).sum(axis=1)
    dsp_eq9 = np.where(pipelined, dsp, np.where(first, np.tanh(users) * ip_dsp, 0.0).sum(axis=1))
    n_ips = first.sum(axis=1)

    budget_dsp = np.array([DEVICES[d].dsp for d in dev], dtype=np.float64)
    budget_lut = np.array([DEVICES[d].lut for d in dev], dtype=np.float64)
    over_dsp, over_lut = dsp > budget_dsp, lut > budget_lut
    feasible = ~(over_dsp | over_lut)
    reasons = [""] * n
    for i in np.flatnonzero(~feasible):
        msgs = []
        what = f"{arch[i]} design with {n_ips[i]} IPs"
        if over_dsp[i]:
            msgs.append(f"DSP budget: {dsp[i]:g} DSPs needed > {budget_dsp[i]:g} on {dev[i]}")
        if over_lut[i]:
            msgs.append(f"LUT budget: {lut[i]:g} LUTs of q<=4 multipliers > {budget_lut[i]:g} "
                        f"on {dev[i]}")
        reasons[i] = f"{what}: " + "; ".join(msgs)

    extra: dict[str, Any] = {"throughput_fps": throughput, "dsp": dsp, "lut": lut,
                             "dsp_eq9": dsp_eq9, "latency_eq11": lat_eq11.sum(axis=1),
                             "n_ips": n_ips}
    if per_block:
        extra.update(block_latency_ms=block_s * 1e3, block_dsp=np.where(first, ip_dsp, 0.0),
                     block_ip_pf=ip_pf, block_ip_bits=ip_q)
    nan = np.full(n, np.nan)
    return CostResult(latency_ms=latency_ms, energy_mj=nan, area_mm2=nan.copy(),
                      feasible=feasible, reason=tuple(reasons), extra=extra)


@lru_cache(maxsize=4096)
def _block_index(key: tuple) -> np.ndarray:
    """Searched-block index of every layer of the network ``key`` (-1 outside b0..b19)."""
    from ..networks import layers_of_key

    out = []
    for layer in layers_of_key(key):
        head = layer.name.split(".", 1)[0]
        out.append(int(head[1:]) if head[:1] == "b" and head[1:].isdigit() else -1)
    a = np.asarray(out, dtype=np.int64)
    a.setflags(write=False)
    return a


class EddBackend(CostBackend):
    """``fpga-edd``: the EDD FPGA model on an ``edd-mbconv`` space.

    The space needs, per searched block i < 20, ``b{i}_kernel``, ``b{i}_expansion``,
    ``b{i}_bits`` and ``b{i}_pf``, plus ``architecture`` and ``fpga_device`` (either may be
    fixed). Blocks with equal (kernel, expansion) are the same EDD operation.
    """

    name = "fpga-edd"
    metrics: tuple[str, ...] = ("latency_ms", "throughput_fps", "dsp", "lut", "dsp_eq9")

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]], *,
                 per_block: bool = False) -> CostResult:
        from ..networks import matrix_of_key, nas_key, stack_matrices
        from ..networks.fpga import EDD_BLOCKS

        if space.network != "edd-mbconv":
            raise ValueError(f"the fpga-edd backend needs an edd-mbconv space, space "
                             f"{space.name!r} has network {space.network!r}")
        need = [f"b{i}_{w}" for w in ("bits", "pf") for i in range(EDD_BLOCKS)]
        need += ["architecture", "fpga_device"]
        missing = [p for p in need if p not in space.names]
        if missing:
            raise ValueError(f"the fpga-edd backend needs parameters {missing[:4]}"
                             f"{' ...' if len(missing) > 4 else ''} that space {space.name!r} "
                             f"does not have")
        designs = [space.validate(d) for d in designs]
        keys = [nas_key(space.network, d) for d in designs]
        layers = stack_matrices([matrix_of_key(k) for k in keys])
        block = np.full(layers.shape, -1, dtype=np.int64)
        for i, k in enumerate(keys):
            b = _block_index(k)
            block[i, :b.shape[0]] = b
        op = np.array([[k * 1000 + e for k, e in zip(key[1], key[2])] for key in keys],
                      dtype=np.int64).reshape(len(designs), EDD_BLOCKS)
        bits = np.array([[d[f"b{i}_bits"] for i in range(EDD_BLOCKS)] for d in designs])
        pf = np.array([[d[f"b{i}_pf"] for i in range(EDD_BLOCKS)] for d in designs])
        return edd_cost(layers, block, op, bits.reshape(len(designs), EDD_BLOCKS),
                        pf.reshape(len(designs), EDD_BLOCKS),
                        [d["architecture"] for d in designs], [d["fpga_device"] for d in designs],
                        per_block=per_block)

    def reference(self, metric: str) -> float:
        if metric == "dsp":
            return float(DEVICES["zcu102"].dsp)
        raise ValueError(f"cost backend {self.name!r} has no baseline value for {metric!r}")


register_backend("fpga-edd", EddBackend)
