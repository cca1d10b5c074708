"""Heterogeneous multi-accelerator ASIC model of NASAIC (Yang et al., DAC 2020), vectorised over designs.

An accelerator is a set of sub-accelerators ``a0, a1, ...`` on one network-on-chip (NASAIC
Fig. 3, after HERALD [13]); sub-accelerator ``k`` has a dataflow template ``a{k}_dataflow``
(``shi`` ShiDianNao, ``dla`` NVDLA, ``rs`` Eyeriss row-stationary), ``a{k}_pes`` processing
elements (0 = absent) and a share ``a{k}_bw_gbps`` (GB/s) of the NoC bandwidth. The totals are
NASAIC's: at most :data:`MAX_PES` = 4096 PEs and :data:`MAX_BW_GBPS` = 64 GB/s; more is
infeasible. Memory is not searched: "the memory size can be determined to support the full use
of hardware, as in [14]" (NASAIC section III), so buffers are sized per PE (below).

Per-layer cost of each template (MAESTRO-style data-centric reasoning, H. Kwon et al., "Understanding
reuse, performance, and hardware cost of DNN dataflow: a data-centric approach", MICRO 2019 =
NASAIC [14]): a template fixes which loop dimensions are unrolled over the P PEs (spatial map)
and which operand stays in the PEs (stationary); compute cycles follow from the unrolled
dimensions' folds, and the NoC traffic between the global buffer and the PEs from the reuse of
the other operands. Notation for a layer: K output channels, C = Cin/groups reduction
channels, Kg = K/groups output channels reading one input channel (K for a dense conv, 1 for a
depthwise one), Y'X' output pixels, R = S = kernel, W / I / O weight / input / output bytes
(8-bit data). One MAC per PE per cycle, clock :data:`CLOCK_HZ`::

    shi  ShiDianNao [Du et al., ISCA 2015]: output-stationary, output pixels over the PEs;
         kernel weights broadcast, inputs shifted between neighbouring PEs.
           cycles  = ceil(Y'X' / P) * K * C * R * S
           traffic = W * ceil(Y'X' / P) + I + O      (weights re-broadcast per pixel fold)
    dla  NVDLA [NVIDIA 2017]: weight-stationary MAC array of atomic-C x atomic-K cells, an adder
         tree reducing C; Pc = min(P, 64) (nv_full atomic-C), Pk = floor(P / Pc).
           cycles  = ceil(C / Pc) * ceil(K / Pk) * Y'X' * R * S
           traffic = W + I * ceil(Kg / Pk) + O       (inputs re-read per output-channel fold)
    rs   Eyeriss row-stationary [Chen et al., ISCA 2016]: a "PE set" of R filter rows x e output
         rows (e = min(Y', floor(P/R)), 1-D row convolutions of X'*S MACs per PE), sets
         replicated over (input, output) channel pairs.
           passes  = ceil(Y' / e),   sets = floor(P / (R * e))
           cycles  = passes * ceil(K * C / sets) * X' * S
           traffic = W * passes + I * ceil(Kg / sets) + O

Pool / add / mul layers are element-wise on any template: ``cycles = ceil(ops / P)``, traffic
``I + O``. Layer latency = ``max(cycles / CLOCK_HZ, traffic / bandwidth)`` (compute and NoC
transfers overlap, as in MAESTRO's roofline-style runtime).

Energy per layer (pJ) = MACs * e_mac + element ops * e_mac + MACs * 2 B * e_L1(template L1)
+ traffic * (e_L2(global buffer) + e_noc) + W * e_dram (weights fetched from DRAM once per
inference). SRAM energies come from :func:`~moo_cosearch.hardware.edge.sram_pj_per_byte`
(Horowitz ISSCC 2014, log-log in capacity). Leakage is not modelled.

Area (mm^2) of a sub-accelerator = P * (A_mac + (L1 + L2 per PE) * 8 * A_bit) with the 45 nm MAC
and SRAM-bit areas of :mod:`~moo_cosearch.hardware.edge`; NoC routers and NICs are not counted.

Mapping and scheduling (NASAIC maps layers with the heuristic of Shao et al. [23]; we use the
classic list-scheduling heuristic HEFT, H. Topcuoglu, S. Hariri, M.-Y. Wu, "Performance-effective
and low-complexity task scheduling for heterogeneous computing", IEEE TPDS 13(3), 2002): every
task's network is a chain of layers, tasks are independent and start at time 0. A layer's
priority is its upward rank, the mean latency over the present sub-accelerators of it and all
later layers of its network. Repeatedly, the ready layer (the next one of some task) with the
highest rank (ties: lower task index) goes to the sub-accelerator where it finishes earliest
(start = max(sub-accelerator free, previous layer of its task done); ties: lower index),
appended after the layers already placed there (no insertion into idle gaps). Activations move
through the shared global buffer whichever sub-accelerator runs a layer, so a change of
sub-accelerator between consecutive layers costs nothing extra. Workload latency is the
makespan; energy is the sum over the layers of their energy on the sub-accelerator chosen.

Conventions shared by all backends (units, per-PE or shared memories, weight residency,
layer-by-layer or pipelined execution, what is not modelled): ``moo_cosearch/hardware/README.md``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..networks import LAYER_KINDS, LayerBatch
from ..networks.nasaic import WORKLOADS
from ._base import CostBackend
from ._registry import register_backend
from ._result import COST_FIELDS, CostResult
from ._schedule import Schedule, schedule
from .edge import A_MAC_UM2, A_SRAM_BIT_UM2, E_DRAM_PJ_PER_BYTE, E_MAC_PJ, sram_pj_per_byte

__all__ = ["CLOCK_HZ", "MAX_BW_GBPS", "MAX_PES", "TEMPLATES", "WORKLOADS", "HeteroBackend",
           "Schedule", "design_arrays", "hetero_area_mm2", "hetero_cost", "schedule",
           "subaccelerators", "template_layer_cost", "workload_tasks"]

# ---------------------------------------------------------------------------------------------
# Constants. [N] NASAIC (Yang et al., DAC 2020) section V-A; [NV] NVDLA hardware architecture documentation,
# nv_full configuration (atomic-C 64, 512 KB convolution buffer for 2048 int8 MACs);
# [E] Y.-H. Chen et al., Eyeriss, ISCA 2016 (per-PE scratchpads 12 + 224 + 24 16-bit words,
# a NoC transfer ~2x an ALU operation in its normalised energy table).
MAX_PES = 4096                  # [N]
MAX_BW_GBPS = 64.0              # [N] 64 GB/s NoC bandwidth in total
CLOCK_HZ = 1.0e9                # assumption: 1 GHz (NASAIC gives no clock)
DLA_ATOMIC_C = 64               # [NV]
#: Dataflow templates, in the order of their integer ids.
TEMPLATES: tuple[str, ...] = ("shi", "dla", "rs")
#: Local (per-PE) storage of each template, bytes: shi registers + FIFO-H/V (assumption: 64 B),
#: dla weight latch + pipeline registers (assumption: 16 B), rs scratchpads [E] 260 x 2 B.
L1_BYTES: dict[str, float] = {"shi": 64.0, "dla": 16.0, "rs": 520.0}
L2_BYTES_PER_PE = 256.0         # [NV] 512 KB / 2048 MACs: global buffer sized with the array
L1_BYTES_PER_MAC = 2.0          # assumption: one input and one weight operand read per MAC
E_NOC_PJ_PER_BYTE = 2 * E_MAC_PJ  # [E] NoC transfer ~2 ALU ops (per byte: assumption)
# ---------------------------------------------------------------------------------------------

_K = {name: i for i, name in enumerate(LAYER_KINDS)}


def _cdiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.ceil(a / b)


def _template_ids(dataflow: Any) -> np.ndarray:
    """Template names (or ids) -> int array; ValueError on unknown names."""
    a = np.asarray(dataflow)
    if a.dtype.kind in "iu":
        if np.any((a < 0) | (a >= len(TEMPLATES))):
            raise ValueError(f"dataflow ids must be in 0..{len(TEMPLATES) - 1}, got {a}")
        return a.astype(np.int64)
    out = np.empty(a.shape, dtype=np.int64)
    for idx, name in np.ndenumerate(a):
        if name not in TEMPLATES:
            raise ValueError(f"dataflow must be one of {list(TEMPLATES)}, got {str(name)!r}")
        out[idx] = TEMPLATES.index(name)
    return out


def _positive_or_zero(x: Any, what: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numeric, got {x!r}") from None
    if not np.all(np.isfinite(a) & (a >= 0)):
        raise ValueError(f"{what} must be finite and >= 0, got {x!r}")
    return a


def template_layer_cost(layers: LayerBatch, dataflow: Any, pes: Any,
                        bw_gbps: Any) -> dict[str, np.ndarray]:
    """Per-layer cost of n networks, each on one sub-accelerator (see the module docstring).

    Args:
        layers: n padded networks.
        dataflow: (n,) template names or ids (scalars broadcast).
        pes: (n,) PE counts, > 0 (scalars broadcast).
        bw_gbps: (n,) NoC bandwidth, GB/s, > 0 (scalars broadcast).

    Returns:
        ``latency_s``, ``energy_pj``, ``cycles``, ``traffic_bytes``: (n, L) float arrays, 0 on
        padding rows.

    Raises:
        ValueError: unknown template, or non-positive / non-finite PEs or bandwidth.
    """
    n = layers.shape[0]
    t = np.broadcast_to(_template_ids(dataflow), (n,))[:, None]
    p = np.broadcast_to(_positive_or_zero(pes, "pes"), (n,))[:, None]
    bw = np.broadcast_to(_positive_or_zero(bw_gbps, "bw_gbps"), (n,))[:, None]
    if np.any(p < 1) or np.any(bw <= 0):
        raise ValueError(f"a sub-accelerator needs pes >= 1 and bw_gbps > 0, got pes "
                         f"{p.ravel()} and bw_gbps {bw.ravel()}")
    p = np.floor(p)
    f = {k: getattr(layers, k).astype(np.float64) for k in (
        "in_ch", "out_ch", "out_h", "out_w", "kernel", "groups", "macs", "vector_ops",
        "input_bytes", "output_bytes", "weight_bytes")}
    kind, valid = layers.kind, layers.valid
    is_mac = np.isin(kind, [_K["conv"], _K["pwconv"], _K["dwconv"], _K["fc"]])
    g = np.maximum(f["groups"], 1.0)
    k_out, c_red, k_g = f["out_ch"], f["in_ch"] / g, f["out_ch"] / g
    yx, y, x = f["out_h"] * f["out_w"], f["out_h"], f["out_w"]
    r = np.maximum(f["kernel"], 1.0)                    # padding rows have kernel 0
    w_b, i_b, o_b = f["weight_bytes"], f["input_bytes"], f["output_bytes"]

    # shi: output pixels over the PEs
    fold_px = _cdiv(yx, p)
    shi_cyc = fold_px * k_out * c_red * r * r
    shi_tr = w_b * fold_px + i_b + o_b
    # dla: C x K MAC array
    pc = np.minimum(p, DLA_ATOMIC_C)
    pk = np.floor(p / pc)
    dla_cyc = _cdiv(c_red, pc) * _cdiv(k_out, pk) * yx * r * r
    dla_tr = w_b + i_b * _cdiv(k_g, pk) + o_b
    # rs: R x e PE sets
    e = np.maximum(1.0, np.minimum(y, np.floor(p / r)))
    passes = _cdiv(y, e)
    sets = np.maximum(1.0, np.floor(p / (r * e)))
    rs_cyc = passes * _cdiv(k_out * c_red, sets) * x * r
    rs_tr = w_b * passes + i_b * _cdiv(k_g, sets) + o_b

    mac_cyc = np.select([t == 0, t == 1], [shi_cyc, dla_cyc], rs_cyc)
    mac_tr = np.select([t == 0, t == 1], [shi_tr, dla_tr], rs_tr)
    cycles = np.where(valid, np.where(is_mac, mac_cyc, _cdiv(f["vector_ops"], p)), 0.0)
    traffic = np.where(valid, np.where(is_mac, mac_tr, i_b + o_b), 0.0)
    latency_s = np.maximum(cycles / CLOCK_HZ, traffic / (bw * 1e9))

    l1 = np.array([L1_BYTES[name] for name in TEMPLATES])[t]
    e_l1 = sram_pj_per_byte(l1)
    e_l2 = sram_pj_per_byte(L2_BYTES_PER_PE * p)
    macs = np.where(valid, f["macs"], 0.0)
    vec = np.where(valid, f["vector_ops"], 0.0)
    energy_pj = ((macs + vec) * E_MAC_PJ + macs * L1_BYTES_PER_MAC * e_l1
                 + traffic * (e_l2 + E_NOC_PJ_PER_BYTE)
                 + np.where(valid, w_b, 0.0) * E_DRAM_PJ_PER_BYTE)
    return {"latency_s": latency_s, "energy_pj": energy_pj, "cycles": cycles,
            "traffic_bytes": traffic}


def hetero_area_mm2(dataflow: Any, pes: Any) -> np.ndarray:
    """Area of sub-accelerators, mm^2: ``P * (A_mac + (L1 + L2/PE) * 8 * A_bit)``.

    Args:
        dataflow: template names or ids, any shape.
        pes: PE counts of the same shape (0 = absent, area 0).
    """
    t = _template_ids(dataflow)
    p = _positive_or_zero(pes, "pes")
    l1 = np.array([L1_BYTES[name] for name in TEMPLATES])[t]
    return p * (A_MAC_UM2 + (l1 + L2_BYTES_PER_PE) * 8 * A_SRAM_BIT_UM2) * 1e-6


def hetero_cost(tasks: Sequence[LayerBatch], dataflow: Any, pes: Any, bw_gbps: Any, *,
                max_pes: float = MAX_PES, max_bw_gbps: float = MAX_BW_GBPS) -> CostResult:
    """Latency, energy, area and feasibility of n heterogeneous-accelerator designs.

    Args:
        tasks: one LayerBatch of n networks per task.
        dataflow: (n, A) template names or ids of the A sub-accelerators.
        pes: (n, A) PE counts (0 = the sub-accelerator is absent).
        bw_gbps: (n, A) NoC bandwidth shares, GB/s (those of absent sub-accelerators are not
            allocated and not counted).
        max_pes, max_bw_gbps: the budgets.

    Returns:
        A :class:`CostResult`; ``latency_ms`` is the makespan; ``extra`` has ``t{j}_latency_ms``
        (n,) per task, ``pes_total``, ``bw_total_gbps``, ``n_subaccs`` (n,), ``busy_ms`` (n, A),
        ``assignment`` (one (n, L_j) array per task, a tuple). Designs over a budget are costed
        as if they ran; a design with no usable sub-accelerator (no PEs, or PEs without
        bandwidth) has all costs 0. Both are ``feasible=False`` with the rule in ``reason``.

    Raises:
        ValueError: malformed input (shapes, unknown template, negative or non-finite values).
    """
    if not tasks:
        raise ValueError("hetero_cost needs at least one task")
    n = tasks[0].shape[0]
    if any(tb.shape[0] != n for tb in tasks):
        raise ValueError(f"every task needs the same number of designs, got "
                         f"{[tb.shape[0] for tb in tasks]}")
    t_ids = _template_ids(dataflow)
    p = _positive_or_zero(pes, "pes")
    bw = _positive_or_zero(bw_gbps, "bw_gbps")
    if t_ids.ndim != 2 or t_ids.shape[0] != n or p.shape != t_ids.shape or bw.shape != t_ids.shape:
        raise ValueError(f"dataflow, pes and bw_gbps must all be (n={n}, A) arrays, got "
                         f"{t_ids.shape}, {p.shape}, {bw.shape}")
    n_acc = t_ids.shape[1]
    has_pes = p >= 1
    usable = has_pes & (bw > 0)
    pes_total = np.where(has_pes, p, 0.0).sum(axis=1)
    bw_total = np.where(has_pes, bw, 0.0).sum(axis=1)
    ok = usable.any(axis=1)

    lat_tasks, e_tasks = [], []
    for tb in tasks:
        lat = np.zeros(tb.shape + (n_acc,))
        eng = np.zeros(tb.shape + (n_acc,))
        for a in range(n_acc):
            m = usable[:, a]
            if m.any():
                sub = LayerBatch(**{k: getattr(tb, k)[m] for k in tb.__dataclass_fields__})
                c = template_layer_cost(sub, t_ids[m, a], p[m, a], bw[m, a])
                lat[m, :, a] = c["latency_s"]
                eng[m, :, a] = c["energy_pj"]
        lat_tasks.append(lat)
        e_tasks.append(eng)
    makespan = np.zeros(n)
    finish = np.zeros((n, len(tasks)))
    energy = np.zeros(n)
    busy = np.zeros((n, n_acc))
    assign = tuple(np.full(tb.shape, -1, dtype=np.int64) for tb in tasks)
    if ok.any():
        s = schedule([x[ok] for x in lat_tasks], [x[ok] for x in e_tasks],
                     [tb.valid[ok] for tb in tasks], usable[ok])
        makespan[ok], finish[ok], energy[ok], busy[ok] = (s.makespan, s.task_finish, s.energy,
                                                          s.busy)
        for j in range(len(tasks)):
            assign[j][ok] = s.assignment[j]
    area = np.where(has_pes, hetero_area_mm2(t_ids, p), 0.0).sum(axis=1)

    reasons = []
    for i in range(n):
        msgs = []
        if pes_total[i] > max_pes:
            parts = " + ".join(f"a{a} {p[i, a]:g}" for a in range(n_acc) if has_pes[i, a])
            msgs.append(f"total PEs must be <= {max_pes:g}, got {pes_total[i]:g} ({parts})")
        if bw_total[i] > max_bw_gbps:
            parts = " + ".join(f"a{a} {bw[i, a]:g}" for a in range(n_acc) if has_pes[i, a])
            msgs.append(f"total NoC bandwidth must be <= {max_bw_gbps:g} GB/s, got "
                        f"{bw_total[i]:g} GB/s ({parts})")
        for a in np.flatnonzero(has_pes[i] & ~usable[i]):
            msgs.append(f"a sub-accelerator with PEs needs NoC bandwidth > 0, got a{a} with "
                        f"{p[i, a]:g} PEs and {bw[i, a]:g} GB/s")
        if not has_pes[i].any():
            msgs.append("at least one sub-accelerator must have PEs, got pes "
                        f"{[float(v) for v in p[i]]}")
        reasons.append("; ".join(msgs))
    feasible = np.array([not r for r in reasons], dtype=bool)
    extra: dict[str, Any] = {f"t{j}_latency_ms": finish[:, j] * 1e3 for j in range(len(tasks))}
    extra.update(pes_total=pes_total, bw_total_gbps=bw_total,
                 n_subaccs=usable.sum(axis=1).astype(np.float64), busy_ms=busy * 1e3,
                 assignment=assign)
    return CostResult(latency_ms=makespan * 1e3, energy_mj=energy * 1e-9, area_mm2=area,
                      feasible=feasible, reason=tuple(reasons), extra=extra)


def workload_tasks(network: str | None) -> tuple[tuple[str, str], ...]:
    """(family, parameter prefix) of each task of a space's ``network`` field.

    A workload name of :data:`WORKLOADS` gives prefixes ``t0_``, ``t1_``, ...; a single network
    family gives one task with no prefix.

    Raises:
        ValueError: ``network`` is neither.
    """
    from ..networks import list_families

    if network in WORKLOADS:
        return tuple((fam, f"t{j}_") for j, fam in enumerate(WORKLOADS[network]))
    if network in list_families():
        return ((network, ""),)
    raise ValueError(f"the hetero backend needs a space network that is a workload "
                     f"{sorted(WORKLOADS)} or a network family {list_families()}, got {network!r}")


def subaccelerators(names: Sequence[str]) -> int:
    """Number A of sub-accelerators ``a0 .. a{A-1}`` declared by parameter names.

    Raises:
        ValueError: none declared, or one without all of dataflow / pes / bw_gbps.
    """
    count = 0
    while any(n.startswith(f"a{count}_") for n in names):
        count += 1
    if count == 0:
        raise ValueError("the hetero backend needs sub-accelerator parameters a0_dataflow, "
                         "a0_pes, a0_bw_gbps (a1_..., ...), found none")
    for a in range(count):
        missing = [f"a{a}_{s}" for s in ("dataflow", "pes", "bw_gbps") if f"a{a}_{s}" not in names]
        if missing:
            raise ValueError(f"sub-accelerator a{a} needs parameters {missing}")
    return count


def design_arrays(designs: Sequence[Mapping[str, Any]], n_acc: int) -> tuple[np.ndarray, ...]:
    """(dataflow, pes, bw_gbps) (n, A) arrays of design dicts."""
    df = np.array([[d[f"a{a}_dataflow"] for a in range(n_acc)] for d in designs],
                  dtype=object).reshape(len(designs), n_acc)
    pes = np.array([[d[f"a{a}_pes"] for a in range(n_acc)] for d in designs],
                   dtype=object).reshape(len(designs), n_acc)
    bw = np.array([[d[f"a{a}_bw_gbps"] for a in range(n_acc)] for d in designs],
                  dtype=object).reshape(len(designs), n_acc)
    for name, arr in (("pes", pes), ("bw_gbps", bw)):
        for v in arr.ravel():
            if isinstance(v, (bool, str)) or not isinstance(v, (int, float, np.number)):
                raise ValueError(f"a{{k}}_{name} must be a number, got {v!r}")
    return _template_ids(df), pes.astype(np.float64), bw.astype(np.float64)


class HeteroBackend(CostBackend):
    """The NASAIC heterogeneous multi-accelerator model (backend ``hetero``).

    The space's ``network`` names a workload of :data:`WORKLOADS` (task ``j``'s NAS parameters
    prefixed ``t{j}_``) or one network family (unprefixed); its HAS parameters are
    ``a{k}_dataflow`` / ``a{k}_pes`` / ``a{k}_bw_gbps`` for k = 0, 1, ...
    """

    name = "hetero"
    #: t0/t1 latencies: the NASAIC workloads have two tasks (0 when a space has one task).
    metrics = COST_FIELDS + ("t0_latency_ms", "t1_latency_ms")

    def evaluate(self, space: Any, designs: Sequence[Mapping[str, Any]]) -> CostResult:
        from ..networks import network_matrix, stack_matrices

        tasks = workload_tasks(space.network)
        n_acc = subaccelerators(space.names)
        designs = [space.validate(d) for d in designs]
        batches = []
        for family, prefix in tasks:
            k = len(prefix)
            mats = [network_matrix(family, {name[k:]: v for name, v in d.items()
                                            if name.startswith(prefix)}) for d in designs]
            batches.append(stack_matrices(mats))
        df, pes, bw = design_arrays(designs, n_acc)
        res = hetero_cost(batches, df, pes, bw)
        if "t1_latency_ms" not in res.extra:
            res.extra["t1_latency_ms"] = np.zeros(len(designs))
        return res


register_backend("hetero", HeteroBackend)
