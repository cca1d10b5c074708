"""Latency measured on an FPGA, learned from the Accel-NASBench table (backends ``anb-zcu102``,
``anb-vck190``).

Accel-NASBench measured every one of its 5,125 MnasNet-space networks on a Xilinx ZCU102 and a
VCK190 (Vitis AI DPU, 8-bit; ``moo_cosearch/data/accel_nasbench_mnas.md``). As ``nb201-device``
answers NAS-Bench-201 cells from a measured table, these backends answer any network of the
``anb-mnas`` family with a predictor (:func:`~._tabular.fit_table_predictor`, gradient-boosted
trees on log latency) fitted on the measured rows (2 rows without a measurement are left out):
a fixed accelerator, so the space holds only NAS parameters. The predictor is fitted on the
first evaluation (seed 0). Held-out error: ``benchmarks/results/anb_fpga_latency.md``.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..hardware import CostBackend, CostResult, register_backend

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["MeasuredFPGABackend"]

_COLUMNS = {"zcu102": "latency_zcu102_ms", "vck190": "latency_vck190_ms"}
_FITTED: dict[tuple[str, str], Any] = {}


def measured_rows(device: str) -> list[dict[str, Any]]:
    """Rows of the shipped table with a measured latency on ``device``, ``log_latency`` added."""
    from ._tabular import table_rows
    col = _COLUMNS[device]
    rows = table_rows(resources.files("moo_cosearch.data") / "accel_nasbench_mnas.csv.gz")
    return [dict(r, log_latency=float(np.log(r[col]))) for r in rows
            if isinstance(r.get(col), float)]


class MeasuredFPGABackend(CostBackend):
    """``latency_ms`` of an ``anb-mnas`` network on a measured FPGA (see the module docstring)."""

    metrics: tuple[str, ...] = ("latency_ms",)
    device = "zcu102"
    #: The first evaluation fits the predictor (tens of CPU seconds): listings such as
    #: ``moo-cosearch backends`` check the space with an empty batch instead.
    slow = True

    @property
    def name(self) -> str:   # type: ignore[override]
        return f"anb-{self.device}"

    def _predictor(self, space: "JointSpace") -> Any:
        from ._tabular import fit_table_predictor
        key = (self.device, space.definition_hash)
        if key not in _FITTED:
            _FITTED[key] = fit_table_predictor(space, measured_rows(self.device), "log_latency",
                                               seed=0, model="gbt",
                                               what=f"Accel-NASBench {self.device} latency")
        return _FITTED[key]

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> CostResult:
        if space.network != "anb-mnas":
            raise ValueError(f"the {self.name} backend answers for network 'anb-mnas' only, "
                             f"got {space.network!r} (space {space.name!r})")
        n = len(designs)
        lat = np.exp(self._predictor(space)(list(designs))) if n else np.zeros(0)
        return CostResult(latency_ms=lat, energy_mj=np.full(n, np.nan),
                          area_mm2=np.full(n, np.nan), feasible=np.ones(n, dtype=bool),
                          reason=("",) * n)


class _VCK190(MeasuredFPGABackend):
    device = "vck190"


register_backend("anb-zcu102", MeasuredFPGABackend)
register_backend("anb-vck190", _VCK190)
