"""An Optuna search space as a pymoo decision vector, and mixed-variable operators on it.

Every searched parameter (sorted by name) is one column of a float row ``x``:

- ``"real"``: a float range, ``x = value`` (``log(value)`` for log distributions);
- ``"int"``: an integer or stepped float, ``x = (value - low) / step``, a grid index; an ordered
  categorical (``ordered[name]``, else all choices numbers) or one of at most two choices,
  ``x =`` its choice index;
- ``"choice"``: an unordered categorical of more than two choices, ``x =`` its choice index.

The operators follow pymoo's own recipe for mixed variables (``pymoo.core.mixed``: SBX and
polynomial mutation for reals, the same with rounding for integers, uniform crossover and random
reset for choices), but on one numeric row, so that each algorithm keeps its own selection
(tournaments, MOEA/D's neighbourhoods) and its own mating loop. Reals use pymoo's default
strengths (SBX eta 15, mutation eta 20); integers use eta 3, pymoo's integer example, since
with eta 15-20 a step on a grid of a few levels mostly rounds back to the parent. Each variable
mutates with probability ``1 / n_var``; a crossover happens for 90 % of the pairs.

This module imports pymoo at import time: the sampler imports it only when a proposal is made.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution
from pymoo.core.crossover import Crossover
from pymoo.core.duplicate import DefaultDuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.core.problem import Problem
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM

from .._codec import grid_size, grid_value, is_ordered, kind, log_bounds
from ..seam import contains

__all__ = ["Columns", "MixedCrossover", "MixedMutation", "SeenElimination"]

KINDS = ("real", "int", "choice")


class Columns:
    """Parameter dicts ↔ pymoo rows of one search space (see the module docstring).

    Args:
        search_space: name → Optuna distribution (single-valued ones are not searched here).
        ordered: optional name → bool for categoricals (default: ordered when all choices are
            numbers).
    """

    def __init__(self, search_space: Mapping[str, BaseDistribution],
                 ordered: Mapping[str, bool] | None = None) -> None:
        self.names = tuple(sorted(search_space))
        self.dists = tuple(search_space[n] for n in self.names)
        kinds, lo, hi = [], [], []
        for name, d in zip(self.names, self.dists):
            what = kind(d, name)
            if what == "float":
                kinds.append("real")
                lo.append(log_bounds(d)[0])
                hi.append(log_bounds(d)[1])
                continue
            k = grid_size(d)
            ordinal = what == "grid" or is_ordered(name, d, ordered) or k <= 2  # type: ignore
            kinds.append("int" if ordinal else "choice")
            lo.append(0.0)
            hi.append(float(k - 1))
        self.kinds = tuple(kinds)
        self.xl = np.array(lo)
        self.xu = np.array(hi)
        self.cols = {kind: np.flatnonzero(np.array(kinds) == kind) for kind in KINDS}
        self.n_var = len(self.names)

    @property
    def key(self) -> tuple:
        """Identifies the encoding (same key: same rows for the same designs)."""
        return tuple(zip(self.names, map(repr, self.dists), self.kinds))

    def encode(self, params: Mapping[str, Any]) -> np.ndarray | None:
        """The row of one parameter dict, or None when a value is missing or off the space
        (a trial enqueued with other values)."""
        x = np.empty(self.n_var)
        for j, (name, d) in enumerate(zip(self.names, self.dists)):
            if name not in params or not contains(d, params[name]):
                return None
            internal = d.to_internal_repr(params[name])
            if isinstance(d, CategoricalDistribution):
                x[j] = internal
            elif self.kinds[j] == "int":
                x[j] = round((internal - d.low) / d.step)  # type: ignore[attr-defined]
            else:
                x[j] = math.log(internal) if d.log else internal  # type: ignore[attr-defined]
        return x

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        """The parameter dict of one row (nearest grid point, clipped to the bounds)."""
        x = self.repair(np.asarray(x, dtype=float)[None])[0]
        out: dict[str, Any] = {}
        for j, (name, d) in enumerate(zip(self.names, self.dists)):
            if isinstance(d, CategoricalDistribution):
                out[name] = d.choices[int(x[j])]
            elif self.kinds[j] == "int":
                out[name] = grid_value(d, int(x[j]))
            else:
                v = math.exp(x[j]) if d.log else float(x[j])  # type: ignore[attr-defined]
                out[name] = min(max(v, d.low), d.high)  # type: ignore[attr-defined]
        return out

    def repair(self, X: np.ndarray) -> np.ndarray:
        """Rows moved into the space: grid columns rounded (``+ 0.0`` turns ``-0.0`` into
        ``0.0``, so equal designs have equal rows), every column clipped to its bounds."""
        X = np.clip(np.asarray(X, dtype=float), self.xl, self.xu)
        grid = np.concatenate([self.cols["int"], self.cols["choice"]])
        X[..., grid] = np.rint(X[..., grid]) + 0.0
        return X

    def random(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` uniform random rows (uniform over grids, uniform in ``x`` for reals)."""
        X = self.xl + rng.random((n, self.n_var)) * (self.xu - self.xl)
        grid = np.concatenate([self.cols["int"], self.cols["choice"]])
        X[:, grid] = np.floor(rng.random((n, len(grid))) * (self.xu[grid] + 1))
        return self.repair(X)

    def subproblem(self, kind: str) -> Problem:
        """A pymoo problem holding the bounds of the ``kind`` columns, for the operators."""
        c = self.cols[kind]
        return Problem(n_var=len(c), n_obj=1, xl=self.xl[c], xu=self.xu[c])


class MixedCrossover(Crossover):
    """Two parents → two children: SBX on real and integer columns (integers rounded), uniform
    crossover on choice columns."""

    def __init__(self, columns: Columns, prob: float = 0.9) -> None:
        super().__init__(2, 2, prob=prob)
        self.columns = columns
        self.sbx = {"real": SBX(eta=15), "int": SBX(eta=3)}
        self.sub = {k: columns.subproblem(k) for k in ("real", "int")}

    def _do(self, problem: Problem, X: np.ndarray, *args: Any,
            random_state: np.random.Generator | None = None, **kwargs: Any) -> np.ndarray:
        c = self.columns
        X = X.astype(float)
        Y = X.copy()
        for kind in ("real", "int"):
            cols = c.cols[kind]
            if len(cols):
                Y[:, :, cols] = self.sbx[kind]._do(self.sub[kind], X[:, :, cols],
                                                   random_state=random_state)
        cols = c.cols["choice"]
        if len(cols):
            swap = random_state.random((X.shape[1], len(cols))) < 0.5
            Y[0][:, cols] = np.where(swap, X[1][:, cols], X[0][:, cols])
            Y[1][:, cols] = np.where(swap, X[0][:, cols], X[1][:, cols])
        return c.repair(Y)


class MixedMutation(Mutation):
    """Each variable with probability ``1 / n_var``: polynomial mutation of real and integer
    columns (integers rounded), another uniformly random choice for choice columns."""

    def __init__(self, columns: Columns) -> None:
        super().__init__(prob=1.0)
        self.columns = columns
        rate = 1.0 / max(columns.n_var, 1)
        self.rate = rate
        self.pm = {"real": PM(eta=20, prob_var=rate), "int": PM(eta=3, prob_var=rate)}
        self.sub = {k: columns.subproblem(k) for k in ("real", "int")}

    def _do(self, problem: Problem, X: np.ndarray, *args: Any,
            random_state: np.random.Generator | None = None, **kwargs: Any) -> np.ndarray:
        c = self.columns
        Y = X.astype(float).copy()
        for kind in ("real", "int"):
            cols = c.cols[kind]
            if len(cols):
                Y[:, cols] = self.pm[kind]._do(self.sub[kind], Y[:, cols],
                                               random_state=random_state)
        cols = c.cols["choice"]
        if len(cols):
            levels = c.xu[cols] + 1
            change = random_state.random((len(Y), len(cols))) < self.rate
            shift = np.floor(random_state.random((len(Y), len(cols))) * (levels - 1)) + 1
            Y[:, cols] = np.where(change, (Y[:, cols] + shift) % levels, Y[:, cols])
        return c.repair(Y)


class SeenElimination(DefaultDuplicateElimination):
    """pymoo's duplicate elimination (within the offspring and against the population), and
    also against every design already evaluated in the study (``seen``, rows as tuples), so
    that an offspring never spends a trial on a design the study already knows."""

    def __init__(self, seen: set[tuple[float, ...]]) -> None:
        super().__init__()
        self.seen = seen

    def do(self, pop: Any, *args: Any, **kwargs: Any) -> Any:
        if len(pop):
            pop = pop[[tuple(x) not in self.seen for x in pop.get("X")]]
        return super().do(pop, *args, **kwargs)
