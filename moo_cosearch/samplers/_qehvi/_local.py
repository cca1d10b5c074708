"""Discrete local search of the acquisition from the best pooled candidates.

The candidate pool samples the space; on a large joint space (40 categorical parameters) its
best design is rarely a local optimum of the acquisition. From each of the ``k`` best scored
candidates, this search moves to the best neighbour (:meth:`~._encoding.Encoder.neighbours`:
one parameter one level up or down, or a categorical switched) while that improves the
acquisition, never onto an evaluated, pending or pre-screened-out design, for at most
``max_sweeps`` moves. The Monte-Carlo acquisition costs milliseconds per design, so each move
first ranks a start's neighbours by the cheap optimistic pre-score (the pool's) and scores only
the best ``n_screen`` of them, all starts in one batched call.
This is the discrete step of BoTorch's ``optimize_acqf_mixed_alternating`` started from the
pool's best instead of from many random restarts (``benchmarks/results/acqopt.md`` compares the
two).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from ._acquisition import acquisition_values
from ._encoding import Encoder
from ._pool import Prescreen, prescreen_ok, unseen

if TYPE_CHECKING:
    from botorch.acquisition import AcquisitionFunction

__all__ = ["local_search"]


def local_search(enc: Encoder, starts: torch.Tensor, values: torch.Tensor,
                 acq: "AcquisitionFunction", seen: set[bytes], max_sweeps: int,
                 prescore: Callable[[torch.Tensor], torch.Tensor], n_screen: int = 8,
                 prescreen: Prescreen | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``starts`` (k, dim, on the grid, new designs) moved to local optima: the moved
    rows and their acquisition values, in the same order.

    Args:
        enc: the encoding of the search space.
        starts: (k, dim) best scored candidates.
        values: (k,) their acquisition values.
        acq: the acquisition function (maximised).
        seen: keys of the evaluated and pending designs (``_pool.row_keys``).
        max_sweeps: moves per start at most.
        prescore: rows (n, dim) -> (n,) cheap scores (larger is better) ranking neighbours.
        n_screen: neighbours per start scored by ``acq`` each move.
        prescreen: optional cost-model filter for the neighbours (one call per move).
    """
    X = starts.cpu().numpy().copy()
    v = values.cpu().numpy().astype(float).copy()
    active = np.ones(len(X), dtype=bool)
    for _ in range(max_sweeps):
        starts_nb = {}
        for i in np.flatnonzero(active):
            nb = enc.neighbours(X[i])
            starts_nb[i] = nb[unseen(nb, seen)]
        if prescreen is not None and any(len(nb) for nb in starts_nb.values()):
            ok = prescreen_ok(prescreen, enc, np.concatenate(list(starts_nb.values())))
            cuts = np.cumsum([len(nb) for nb in starts_nb.values()])[:-1]
            starts_nb = {i: nb[keep] for (i, nb), keep in zip(starts_nb.items(),
                                                                np.split(ok, cuts))}
        rows, owner = [], []
        for i, nb in starts_nb.items():
            if len(nb) > n_screen:
                score = prescore(torch.as_tensor(nb, dtype=starts.dtype, device=starts.device))
                nb = nb[torch.topk(score, n_screen).indices.cpu().numpy()]
            rows.append(nb)
            owner += [i] * len(nb)
        if not owner:
            break
        cand, owner = np.concatenate(rows), np.asarray(owner)
        vals = acquisition_values(acq, torch.as_tensor(cand, dtype=starts.dtype,
                                                       device=starts.device)).cpu().numpy()
        moved = np.zeros(len(X), dtype=bool)
        for i in np.flatnonzero(active):
            mine = np.flatnonzero(owner == i)
            if len(mine) and vals[mine].max() > v[i]:
                j = mine[np.argmax(vals[mine])]
                X[i], v[i], moved[i] = cand[j], vals[j], True
        active &= moved
        if not active.any():
            break
    return (torch.as_tensor(X, dtype=starts.dtype, device=starts.device),
            torch.as_tensor(v, dtype=values.dtype, device=values.device))
