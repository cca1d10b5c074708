"""The cost-backend base class and the input check every backend shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ._result import COST_FIELDS, CostResult

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["CostBackend", "design_arrays", "per_design", "require_network", "require_params"]


class CostBackend:
    """Base class: evaluate designs of a space; subclasses implement :meth:`evaluate`."""

    name = "base"
    #: Per-design metrics this backend gives (fields of :class:`CostResult` or ``extra`` keys);
    #: objective sets may optimise or constrain any of them.
    metrics: tuple[str, ...] = COST_FIELDS
    #: True when one design takes seconds (an external simulator): listings then check only
    #: that a space fits (an empty batch), without evaluating a design.
    slow: bool = False

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


def per_design(backend: str, names: Sequence[str], hw: Mapping[str, Any],
               n: int) -> dict[str, Any]:
    """Each of ``names`` from ``hw`` (a scalar, or one value per design) as an ``(n, 1)`` float
    array, for backends vectorised over designs and layers.

    Raises:
        ValueError: a missing parameter, or one that is not positive and finite (naming it).
    """
    import numpy as np

    missing = [k for k in names if k not in hw]
    if missing:
        raise ValueError(f"missing {backend} hardware parameter(s): {', '.join(missing)}")
    out = {}
    for k in names:
        a = np.asarray(hw[k], dtype=np.float64)
        if a.ndim > 1 or not np.all(np.isfinite(a) & (a > 0)):
            raise ValueError(f"{backend} hardware parameter {k!r} must be positive and finite "
                             f"(a scalar or one per design), got {hw[k]!r}")
        out[k] = np.broadcast_to(a, (n,))[:, None]
    return out



def require_network(backend: str, space: "JointSpace", params: Sequence[str]) -> None:
    """ValueError unless ``space`` names a network family and has every one of ``params``."""
    if space.network is None:
        raise ValueError(f"space {space.name!r} declares no network family; the {backend} "
                         "backend needs one")
    require_params(backend, space, params, "accelerator parameters")


def design_arrays(space: "JointSpace", designs: Sequence[Mapping[str, Any]],
                  params: Sequence[str], layers: bool = True
                  ) -> tuple[list[dict[str, Any]], Any, dict[str, Any]]:
    """The inputs of a backend vectorised over designs (after :func:`require_network`): the
    validated designs, the stacked layer matrices of their networks (cached per network;
    ``None`` when ``layers`` is False) and each parameter of ``params`` as an array over the
    designs. Raises ValueError on an invalid design."""
    import numpy as np

    from ..networks import network_matrix, stack_matrices

    designs = [space.validate(d) for d in designs]
    hw = {p: np.array([float(d[p]) for d in designs]) for p in params}
    stacked = stack_matrices([network_matrix(space.network, d) for d in designs]) \
        if layers else None
    return designs, stacked, hw
