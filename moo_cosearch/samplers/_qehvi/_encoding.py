"""Numeric encoding of an Optuna search space for model-based samplers.

Every parameter becomes a block of columns in [0, 1]:

- float: one column, (log-)normalised to the bounds;
- int or float with a step: one column, (log-)normalised, decoded to the nearest step;
- ordered categorical (numeric grids such as PEs {1, 2, 4, 6, 8}): one column, index / (k - 1);
- unordered categorical (op names): one-hot, k columns.

Whether a categorical is ordered comes from the caller's ``ordered`` flags (the study passes a
joint space's), otherwise it is inferred (all choices numbers → ordered). Candidate pools (uniform
samples, mutations and crossovers of given designs) are generated directly in this encoding,
vectorised per parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from optuna.distributions import BaseDistribution

from .._codec import grid_size, grid_value, is_ordered, kind, log_bounds

__all__ = ["Encoder"]


@dataclass(frozen=True)
class _Block:
    name: str
    dist: BaseDistribution
    start: int
    width: int
    kind: str  # "float" | "grid" (int or stepped float) | "ordinal" | "onehot"
    levels: int  # grid size for grid / ordinal / onehot; 0 for float


class Encoder:
    """Encode / decode parameter dicts of an Optuna search space (see the module docstring).

    Args:
        search_space: name → Optuna distribution.
        ordered: optional name → bool overriding the inference for categoricals.
    """

    def __init__(self, search_space: Mapping[str, BaseDistribution],
                 ordered: Mapping[str, bool] | None = None) -> None:
        blocks: list[_Block] = []
        col = 0
        for name in sorted(search_space):
            dist = search_space[name]
            what = kind(dist, name)
            if what == "categorical":
                k = grid_size(dist)
                is_ord = is_ordered(name, dist, ordered)  # type: ignore[arg-type]
                what, width = ("ordinal", 1) if is_ord or k <= 2 else ("onehot", k)
                blocks.append(_Block(name, dist, col, width, what, k))
            else:
                width = 1
                blocks.append(_Block(name, dist, col, 1, what,
                                     grid_size(dist) if what == "grid" else 0))
            col += width
        self.blocks = tuple(blocks)
        self.dim = col

    # -- single values ----------------------------------------------------------------------
    def _to_unit(self, b: _Block, value: Any) -> np.ndarray:
        d = b.dist
        if b.kind in ("ordinal", "onehot"):
            idx = d.to_internal_repr(value)  # type: ignore[attr-defined]
            if b.kind == "onehot":
                return np.eye(b.levels)[int(idx)]
            return np.array([idx / max(b.levels - 1, 1)])
        lo, hi = log_bounds(d)
        v = math.log(float(value)) if d.log else float(value)  # type: ignore[attr-defined]
        return np.array([0.5 if hi == lo else (v - lo) / (hi - lo)])

    def _from_unit(self, b: _Block, x: np.ndarray) -> Any:
        d = b.dist
        if b.kind in ("onehot", "ordinal"):
            return d.choices[int(self._index(b, x[None])[0])]  # type: ignore[attr-defined]
        if b.kind == "grid":
            return grid_value(d, int(self._index(b, x[None])[0]))
        v = float(self._value(b, np.clip(x[:1], 0.0, 1.0))[0])
        return min(max(v, float(d.low)), float(d.high))  # type: ignore[attr-defined]

    def _value(self, b: _Block, u: np.ndarray) -> np.ndarray:
        """Values of a float/grid block at unit coordinates ``u`` (before snapping)."""
        lo, hi = log_bounds(b.dist)
        return np.exp(lo + u * (hi - lo)) if b.dist.log else lo + u * (hi - lo)  # type: ignore

    def _index(self, b: _Block, cols: np.ndarray) -> np.ndarray:
        """Grid indices of discrete blocks' rows ``cols`` (n, width): nearest level."""
        if b.kind == "onehot":
            return np.argmax(cols, axis=1)
        u = np.clip(cols[:, 0], 0.0, 1.0)
        if b.kind == "ordinal":
            return np.rint(u * (b.levels - 1)).astype(np.int64)
        idx = np.rint((self._value(b, u) - b.dist.low) / b.dist.step)  # type: ignore[attr-defined]
        return np.clip(idx, 0, b.levels - 1).astype(np.int64)

    def _unit(self, b: _Block, idx: np.ndarray) -> np.ndarray:
        """Encoded columns (n, width) of grid indices of a discrete block."""
        if b.kind == "onehot":
            return np.eye(b.levels)[idx]
        if b.kind == "ordinal":
            return (idx / max(b.levels - 1, 1))[:, None]
        d = b.dist
        v = d.low + idx * d.step  # type: ignore[attr-defined]
        lo, hi = log_bounds(d)
        if d.log:  # type: ignore[attr-defined]
            v = np.log(v)
        return (np.full(len(idx), 0.5) if hi == lo else (v - lo) / (hi - lo))[:, None]

    # -- batches ----------------------------------------------------------------------------
    def encode(self, params_list: list[Mapping[str, Any]]) -> np.ndarray:
        """(n, dim) float array of the given parameter dicts."""
        out = np.zeros((len(params_list), self.dim))
        for i, params in enumerate(params_list):
            for b in self.blocks:
                out[i, b.start:b.start + b.width] = self._to_unit(b, params[b.name])
        return out

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        """Parameter dict of one encoded row (nearest grid point for discrete parameters)."""
        return {b.name: self._from_unit(b, x[b.start:b.start + b.width]) for b in self.blocks}

    def snap(self, X: np.ndarray) -> np.ndarray:
        """Rows moved onto the grid: nearest level of discrete parameters, floats clipped."""
        X = X.copy()
        for b in self.blocks:
            cols = slice(b.start, b.start + b.width)
            if b.kind == "float":
                X[:, cols] = np.clip(X[:, cols], 0, 1)
            else:
                X[:, cols] = self._unit(b, self._index(b, X[:, cols]))
        return X

    def random(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` uniform random designs (uniform over each grid, uniform in unit space for
        floats)."""
        X = np.zeros((n, self.dim))
        for b in self.blocks:
            X[:, b.start:b.start + b.width] = self._random_block(b, n, rng)
        return X

    def _random_block(self, b: _Block, n: int, rng: np.random.Generator) -> np.ndarray:
        if b.kind == "float":
            return rng.random((n, 1))
        return self._unit(b, rng.integers(b.levels, size=n))

    def mutate(self, parents: np.ndarray, n: int, rng: np.random.Generator,
               rate: float | None = None, sigma: float = 0.1,
               kinds: tuple[str, ...] | None = None) -> np.ndarray:
        """``n`` children of random parents: each parameter (of ``kinds``, default all) is
        changed with probability ``rate`` (default 1.5 / n_params, at least one per child):
        discrete ones to another level, floats moved by N(0, sigma) in unit space."""
        blocks = [j for j, b in enumerate(self.blocks) if kinds is None or b.kind in kinds]
        nb = len(blocks)
        rate = min(1.0, 1.5 / nb) if rate is None else rate
        X = parents[rng.integers(len(parents), size=n)].copy()
        change = np.zeros((n, len(self.blocks)), dtype=bool)
        change[:, blocks] = rng.random((n, nb)) < rate
        change[np.arange(n), np.asarray(blocks)[rng.integers(nb, size=n)]] = True
        for j, b in enumerate(self.blocks):
            rows = np.flatnonzero(change[:, j])
            if not len(rows):
                continue
            cols = slice(b.start, b.start + b.width)
            if b.kind == "float":
                X[rows, cols] = np.clip(X[rows, cols] + rng.normal(0, sigma, (len(rows), 1)),
                                        0, 1)
            elif b.levels > 1:  # another level than the parent's, uniformly
                shift = rng.integers(1, b.levels, size=len(rows))
                X[rows, cols] = self._unit(b, (self._index(b, X[rows, cols]) + shift) % b.levels)
        return X

    def neighbours(self, x: np.ndarray) -> np.ndarray:
        """The designs one discrete step from the encoded row ``x`` (on the grid): each
        grid or ordered parameter one level up or down, each unordered categorical switched to
        every other choice; floats unchanged (gradient refinement moves them)."""
        out = []
        for b in self.blocks:
            if b.kind == "float" or b.levels < 2:
                continue
            cols = slice(b.start, b.start + b.width)
            i = int(self._index(b, x[None, cols])[0])
            idx = (np.delete(np.arange(b.levels), i) if b.kind == "onehot"
                   else np.array([j for j in (i - 1, i + 1) if 0 <= j < b.levels]))
            if len(idx):
                rows = np.repeat(x[None], len(idx), axis=0)
                rows[:, cols] = self._unit(b, idx)
                out.append(rows)
        return np.concatenate(out) if out else np.zeros((0, self.dim))

    def crossover(self, parents: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` uniform crossovers of random parent pairs (whole parameter blocks)."""
        a = parents[rng.integers(len(parents), size=n)]
        c = parents[rng.integers(len(parents), size=n)]
        X = a.copy()
        for b in self.blocks:
            take = rng.random(n) < 0.5
            X[take, b.start:b.start + b.width] = c[take, b.start:b.start + b.width]
        return X
