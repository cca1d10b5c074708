"""ZigZag backend: the NAHAS edge accelerator evaluated by the ZigZag cost model.

ZigZag (Mei et al., "ZigZag: Enlarging joint architecture-mapping design space exploration for
DNN accelerators", IEEE TC 2021; PyPI ``zigzag-dse``, install ``moo-cosearch[zigzag]``) searches
spatial and temporal mappings of every layer on a described memory hierarchy and reports the
energy and latency of the best one. This module builds, from the edge parameters
(:data:`~moo_cosearch.hardware.edge.EDGE_PARAMS`) and our layer lists, the equivalent description:

* operational array ``D1 x D2 x D3 x D4`` = ``simd_units x 4 (4-way MAC) x compute_lanes x
  (pes_x * pes_y)``; ZigZag mapping files accept at most four dimensions, so the PE array is one
  flattened dimension of ``pes_x * pes_y``. MAC energy :data:`~moo_cosearch.hardware.edge.E_MAC_PJ`.
* ``rf``: one register file per lane (``register_file_kb``), shared by the lane's SIMD units
  (serves D1, D2), holding all three operands.
* ``lm``: one local memory per PE (``local_memory_mb``), shared by its lanes (serves D1-D3).
* ``dram``: ``io_bandwidth_gbyte_s`` GB/s at the 0.8 GHz clock, :data:`E_DRAM_PJ_PER_BYTE`.

SRAM access energies come from :func:`~moo_cosearch.hardware.edge.sram_pj_per_byte` (same
numbers as our models); areas are ours (:func:`~moo_cosearch.hardware.edge.edge_area_mm2`), not
ZigZag's. Layers map to ZigZag operators: conv/pwconv/fc -> ``Conv`` (``K, C, OY, OX, FY, FX``),
dwconv -> ``Conv`` over a group dimension ``G``, pool -> ``Pooling``, add/mul -> ``Add``.
ZigZag runs layer by layer (each layer's operands start and end in DRAM). Latency is ZigZag's
``latency_total2`` (cycles incl. on/off-loading) at 0.8 GHz; energy its ``energy_total``.

A ZigZag evaluation of a MobileNetV2 takes seconds, so this backend is for validation and for
training surrogates, not for searching. Designs ZigZag cannot map are reported infeasible with
ZigZag's error message.

Conventions shared by all backends (units, per-PE or shared memories, weight residency,
layer-by-layer or pipelined execution, what is not modelled): ``moo_cosearch/hardware/README.md``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..networks import Layer
from ._base import CostBackend
from ._registry import register_backend, register_backend_prefix
from ._result import COST_FIELDS, CostResult
from .edge import (CLOCK_HZ, E_DRAM_PJ_PER_BYTE, E_MAC_PJ, EDGE_PARAMS, KB, MACS_PER_SIMD, MB,
                   EdgeBackend, edge_area_mm2, edge_inputs, sram_pj_per_byte)

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["ZigZagBackend", "zigzag_accelerator", "zigzag_available", "zigzag_layer_costs",
           "zigzag_network_cost", "zigzag_with_options", "zigzag_workload"]

#: Word width of the register files and the local memories, bits per access.
RF_WORD_BITS = 64
LM_WORD_BITS = 512
DRAM_WORD_BITS = 64

_MAPPING = """\
- name: default
  memory_operand_links: {O: O, W: I2, I: I1}
- name: Pooling
  memory_operand_links: {O: O, W: I2, I: I1}
- name: Add
  memory_operand_links: {O: O, W: I2, I: I1}
"""


def zigzag_available() -> bool:
    """True when ``zigzag-dse`` can be imported."""
    try:
        import zigzag.api  # noqa: F401
    except Exception:  # pragma: no cover - depends on the environment
        return False
    return True


def _memory(name: str, size_bits: float, word_bits: int, pj_per_byte: float,
            served: list[str], bw_bits: float | None = None) -> dict[str, Any]:
    cost = float(pj_per_byte) * word_bits / 8
    bw = int(bw_bits if bw_bits is not None else word_bits)
    rw = ["I1, tl", "I1, fh", "I2, tl", "I2, fh", "O, tl", "O, fh", "O, th", "O, fl"]
    return {
        "size": int(size_bits), "r_cost": cost, "w_cost": cost, "area": 0, "latency": 1,
        "operands": ["I1", "I2", "O"],
        "ports": [{"name": "rw_port_1", "type": "read_write", "bandwidth_min": min(bw, word_bits),
                   "bandwidth_max": bw, "allocation": rw}],
        "served_dimensions": served,
    }


def zigzag_accelerator(hw: Mapping[str, float]) -> dict[str, Any]:
    """The ZigZag accelerator description (as the YAML dict) of one edge design.

    Args:
        hw: one value per name in :data:`~moo_cosearch.hardware.edge.EDGE_PARAMS`.

    Returns:
        A dict in ZigZag's accelerator YAML schema.
    """
    missing = [p for p in EDGE_PARAMS if p not in hw]
    if missing:
        raise ValueError(f"zigzag accelerator needs edge parameters {missing}")
    rf_b = float(hw["register_file_kb"]) * KB
    lm_b = float(hw["local_memory_mb"]) * MB
    lanes, simd = int(hw["compute_lanes"]), int(hw["simd_units"])
    pes = int(hw["pes_x"]) * int(hw["pes_y"])
    dram_bits_per_cycle = float(hw["io_bandwidth_gbyte_s"]) * 1e9 * 8 / CLOCK_HZ
    return {
        "name": "nahas_edge",
        "memories": {
            "rf": _memory("rf", rf_b * 8, RF_WORD_BITS, sram_pj_per_byte(rf_b), ["D1", "D2"],
                          bw_bits=RF_WORD_BITS * simd),
            "lm": _memory("lm", lm_b * 8, LM_WORD_BITS, sram_pj_per_byte(lm_b),
                          ["D1", "D2", "D3"]),
            "dram": _memory("dram", 1e12, DRAM_WORD_BITS, E_DRAM_PJ_PER_BYTE,
                            ["D1", "D2", "D3", "D4"], bw_bits=max(DRAM_WORD_BITS,
                                                                  round(dram_bits_per_cycle))),
        },
        "operational_array": {"unit_energy": E_MAC_PJ, "unit_area": 1,
                              "dimensions": ["D1", "D2", "D3", "D4"],
                              "sizes": [simd, MACS_PER_SIMD, lanes, pes]},
    }


def zigzag_workload(layers: Sequence[Layer]) -> list[dict[str, Any]]:
    """ZigZag workload (list of layer dicts) of a network; 8-bit operands, 16-bit partial sums."""
    out = []
    prec = {"W": 8, "I": 8, "O": 16, "O_final": 8}
    for i, ly in enumerate(layers):
        src = {"I": max(i - 1, 0), "W": i}
        s, k = ly.stride, ly.kernel
        rel = [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"]
        if ly.kind in ("conv", "pwconv", "fc"):
            d = {"operator_type": "Conv",
                 "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
                 "dimension_relations": rel, "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
                 "loop_sizes": [1, ly.out_ch, ly.in_ch // ly.groups, ly.out_h, ly.out_w, k, k]}
        elif ly.kind == "dwconv":
            d = {"operator_type": "Conv",
                 "equation": "O[b][g][oy][ox]+=W[g][fy][fx]*I[b][g][iy][ix]",
                 "dimension_relations": rel, "loop_dims": ["B", "G", "OY", "OX", "FY", "FX"],
                 "loop_sizes": [1, ly.out_ch, ly.out_h, ly.out_w, k, k]}
        elif ly.kind == "pool":
            d = {"operator_type": "Pooling",
                 "equation": "O[b][g][oy][ox]+=W[fx][fy]*I[b][g][iy][ix]",
                 "dimension_relations": rel, "loop_dims": ["B", "G", "OY", "OX", "FX", "FY"],
                 "loop_sizes": [1, ly.out_ch, ly.out_h, ly.out_w, k, k]}
            prec = {"W": 0, "I": 8, "O": 16, "O_final": 8}
        else:  # add, mul: element-wise, two 8-bit operands
            d = {"operator_type": "Add",
                 "equation": "O[b][g][oy][ox]=W[b][g][oy][ox]+I[b][g][oy][ox]",
                 "loop_dims": ["B", "G", "OY", "OX"],
                 "loop_sizes": [1, ly.out_ch, ly.out_h, ly.out_w]}
        d.update({"id": i, "name": ly.name or f"layer{i}", "operand_precision": dict(prec),
                  "operand_source": src})
        prec = {"W": 8, "I": 8, "O": 16, "O_final": 8}
        out.append(d)
    return out


#: ZigZag's cost of one layer shape on one accelerator: (latency in cycles, energy, MAC
#: energy, memory energy in pJ), keyed by (layer shape, accelerator, lpf_limit, n_spatial).
#: ZigZag runs layer by layer with no inter-layer state, so a layer costs the same wherever
#: it sits: every call of this process shares the entries (least recently used dropped first).
_LAYER_CACHE: "OrderedDict[tuple, tuple[float, float, float, float]]" = OrderedDict()
_CACHE_SIZE = 200_000


def _tolerate_short_layers() -> None:
    """Let ZigZag price layers whose operands load in fewer cycles than one period needs.

    ZigZag 3.9's ``CostModelEvaluation.reduce_ordered`` (the overlap of loading with
    computation at a memory port) reduces each operand's loading cycles ``c`` towards its
    one-period minimum ``m`` and then asserts ``c >= m``. For layers with almost no computation
    on an unrolled memory level (global pooling, squeeze-excite and classifier fc layers) ``c``
    starts below ``m``; the reduction already leaves such an operand untouched
    (``max(0, c - m)`` is 0), so only the assertion fails and the whole network is lost. The
    wrapper passes ``min(c, m)`` as the minimum: the same reductions and results wherever the
    original does not raise, and the unreduced cycles where it would. Installed once, on the
    first ZigZag run of the process.
    """
    from zigzag.cost_model.cost_model import CostModelEvaluation

    original = CostModelEvaluation.reduce_ordered
    if getattr(original, "_moo_cosearch_tolerant", False):
        return

    def reduce_ordered(c_list, m_list, s):
        return original(c_list, [min(c, m) for c, m in zip(c_list, m_list)], s)

    reduce_ordered._moo_cosearch_tolerant = True
    CostModelEvaluation.reduce_ordered = staticmethod(reduce_ordered)


def _shape(ly: Layer) -> tuple:
    return (ly.kind, ly.in_ch, ly.out_ch, ly.in_h, ly.in_w, ly.out_h, ly.out_w, ly.kernel,
            ly.stride, ly.groups)


def _run_layers(layers: Sequence[Layer], hw: Mapping[str, float], lpf_limit: int,
                n_spatial: int) -> list[tuple[float, float, float, float]]:
    """One ZigZag run over ``layers`` (distinct shapes) on one accelerator: each layer's
    (latency cycles, energy, MAC energy, memory energy in pJ), in order."""
    import yaml
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.main import MainStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import (
        TemporalMappingGeneratorStage)
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage
    from zigzag.stages.parser.workload_parser import WorkloadParserStage
    from zigzag.stages.results.reduce_stages import MinimalLatencyStage
    from zigzag.stages.workload_iterator import WorkloadStage

    logging.getLogger("zigzag").setLevel(logging.ERROR)
    _tolerate_short_layers()
    with tempfile.TemporaryDirectory(prefix="moo_zigzag_") as tmp:
        acc_path = os.path.join(tmp, "acc.yaml")
        map_path = os.path.join(tmp, "mapping.yaml")
        with open(acc_path, "w") as fh:
            yaml.safe_dump(zigzag_accelerator(hw), fh, sort_keys=False)
        with open(map_path, "w") as fh:
            fh.write(_MAPPING)
        stages = [WorkloadParserStage, AcceleratorParserStage, WorkloadStage,
                  MinimalLatencyStage, SpatialMappingGeneratorStage, MinimalLatencyStage,
                  TemporalMappingGeneratorStage, CostModelStage]
        main = MainStage(stages, accelerator=acc_path, workload=zigzag_workload(layers),
                         mapping=map_path, dump_folder=tmp, pickle_filename=None,
                         loma_lpf_limit=lpf_limit, loma_show_progress_bar=False,
                         nb_mappings_generated=n_spatial,
                         enable_mix_spatial_mapping_generation=False,
                         access_same_data_considered_as_no_access=True,
                         temporal_mapping_type=TemporalMappingType("uneven"))
        with contextlib.redirect_stdout(io.StringIO()):
            cmes = main.run()
    per = [c for c, _ in cmes]             # one (cme, info) per layer, in workload order
    if len(per) != len(layers):
        raise RuntimeError(f"zigzag returned {len(per)} layer results for {len(layers)} layers")
    return [(float(c.latency_total2), float(c.energy_total), float(c.mac_energy),
             float(c.mem_energy)) for c in per]


def zigzag_layer_costs(layers: Sequence[Layer], hw: Mapping[str, float], *, lpf_limit: int = 4,
                       n_spatial: int = 2, cache: bool = True
                       ) -> list[tuple[float, float, float, float]]:
    """ZigZag's (latency cycles, energy, MAC energy, memory energy in pJ) of each layer on one
    accelerator: each distinct layer shape not yet priced (with ``cache``: by any call of this
    process on this accelerator) goes into one ZigZag run; the rest are looked up."""
    keys = [_shape(ly) for ly in layers]
    hw_key = tuple(sorted((k, float(v)) for k, v in hw.items()))
    full = [(k, hw_key, lpf_limit, n_spatial) for k in keys]
    found: dict[tuple, tuple[float, float, float, float]] = {}
    if cache:
        for f in full:
            if f in _LAYER_CACHE:
                _LAYER_CACHE.move_to_end(f)
                found[f] = _LAYER_CACHE[f]
    first: dict[tuple, int] = {}
    for i, f in enumerate(full):
        if f not in found:
            first.setdefault(f, i)
    if first:
        costs = _run_layers([layers[i] for i in first.values()], hw, lpf_limit, n_spatial)
        for f, c in zip(first, costs):
            found[f] = c
            if cache:
                _LAYER_CACHE[f] = c
        while len(_LAYER_CACHE) > _CACHE_SIZE:
            _LAYER_CACHE.popitem(last=False)
    return [found[f] for f in full]


def zigzag_network_cost(layers: Sequence[Layer], hw: Mapping[str, float], *,
                        lpf_limit: int = 4, n_spatial: int = 2,
                        per_layer: bool = False, cache: bool = True) -> dict[str, Any]:
    """Run ZigZag on one network and one edge design (layer by layer; each distinct layer
    shape once, and with ``cache`` once per process and accelerator:
    :func:`zigzag_layer_costs`).

    Args:
        layers: the network.
        hw: one value per edge parameter.
        lpf_limit: ZigZag's LOMA loop-prime-factor limit (smaller = faster, fewer orders tried).
        n_spatial: spatial mappings ZigZag generates per layer.
        per_layer: also return ``layer_latency_ms`` / ``layer_energy_mj`` lists.
        cache: reuse (and keep) the layer costs of earlier calls.

    Returns:
        ``{"latency_ms", "energy_mj", "mac_energy_mj", "mem_energy_mj"}`` (+ per-layer lists).

    Raises:
        ImportError: zigzag-dse is not installed.
        Exception: whatever ZigZag raises when it cannot map the network.
    """
    costs = zigzag_layer_costs(layers, hw, lpf_limit=lpf_limit, n_spatial=n_spatial,
                               cache=cache)
    lat_cc = [c[0] for c in costs]
    en_pj = [c[1] for c in costs]
    out: dict[str, Any] = {
        "latency_ms": sum(lat_cc) / CLOCK_HZ * 1e3,
        "energy_mj": sum(en_pj) * 1e-9,
        "mac_energy_mj": sum(c[2] for c in costs) * 1e-9,
        "mem_energy_mj": sum(c[3] for c in costs) * 1e-9,
    }
    if per_layer:
        out["layer_latency_ms"] = [x / CLOCK_HZ * 1e3 for x in lat_cc]
        out["layer_energy_mj"] = [x * 1e-9 for x in en_pj]
    return out


class ZigZagBackend(CostBackend):
    """ZigZag's cost model on the edge accelerator (slow: ZigZag maps every layer).

    A batch is priced one accelerator at a time: the distinct layer shapes of all its designs
    on that accelerator go into one ZigZag run, and each network sums its layers' costs; with
    ``cache`` (default) a (layer shape, accelerator) pair priced by any earlier call of this
    process is looked up, not run again (``benchmarks/bench_zigzag_cache.py``).

    Args:
        lpf_limit: ZigZag's LOMA loop-prime-factor limit.
        n_spatial: spatial mappings ZigZag generates per layer.
        cache: share layer costs across designs and calls.
    """

    name = "zigzag"
    metrics = COST_FIELDS
    slow = True   # a network takes seconds in ZigZag

    def __init__(self, lpf_limit: int = 4, n_spatial: int = 2, cache: bool = True) -> None:
        self.lpf_limit = lpf_limit
        self.n_spatial = n_spatial
        self.cache = cache

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> CostResult:
        from ..networks import build_network

        if not zigzag_available():
            raise ImportError("the zigzag backend needs zigzag-dse: "
                              "pip install 'moo-cosearch[zigzag]'")
        designs, _, hw_all = edge_inputs(self.name, space, designs, layers=False)
        n = len(designs)
        lat, en = np.full(n, np.nan), np.full(n, np.nan)
        feas = np.ones(n, dtype=bool)
        reasons = [""] * n
        opts = {"lpf_limit": self.lpf_limit, "n_spatial": self.n_spatial, "cache": self.cache}
        groups: dict[tuple, list[int]] = {}
        for i, d in enumerate(designs):
            groups.setdefault(tuple(float(d[p]) for p in EDGE_PARAMS), []).append(i)
        for hw_values, members in groups.items():
            hw = dict(zip(EDGE_PARAMS, hw_values))
            nets = {i: build_network(space.network, designs[i]) for i in members}
            if self.cache and len(members) > 1:
                with contextlib.suppress(Exception):   # a layer it cannot map: per design below
                    zigzag_layer_costs([ly for i in members for ly in nets[i]], hw,
                                       lpf_limit=self.lpf_limit, n_spatial=self.n_spatial)
            for i in members:
                try:
                    r = zigzag_network_cost(nets[i], hw, **opts)
                except Exception as exc:  # ZigZag cannot map this design: infeasible, not fatal
                    feas[i] = False
                    reasons[i] = (f"zigzag could not map the network: {type(exc).__name__}: "
                                  f"{exc}")
                    continue
                lat[i], en[i] = r["latency_ms"], r["energy_mj"]
        area = edge_area_mm2(hw_all) if n else np.zeros(0)
        return CostResult(latency_ms=lat, energy_mj=en, area_mm2=np.asarray(area, float),
                          feasible=feas, reason=tuple(reasons))

    def reference(self, metric: str) -> float:
        """The baseline accelerator's area (``edge``'s model, the one this backend reports)."""
        if metric == "area_mm2":
            return EdgeBackend().reference(metric)
        return super().reference(metric)


register_backend("zigzag", ZigZagBackend)

_OPTIONS = {"lpf": "lpf_limit", "spatial": "n_spatial"}


def zigzag_with_options(text: str) -> ZigZagBackend:
    """``zigzag:lpf=2,spatial=1``: the ZigZag backend with a smaller mapping search (LOMA's
    loop-prime-factor limit, spatial mappings per layer): faster, and its latencies no lower
    than the full search's only up to the mappings it skips."""
    kwargs: dict[str, int] = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key.strip() not in _OPTIONS or not value.strip().isdigit() or int(value) < 1:
            raise ValueError(f"zigzag options are lpf=N and spatial=N (N >= 1), comma-separated;"
                             f" got {item!r} in 'zigzag:{text}'")
        kwargs[_OPTIONS[key.strip()]] = int(value)
    return ZigZagBackend(**kwargs)


register_backend_prefix("zigzag:", zigzag_with_options)
