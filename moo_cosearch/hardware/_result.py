"""The result type every hardware cost model returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["COST_FIELDS", "CostResult"]

#: The cost fields every backend returns (NaN where it does not model one).
COST_FIELDS: tuple[str, ...] = ("latency_ms", "energy_mj", "area_mm2")


@dataclass(frozen=True)
class CostResult:
    """Costs of a batch of ``n`` designs.

    Attributes:
        latency_ms: (n,) end-to-end inference latency of one input, milliseconds.
        energy_mj: (n,) energy of one inference, millijoules.
        area_mm2: (n,) accelerator area, square millimetres.
        feasible: (n,) bool; False when the network cannot run on the accelerator.
        reason: n strings, ``""`` for feasible designs, otherwise why not (first failing layer).
        extra: optional named (n,) or (n, n_layers) arrays, e.g. ``peak_tops``, per-layer latency.
    """

    latency_ms: np.ndarray
    energy_mj: np.ndarray
    area_mm2: np.ndarray
    feasible: np.ndarray
    reason: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.latency_ms.shape[0])

    def metric(self, name: str) -> np.ndarray:
        """The (n,) values of a metric: a field (``latency_ms`` ...) or a scalar ``extra`` entry."""
        if name in COST_FIELDS:
            return getattr(self, name)
        value = self.extra.get(name)
        if value is None or np.ndim(value) != 1:
            raise KeyError(f"cost result has no per-design metric {name!r}; it has "
                           f"{', '.join(COST_FIELDS)}"
                           + "".join(f", {k}" for k, v in self.extra.items() if np.ndim(v) == 1))
        return np.asarray(value)

    def row(self, i: int) -> dict[str, Any]:
        """Design ``i`` as a JSON-ready dict (latency_ms, energy_mj, area_mm2, feasible, reason)."""
        return {
            "latency_ms": float(self.latency_ms[i]),
            "energy_mj": float(self.energy_mj[i]),
            "area_mm2": float(self.area_mm2[i]),
            "feasible": bool(self.feasible[i]),
            "reason": self.reason[i],
        }
