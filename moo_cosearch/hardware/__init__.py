"""Hardware cost models, selectable by name.

A backend is a callable ``backend(space, designs) -> CostResult`` evaluating a batch of joint
designs (NAS + HAS parameter dicts) of ``space``. ``get_backend(name)`` returns one;
``register_backend`` adds more (later: dataflow-aware, FPGA, heterogeneous, surrogate, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from ._result import CostResult

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["CostResult", "CostBackend", "EdgeBackend", "TableBackend", "TableEnergyBackend",
           "backend_metrics", "get_backend", "list_backends", "register_backend"]


class CostBackend:
    """Base class: evaluate designs of a space; subclasses implement :meth:`evaluate`."""

    name = "base"
    #: Per-design metrics this backend gives (fields of :class:`CostResult` or ``extra`` keys);
    #: objective sets may optimise or constrain any of them.
    metrics: tuple[str, ...] = ("latency_ms", "energy_mj", "area_mm2")

    def __call__(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> CostResult:
        return self.evaluate(space, designs)

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> CostResult:
        raise NotImplementedError

    def reference(self, metric: str) -> float:
        """The value of ``metric`` on the backend's baseline design (for ``max = "baseline"``)."""
        raise ValueError(f"cost backend {self.name!r} has no baseline value for {metric!r}")


def require_params(backend: str, space: "JointSpace", names: Sequence[str],
                   what: str = "parameters") -> None:
    """ValueError naming the ``names`` that ``space`` lacks and ``backend`` needs."""
    missing = [p for p in names if p not in space.names]
    if missing:
        raise ValueError(f"the {backend} backend needs {what} {missing} that space "
                         f"{space.name!r} does not have")


def edge_inputs(backend: str, space: "JointSpace", designs: Sequence[Mapping[str, Any]],
                layers: bool = True) -> tuple[list[dict[str, Any]], Any, dict[str, np.ndarray]]:
    """Validated inputs of the edge-accelerator models (``edge``, ``edge-dataflow``, ``zigzag``):
    the validated designs, the stacked layers of every design's network (``None`` when
    ``layers`` is False) and the accelerator parameters as arrays. Raises ValueError when ``space`` lacks a network or one
    of :data:`~moo_cosearch.hardware.edge.EDGE_PARAMS`, or on an invalid design."""
    from .._layers import stack_matrices
    from ..networks import network_matrix
    from .edge import EDGE_PARAMS

    if space.network is None:
        raise ValueError(f"space {space.name!r} declares no network family; the {backend} "
                         "backend needs one")
    require_params(backend, space, EDGE_PARAMS, "accelerator parameters")
    designs = [space.validate(d) for d in designs]
    hw = {p: np.array([float(d[p]) for d in designs]) for p in EDGE_PARAMS}
    stacked = stack_matrices([network_matrix(space.network, d) for d in designs]) \
        if layers else None
    return designs, stacked, hw


class EdgeBackend(CostBackend):
    """The analytical NAHAS edge-accelerator model (:mod:`moo_cosearch.hardware.edge`)."""

    name = "edge"

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> CostResult:
        from .edge import edge_cost

        _, layers, hw = edge_inputs(self.name, space, designs)
        return edge_cost(layers, hw)

    def reference(self, metric: str) -> float:
        from .edge import BASELINE, edge_area_mm2

        if metric == "area_mm2":
            return float(edge_area_mm2({k: np.array([v]) for k, v in BASELINE.items()})[0])
        return super().reference(metric)


# Backends defined in their own modules (imported here, after CostBackend exists).
from .dataflow import DataflowBackend  # noqa: E402  dataflow-aware edge model (v2)
from .fpga import EddBackend  # noqa: E402  EDD FPGA model
from .hetero import HeteroBackend  # noqa: E402  NASAIC heterogeneous sub-accelerators
from .multifpga import MultiFpgaBackend  # noqa: E402  FNAS multi-FPGA pipeline
from .table import TableBackend, TableEnergyBackend  # noqa: E402  measured NB201 device tables
from .zigzag import ZigZagBackend  # noqa: E402  external ZigZag (optional extra)

_BACKENDS: dict[str, Callable[[], CostBackend]] = {
    "edge": EdgeBackend, "edge-dataflow": DataflowBackend, "fpga-edd": EddBackend,
    "fnas-multifpga": MultiFpgaBackend, "hetero": HeteroBackend, "table": TableBackend,
    "table-energy": TableEnergyBackend, "zigzag": ZigZagBackend}


def register_backend(name: str, factory: Callable[[], CostBackend]) -> None:
    """Make ``get_backend(name)`` return ``factory()``."""
    _BACKENDS[name] = factory


def list_backends() -> list[str]:
    return sorted(_BACKENDS)


_SURROGATE_PREFIX = "surrogate:"


def backend_metrics(name: str) -> tuple[str, ...]:
    """The metrics backend ``name`` gives, without building it (a surrogate reads its
    metadata)."""
    if name.startswith(_SURROGATE_PREFIX):
        return get_backend(name).metrics
    factory = _BACKENDS.get(name)
    if factory is None:
        raise ValueError(f"cost backend must be one of {list_backends()} or 'surrogate:PATH', "
                         f"got {name!r}")
    return tuple(getattr(factory, "metrics", CostBackend.metrics))


def get_backend(name: str) -> CostBackend:
    """A cost backend by name (or ``"surrogate:PATH"`` for a saved MLP surrogate); unknown
    names get an error listing the known ones."""
    if name.startswith(_SURROGATE_PREFIX):
        from ..surrogate import SurrogateBackend

        return SurrogateBackend(name[len(_SURROGATE_PREFIX):])
    try:
        return _BACKENDS[name]()
    except KeyError:
        raise ValueError(f"cost backend must be one of {list_backends()} or 'surrogate:PATH', "
                         f"got {name!r}") from None
