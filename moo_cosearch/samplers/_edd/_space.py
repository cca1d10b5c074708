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
as :class:`~.._qehvi._encoding.Encoder` sorts them); the levels are the shared codec's
:func:`~.._codec.finite_levels`. A design is a row of level indices; its predictor
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
from optuna.distributions import BaseDistribution, CategoricalDistribution

from .._codec import finite_levels, is_ordered, kind

__all__ = ["Relaxation"]


@dataclass(frozen=True)
class _Param:
    name: str
    dist: BaseDistribution
    levels: tuple[Any, ...]
    ordered: bool


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
        params = []
        for name in sorted(search_space):
            dist = search_space[name]
            is_ord = (is_ordered(name, dist, ordered) if kind(dist, name) == "categorical"
                      else True)
            params.append(_Param(name, dist, finite_levels(dist, max_levels), is_ord))
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
