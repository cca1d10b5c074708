"""Measured cost tables: NAS-Bench-201 cells timed on real devices (HW-NAS-Bench-360).

The package data ``nb201_device_latency_cifar100.csv.gz`` holds, for each of the 15,625
NAS-Bench-201 cells (CIFAR-100 network) and each of four device/runtime pairs, the median
latency of one inference (ms), its variance across repeats (ms^2) and, on the Raspberry Pi 5
only, the energy of one inference (mJ). Provenance: ``moo_cosearch/data/PROVENANCE.md``.

A device/runtime pair is named ``"<device>-<framework>"`` (:data:`DEVICES`). Backends:

* ``table``: ``latency_ms`` of the design's cell on the device named by its ``device``
  parameter (or the backend's fixed ``device`` when the space has none). ``energy_mj`` is filled
  where measured (Pi 5) and NaN elsewhere, and ``area_mm2`` is always NaN (no accelerator is
  designed): neither is among the backend's :attr:`~TableBackend.metrics`.
* ``table-energy``: as ``table`` with ``energy_mj`` among the metrics; a design on a device
  without energy measurements is rejected (ValueError naming the devices that have them).

A cell absent from the table gives ``feasible = False`` with a reason and NaN costs.

Conventions shared by all backends (units, per-PE or shared memories, weight residency,
layer-by-layer or pipelined execution, what is not modelled): ``moo_cosearch/hardware/README.md``.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..networks import nb201
from ._base import CostBackend, require_params
from ._registry import register_backend
from ._result import CostResult

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["DEVICES", "ENERGY_DEVICES", "DeviceTable", "TableBackend", "TableEnergyBackend",
           "device_table"]

#: Device/runtime pairs of the measured table.
DEVICES: tuple[str, ...] = ("pi5-litert", "pi5-onnx", "pi5-torchmobile", "pixel-litert")
#: The pairs with measured energy.
ENERGY_DEVICES: tuple[str, ...] = ("pi5-litert", "pi5-onnx", "pi5-torchmobile")
_DATA_FILE = "nb201_device_latency_cifar100.csv.gz"
@dataclass(frozen=True)
class DeviceTable:
    """The measured table as arrays over base-5 cell codes (see :func:`moo_cosearch.networks.nb201.arch_codes`).

    Attributes:
        devices: the device/runtime names, rows of the arrays.
        nb201_index: (5**6,) NAS-Bench-201 index of each code.
        latency_ms: (n_devices, 5**6) median latency; NaN where not measured.
        latency_var_ms2: (n_devices, 5**6) variance of the latency across repeats.
        energy_mj: (n_devices, 5**6) energy per inference; NaN where not measured.
    """

    devices: tuple[str, ...]
    nb201_index: np.ndarray
    latency_ms: np.ndarray
    latency_var_ms2: np.ndarray
    energy_mj: np.ndarray

    def row(self, device: str) -> int:
        """Row of ``device`` in the arrays."""
        try:
            return self.devices.index(device)
        except ValueError:
            raise ValueError(f"device must be one of {list(self.devices)}, got "
                             f"{device!r}") from None

    def lookup(self, device: str | Sequence[str], codes: np.ndarray) -> dict[str, np.ndarray]:
        """Latency, its variance and energy of cells ``codes`` on one device or one per cell."""
        codes = np.asarray(codes, dtype=np.int64)
        rows = (np.full(codes.shape, self.row(device)) if isinstance(device, str)
                else np.array([self.row(d) for d in device], dtype=np.int64))
        if rows.shape != codes.shape:
            raise ValueError(f"one device per cell needs {codes.shape[0]} devices, got "
                             f"{rows.shape[0]}")
        return {"latency_ms": self.latency_ms[rows, codes],
                "latency_var_ms2": self.latency_var_ms2[rows, codes],
                "energy_mj": self.energy_mj[rows, codes]}


def _float(text: str) -> float:
    return float(text) if text not in ("", "nan", "NaN") else np.nan


@lru_cache(maxsize=1)
def device_table() -> DeviceTable:
    """The packaged measured table (read once)."""
    index = nb201.benchmark_index()
    code_of_index = np.full(nb201.N_CELLS, -1, dtype=np.int64)
    code_of_index[index] = np.arange(nb201.N_CELLS)
    shape = (len(DEVICES), nb201.N_CELLS)
    lat, var, energy = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    path = resources.files("moo_cosearch.data") / _DATA_FILE
    with path.open("rb") as raw, gzip.open(raw, "rt", newline="") as fh:
        for r in csv.DictReader(fh):
            d = DEVICES.index(f"{r['device']}-{r['framework']}")
            c = code_of_index[int(r["index"])]
            lat[d, c], var[d, c] = _float(r["lat_ms_median"]), _float(r["lat_ms_var"])
            energy[d, c] = _float(r["energy_mj"])
    for a in (lat, var, energy):
        a.setflags(write=False)
    return DeviceTable(DEVICES, index, lat, var, energy)


class TableBackend(CostBackend):
    """Measured latency (and Pi 5 energy) of NAS-Bench-201 cells (backend ``table``).

    Args:
        device: the device/runtime used when the space has no ``device`` parameter.
        table: the table to answer from (default: the packaged one).
    """

    name = "table"
    metrics: tuple[str, ...] = ("latency_ms",)

    def __init__(self, device: str | None = None, table: DeviceTable | None = None) -> None:
        self._table = table
        if device is not None and device not in DEVICES:
            raise ValueError(f"device must be one of {list(DEVICES)}, got {device!r}")
        self.device = device

    @property
    def table(self) -> DeviceTable:
        return self._table if self._table is not None else device_table()

    def _devices(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> list[str]:
        if "device" in space.names:
            devices = [d["device"] for d in designs]
        elif self.device is not None:
            devices = [self.device] * len(designs)
        else:
            raise ValueError(f"the {self.name} backend needs a 'device' parameter (one of "
                             f"{list(DEVICES)}) in space {space.name!r}, or a backend built "
                             f"with device=...")
        bad = sorted({d for d in devices if d not in self.table.devices}, key=str)
        if bad:
            raise ValueError(f"device must be one of {list(self.table.devices)}, got {bad[0]!r}")
        return devices

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> CostResult:
        """Look up a batch of designs of an ``nb201`` space (``edge0``..``edge5``)."""
        if space.network != "nb201":
            raise ValueError(f"the {self.name} backend answers for network 'nb201' only, got "
                             f"{space.network!r} (space {space.name!r})")
        require_params(self.name, space, nb201.EDGE_PARAMS)
        designs = [space.validate(d) for d in designs]
        devices = self._devices(space, designs)
        codes = nb201.arch_codes([nb201.design_ops(d) for d in designs]) if designs \
            else np.zeros(0, np.int64)
        got = self.table.lookup(devices, codes)
        lat = got["latency_ms"]
        feasible = np.isfinite(lat)
        reason = tuple("" if ok else f"no measurement of this cell on {dev} in the table"
                       for ok, dev in zip(feasible, devices))
        return CostResult(latency_ms=lat, energy_mj=got["energy_mj"],
                          area_mm2=np.full(len(designs), np.nan), feasible=feasible,
                          reason=reason, extra={"latency_var_ms2": got["latency_var_ms2"]})


class TableEnergyBackend(TableBackend):
    """``table`` with ``energy_mj`` among the metrics (backend ``table-energy``); designs on a
    device without energy measurements are rejected."""

    name = "table-energy"
    metrics = ("latency_ms", "energy_mj")

    def _devices(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> list[str]:
        devices = super()._devices(space, designs)
        bad = [d for d in devices if d not in ENERGY_DEVICES]
        if bad:
            raise ValueError(f"the table-energy backend needs a device with measured energy, "
                             f"one of {list(ENERGY_DEVICES)}, got {bad[0]!r}")
        return devices


register_backend("table", TableBackend)
register_backend("table-energy", TableEnergyBackend)
