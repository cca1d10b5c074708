"""Optuna distributions ↔ numbers: the one codec under every family's encoding.

Modelled on Optuna's ``optuna/_transform.py`` (``_SearchSpaceTransform``): what a distribution
*is* numerically is decided here once, and each family builds its own encoding on top:

- :class:`~._qehvi._encoding.Encoder` (qEHVI): unit columns, one-hot for unordered choices;
- :class:`~._edd._space.Relaxation` (EDD): a finite list of levels per parameter;
- :class:`~._rl._policy.ActionSpace` (RL): the same levels as actions;
- :class:`~._pymoo._space.Columns` (pymoo): grid indices and (log) values for pymoo's operators.

A distribution is of one :func:`kind`: ``"float"`` (unstepped float), ``"grid"`` (an int or
a stepped float: ``low + i * step`` for ``i < grid_size``) or ``"categorical"``. A categorical
is ordered when the caller says so (a joint space's flags), else when all its choices are
numbers (:func:`is_ordered`). Floats and grids with ``log`` are spread in log space.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np
from optuna.distributions import (BaseDistribution, CategoricalDistribution, FloatDistribution,
                                  IntDistribution)

__all__ = ["KINDS", "Spread", "finite_levels", "geomspread", "grid_size", "grid_value",
           "is_number", "is_ordered", "kind", "log_bounds", "spread"]

KINDS = ("float", "grid", "categorical")
#: ``spread(low, high, n, log)``: ``n`` sorted points from ``low`` to ``high``, both included.
Spread = Callable[[float, float, int, bool], np.ndarray]


def is_number(c: Any) -> bool:
    """Whether a categorical choice is a number (``bool`` is not)."""
    return isinstance(c, (int, float)) and not isinstance(c, bool)


def kind(dist: BaseDistribution, name: str = "") -> str:
    """``"float"``, ``"grid"`` or ``"categorical"`` (see the module docstring).

    Raises:
        TypeError: a distribution Optuna does not have.
    """
    if isinstance(dist, CategoricalDistribution):
        return "categorical"
    if isinstance(dist, IntDistribution) or (isinstance(dist, FloatDistribution)
                                             and dist.step is not None):
        return "grid"
    if isinstance(dist, FloatDistribution):
        return "float"
    raise TypeError(f"unsupported distribution for {name!r}: {dist!r}")


def is_ordered(name: str, dist: CategoricalDistribution,
               ordered: Mapping[str, bool] | None = None) -> bool:
    """Whether a categorical's choices are ordered: ``ordered[name]`` when given, else all
    choices are numbers."""
    flags = ordered or {}
    return bool(flags.get(name, all(is_number(c) for c in dist.choices)))


def grid_size(dist: BaseDistribution) -> int:
    """The number of choices of a categorical, or of grid points of an int / stepped float."""
    if isinstance(dist, CategoricalDistribution):
        return len(dist.choices)
    return int(round((dist.high - dist.low) / dist.step)) + 1  # type: ignore[attr-defined]


def grid_value(dist: BaseDistribution, i: int) -> Any:
    """Choice or grid point ``i`` (a plain ``int`` for an int distribution; a stepped float's
    last point is capped at ``high``)."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[i]
    v = dist.low + i * dist.step  # type: ignore[attr-defined]
    return int(v) if isinstance(dist, IntDistribution) else float(min(v, dist.high))  # type: ignore


def log_bounds(dist: BaseDistribution) -> tuple[float, float]:
    """``(low, high)`` of a numeric distribution, as logs when it is ``log``."""
    lo, hi = float(dist.low), float(dist.high)  # type: ignore[attr-defined]
    if dist.log:  # type: ignore[attr-defined]
        return math.log(lo), math.log(hi)
    return lo, hi


def spread(low: float, high: float, n: int, log: bool) -> np.ndarray:
    """``n`` points from ``low`` to ``high`` (both exact), evenly spaced (in log space when
    ``log``: ``exp`` of evenly spaced logs)."""
    pts = (np.exp(np.linspace(math.log(low), math.log(high), n)) if log
           else np.linspace(low, high, n))
    pts[0], pts[-1] = low, high
    return np.clip(pts, low, high)


def geomspread(low: float, high: float, n: int, log: bool) -> np.ndarray:
    """As :func:`spread`, with NumPy's ``geomspace`` for ``log`` (its interior points differ
    from :func:`spread`'s in the last bits), without repeats: the RL action spaces' spread,
    kept so that their stored actions keep meaning the same values."""
    return np.clip(np.unique((np.geomspace if log else np.linspace)(low, high, n)), low, high)


def finite_levels(dist: BaseDistribution, max_levels: int,
                  spread: Spread = spread) -> tuple[Any, ...]:
    """A finite support of ``dist``: a categorical's choices; an int / stepped float's grid
    when it has at most ``max_levels`` points, else ``max_levels`` points ``spread`` over it
    and snapped to the grid (repeats dropped); an unstepped float's ``max_levels`` points
    ``spread`` from ``low`` to ``high``."""
    k = kind(dist)
    if k == "categorical":
        return tuple(dist.choices)  # type: ignore[attr-defined]
    low, high, log = dist.low, dist.high, dist.log  # type: ignore[attr-defined]
    if k == "float":
        return tuple(float(v) for v in spread(low, high, max_levels, log))
    n = grid_size(dist)
    if n <= max_levels:
        idx = np.arange(n)
    else:
        pos = np.rint((spread(low, high, max_levels, log) - low) / dist.step)  # type: ignore
        idx = np.unique(pos.astype(np.int64))
    return tuple(grid_value(dist, int(i)) for i in idx)
