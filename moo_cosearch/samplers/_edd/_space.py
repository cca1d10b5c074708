"""The relaxed view of an Optuna search space for the differentiable (``edd``) sampler.

Every searched parameter becomes a categorical over a finite list of *levels*, the support of
its Gumbel-softmax distribution:

- categorical: its choices, in the distribution's order;
- int, or float with a step: its grid (``low, low + step, ..., high``) when it has at most
  ``max_levels`` points, else ``max_levels`` points spread evenly (in log space for ``log``
  distributions) and snapped to the grid;
- float without a step: ``max_levels`` evenly (or log-) spaced points from ``low`` to ``high``
  (a proposal is one of those points).

Parameters are in **sorted name order** (as Optuna's ``IntersectionSearchSpace`` gives them and
as :class:`~._encoding.Encoder` sorts them). A design is a row of level indices; its predictor
features are, per parameter, the one-hot of the level plus, for ordered parameters with more
than two levels, the level's position ``index / (k - 1)``, so the predictor sees the order of
numeric grids. Both are linear in the level probabilities, so a relaxed design (probabilities
instead of a one-hot) has features ``probs @ feature_matrix``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from optuna.distributions import (BaseDistribution, CategoricalDistribution, FloatDistribution,
                                  IntDistribution)

__all__ = ["Relaxation"]


def _is_number(c: Any) -> bool:
    return isinstance(c, (int, float)) and not isinstance(c, bool)


@dataclass(frozen=True)
class _Param:
    name: str
    dist: BaseDistribution
    levels: tuple[Any, ...]
    ordered: bool


def _spread(low: float, high: float, n: int, log: bool) -> np.ndarray:
    """``n`` points from ``low`` to ``high`` (both exact), evenly spaced (in log space when
    ``log``)."""
    pts = (np.exp(np.linspace(math.log(low), math.log(high), n)) if log
           else np.linspace(low, high, n))
    pts[0], pts[-1] = low, high
    return np.clip(pts, low, high)


def _levels(dist: BaseDistribution, max_levels: int) -> tuple[Any, ...]:
    """The finite support of one distribution (see the module docstring)."""
    if isinstance(dist, CategoricalDistribution):
        return tuple(dist.choices)
    low, high = dist.low, dist.high  # type: ignore[attr-defined]
    step = dist.step  # type: ignore[attr-defined]
    is_int = isinstance(dist, IntDistribution)
    if step is None:  # unstepped float
        return tuple(float(v) for v in _spread(low, high, max_levels, dist.log))  # type: ignore
    n = int(round((high - low) / step)) + 1
    if n <= max_levels:
        grid = low + np.arange(n) * step
    else:
        pos = np.rint((_spread(low, high, max_levels, dist.log) - low) / step)  # type: ignore
        grid = low + np.unique(pos) * step
    grid = np.minimum(grid, high)
    return tuple(int(round(v)) if is_int else float(v) for v in grid)


class Relaxation:
    """Levels, indices and predictor features of a search space (see the module docstring).

    Args:
        search_space: name → Optuna distribution (single-valued ones should be left out).
        ordered: name → bool for categoricals; a categorical not named is ordered when all its
            choices are numbers. Int and float parameters are always ordered.
        max_levels: at most this many levels for an int / float parameter.
    """

    def __init__(self, search_space: Mapping[str, BaseDistribution],
                 ordered: Mapping[str, bool] | None = None, max_levels: int = 16) -> None:
        ordered = dict(ordered or {})
        params = []
        for name in sorted(search_space):
            dist = search_space[name]
            if isinstance(dist, CategoricalDistribution):
                is_ord = ordered.get(name, all(_is_number(c) for c in dist.choices))
            elif isinstance(dist, (IntDistribution, FloatDistribution)):
                is_ord = True
            else:  # pragma: no cover - Optuna has no other distribution kinds
                raise TypeError(f"unsupported distribution for {name!r}: {dist!r}")
            params.append(_Param(name, dist, _levels(dist, max_levels), bool(is_ord)))
        self.params = tuple(params)
        self.names = tuple(p.name for p in params)
        self.sizes = np.array([len(p.levels) for p in params], dtype=np.int64)
        self.width = int(self.sizes.max()) if len(params) else 0
        #: (n_params, width) True where a padded level exists.
        self.mask = np.arange(self.width)[None, :] < self.sizes[:, None]

    @property
    def signature(self) -> tuple:
        """Identifies the relaxation (names, levels, order flags): equal signatures map the
        same designs to the same features."""
        return tuple((p.name, p.levels, p.ordered) for p in self.params)

    # -- designs ↔ level indices ------------------------------------------------------------
    def _index(self, p: _Param, value: Any) -> int:
        if isinstance(p.dist, CategoricalDistribution):
            return int(p.dist.to_internal_repr(value))
        levels = np.asarray(p.levels, dtype=float)
        v = float(value)
        if getattr(p.dist, "log", False):
            levels, v = np.log(levels), math.log(v)
        return int(np.argmin(np.abs(levels - v)))

    def covers(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` gives every parameter a value of its distribution (a trial of a
        dynamic search space may not)."""
        for p in self.params:
            if p.name not in params:
                return False
            value = params[p.name]
            if isinstance(p.dist, CategoricalDistribution):
                if value not in p.dist.choices:
                    return False
            elif not p.dist.low <= value <= p.dist.high:  # type: ignore[attr-defined]
                return False
        return True

    def indices(self, params_list: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """(n, n_params) level indices of parameter dicts (nearest level for numbers)."""
        out = np.zeros((len(params_list), len(self.params)), dtype=np.int64)
        for i, params in enumerate(params_list):
            for j, p in enumerate(self.params):
                out[i, j] = self._index(p, params[p.name])
        return out

    def design(self, row: Sequence[int]) -> dict[str, Any]:
        """The parameter dict of one row of level indices."""
        return {p.name: p.levels[int(i)] for p, i in zip(self.params, row)}

    def random(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` rows of uniformly drawn level indices."""
        return (rng.random((n, len(self.params))) * self.sizes).astype(np.int64)

    # -- features ---------------------------------------------------------------------------
    def feature_matrix(self) -> np.ndarray:
        """(sum of level counts, n_features): features of a design are its concatenated
        per-parameter level probabilities (one-hot for a discrete design) times this."""
        n_feat = int(self.sizes.sum()) + sum(1 for p in self.params
                                             if p.ordered and len(p.levels) > 2)
        out = np.zeros((int(self.sizes.sum()), n_feat))
        row, col = 0, int(self.sizes.sum())
        for p in self.params:
            k = len(p.levels)
            out[row:row + k, row:row + k] = np.eye(k)
            if p.ordered and k > 2:
                out[row:row + k, col] = np.arange(k) / (k - 1)
                col += 1
            row += k
        return out

    def one_hot(self, idx: np.ndarray) -> np.ndarray:
        """(n, sum of level counts) concatenated one-hot blocks of index rows."""
        starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        out = np.zeros((len(idx), int(self.sizes.sum())))
        out[np.arange(len(idx))[:, None], starts[None, :] + idx] = 1.0
        return out
