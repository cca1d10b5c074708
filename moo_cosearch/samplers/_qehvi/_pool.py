"""The discrete candidate pool of one qEHVI trial, and the filters every proposal goes through.

The pool is drawn in the :class:`~._encoding.Encoder`'s unit encoding: half uniform samples,
a third mutations and the rest uniform crossovers of parents (the feasible Pareto designs plus
as many random feasible designs), snapped onto the grid. Designs already evaluated or pending
(``seen``) and duplicates are removed; the user's ``prescreen`` cost model, if any, then drops
designs it knows to be infeasible.
"""

from __future__ import annotations

from typing import Any, Callable

import moocore
import numpy as np

from ._encoding import Encoder

__all__ = ["Prescreen", "candidate_pool", "pareto_mask", "prescreen_ok", "row_keys", "unseen"]

#: ``f(list of param dicts) -> bool array``: False for designs known to be infeasible.
Prescreen = Callable[[list[dict[str, Any]]], np.ndarray]


def row_keys(X: np.ndarray) -> set[bytes]:
    """Exact keys of encoded rows, to test a candidate against evaluated / pending designs."""
    return {r.tobytes() for r in X}


def unseen(X: np.ndarray, seen: set[bytes]) -> np.ndarray:
    """Bool mask of the encoded rows of ``X`` whose :func:`row_keys` are not in ``seen``."""
    return np.array([r.tobytes() not in seen for r in X], dtype=bool)


def pareto_mask(Y: np.ndarray) -> np.ndarray:
    """Non-dominated rows of ``Y`` (maximisation form); duplicated optimal rows all kept."""
    return moocore.is_nondominated(Y, maximise=True, keep_weakly=True)


def prescreen_ok(prescreen: Prescreen, enc: Encoder, rows: np.ndarray) -> np.ndarray:
    """The ``prescreen`` verdict (bool per row) on the decoded designs of ``rows``."""
    return np.asarray(prescreen([enc.decode(r) for r in rows]), dtype=bool)


def candidate_pool(enc: Encoder, X: np.ndarray, Yobj: np.ndarray, feasible: np.ndarray,
                   seen: set[bytes], n: int, rng: np.random.Generator,
                   prescreen: Prescreen | None = None) -> np.ndarray:
    """About ``n`` new encoded designs (see the module docstring), at least one.

    Args:
        enc: the encoding of the search space.
        X: (n_obs, dim) encoded observations.
        Yobj: (n_obs, m) their objectives in maximisation form.
        feasible: (n_obs,) whether each observation satisfies its constraints.
        seen: :func:`row_keys` of the evaluated and pending designs.
        n: pool size before removing seen designs and duplicates.
        rng: consumed in a fixed order (parents, uniform, mutations, crossovers).
        prescreen: optional cost-model filter; ignored if it would reject every candidate.
    """
    base = X[feasible] if feasible.any() else X
    front = base[pareto_mask(Yobj[feasible] if feasible.any() else Yobj)]
    parents = np.concatenate([front, base[rng.integers(len(base), size=len(front))]])
    pool = np.concatenate([enc.random(n // 2, rng),
                           enc.mutate(parents, n // 3, rng),
                           enc.crossover(parents, n - n // 2 - n // 3, rng)])
    pool = enc.snap(pool)
    pool = pool[unseen(pool, seen)]
    _, first = np.unique(pool, axis=0, return_index=True)
    pool = pool[np.sort(first)]
    if prescreen is not None and len(pool):
        ok = prescreen_ok(prescreen, enc, pool)
        pool = pool[ok] if ok.any() else pool
    return pool if len(pool) else enc.random(1, rng)
