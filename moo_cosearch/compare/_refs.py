"""Hand-designed references for a comparison: the space's stock network (its ``[baseline]`` NAS
values: the best NAS-Bench-201 cell, stock MobileNetV2 or EfficientNet-B0) on the baseline
accelerator and, for spaces with the edge accelerator's parameters, on Eyeriss-like and
NVDLA-like fixed configurations of that accelerator, snapped to the space's grids.

The two configurations follow a few published facts and approximate the rest; the edge model's
processing element (``compute_lanes`` lanes of ``simd_units`` 4-way 8-bit MAC units sharing a
local memory) is far larger than either chip's, so "like" means the shape of the design, not
its size:

- **Eyeriss-like** (Chen et al., "Eyeriss: An Energy-Efficient Reconfigurable Accelerator for
  Deep Convolutional Neural Networks", JSSC 2017): a spatial array of many small PEs, 12 x 14
  = 168 PEs with one MAC each, 0.5 KB of scratch pads per PE and a 108 KB global buffer.
  Snapped: the largest PE grid (8 x 8; 12 and 14 are off the grid), the smallest SIMD width
  (16) and one lane (so each PE still does 64 MACs per cycle, not 1), the smallest register
  file (8 KB) and local memory (0.5 MB per PE, where Eyeriss shares 108 KB among all PEs).
- **NVDLA-like** (NVIDIA Deep Learning Accelerator, ``nv_full`` configuration of the open-source
  release): one wide MAC array, 2,048 8-bit MACs per cycle, a 512 KB convolution buffer.
  Snapped: one PE (1 x 1), the widest SIMD (128) and 4 lanes, which is exactly
  1 x 4 x 128 x 4 = 2,048 MACs per cycle, and 0.5 MB of local memory (512 KB exactly). NVDLA
  has no per-lane register file to match: the NAHAS baseline's 32 KB is kept.

Both keep the baseline's DRAM bandwidth (the edge spaces' own assumption), so the differences
come from the array's shape and memories.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..hardware.edge import EDGE_PARAMS

if TYPE_CHECKING:
    from ..objectives import Objective
    from ..space import JointSpace

__all__ = ["EYERISS_LIKE", "NVDLA_LIKE", "Reference", "references"]

#: Target values before snapping (None: keep the baseline's); see the module docstring.
EYERISS_LIKE: dict[str, float | None] = {
    "pes_x": 12, "pes_y": 14,          # 12 x 14 PE array (published)
    "simd_units": 1, "compute_lanes": 1,   # one MAC per PE (published): snaps up
    "register_file_kb": 0.5,           # 0.5 KB of scratch pads per PE (published)
    "local_memory_mb": 108 / 1024,     # 108 KB global buffer (published, shared by all PEs)
    "io_bandwidth_gbyte_s": None,
}
NVDLA_LIKE: dict[str, float | None] = {
    "pes_x": 1, "pes_y": 1,            # one MAC array (published)
    "simd_units": 128, "compute_lanes": 4,   # 2,048 int8 MACs/cycle = 1*4*128*4 (nv_full)
    "register_file_kb": None,          # no counterpart: the baseline's
    "local_memory_mb": 0.5,            # 512 KB convolution buffer (nv_full)
    "io_bandwidth_gbyte_s": None,
}
_CONFIGS = {"Eyeriss-like": EYERISS_LIKE, "NVDLA-like": NVDLA_LIKE}


@dataclass(frozen=True)
class Reference:
    """One hand-designed design and its evaluation.

    Attributes:
        name: e.g. ``"stock network on NVDLA-like"``.
        design: every parameter's value.
        values: objective values (the objectives' own directions); NaN when it failed.
        feasible: every constraint satisfied.
        metrics: cost metrics and accuracy as recorded for a trial.
        snapped: accelerator parameters whose target was off the grid: name -> (target, used).
    """

    name: str
    design: dict[str, Any]
    values: tuple[float, ...]
    feasible: bool
    metrics: dict[str, Any]
    snapped: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "design": self.design, "values": list(self.values),
                "feasible": self.feasible, "metrics": self.metrics,
                "snapped": {k: list(v) for k, v in self.snapped.items()}}


def _nearest(choices: tuple[Any, ...], target: float) -> Any:
    """The grid value nearest ``target`` on a log scale (grids of sizes and counts)."""
    return min(choices, key=lambda c: abs(math.log(float(c)) - math.log(target)))


def _snap(space: "JointSpace", config: dict[str, float | None]
          ) -> tuple[dict[str, Any], dict[str, tuple[float, Any]]]:
    design = dict(space.baseline)
    snapped = {}
    for name, target in config.items():
        if target is None:
            continue
        value = _nearest(space[name].choices, target)
        design[name] = value
        if not math.isclose(float(value), float(target)):
            snapped[name] = (float(target), value)
    return design, snapped


def references(space: "JointSpace", objective: "Objective") -> list[Reference]:
    """The references of ``space`` evaluated with ``objective``: its baseline design, and for
    spaces holding every edge accelerator parameter with positive numeric grids, the stock
    network on the Eyeriss-like and NVDLA-like configurations."""
    designs = [("stock network on the baseline accelerator", dict(space.baseline), {})]
    edge = all(n in space.names and space[n].ordered for n in EDGE_PARAMS) and all(
        float(c) > 0 for n in EDGE_PARAMS for c in space[n].choices)
    if edge:
        for label, config in _CONFIGS.items():
            design, snapped = _snap(space, config)
            designs.append((f"stock network on {label}", design, snapped))
    out = []
    for name, design, snapped in designs:
        outcome = objective.evaluate_many([design])[0]
        metrics = {k: v for k, v in outcome.attrs.items()
                   if isinstance(v, (int, float, bool, str)) and k != "accuracy_cached"}
        if objective.accuracy is not None and "accuracy" not in metrics and \
                not outcome.failed:
            # over a hard limit: the objective leaves accuracy unevaluated (0), but the stock
            # network's accuracy is what a reader compares with
            metrics["accuracy"] = float(objective.accuracy(design))
        out.append(Reference(name, design, tuple(float(v) for v in outcome.values),
                             outcome.feasible, metrics, snapped))
    return out
