"""Gradient refinement of the best pooled candidates over their continuous parameters.

The discrete columns of each start stay as chosen; the float columns ``z`` (unit encoding,
bounds [0, 1]) of all ``k`` starts are one vector for a single L-BFGS-B run maximising
``sum_k acq(x_k(z))`` (the starts are independent, so this is ``k`` ascents at once). The
refined designs and the unrefined starts are then ranked by the acquisition; the best one that
is neither evaluated nor pending and passes ``prescreen`` is proposed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.optimize import minimize

from ._encoding import Encoder
from ._acquisition import acquisition_values
from ._pool import Prescreen, prescreen_ok, unseen

if TYPE_CHECKING:
    from botorch.acquisition import AcquisitionFunction

__all__ = ["float_columns", "refine"]


def float_columns(enc: Encoder) -> list[int]:
    """Encoded columns of the continuous (unstepped float) parameters."""
    return [c for b in enc.blocks if b.kind == "float" for c in range(b.start, b.start + b.width)]


def refine(enc: Encoder, starts: torch.Tensor, acq: "AcquisitionFunction",
           float_cols: list[int], seen: set[bytes], maxiter: int,
           prescreen: Prescreen | None = None) -> np.ndarray:
    """The refined design to propose (an encoded row on the grid), see the module docstring.

    Args:
        enc: the encoding of the search space.
        starts: (k, dim) best pooled candidates, all new designs.
        acq: the acquisition function (maximised).
        float_cols: from :func:`float_columns`, not empty.
        seen: keys of the evaluated and pending designs (``_qehvi_pool.row_keys``).
        maxiter: L-BFGS-B iterations.
        prescreen: optional cost-model filter; ignored if it would reject every candidate.
    """
    k, cols = len(starts), torch.tensor(float_cols, device=starts.device)

    def full(z: torch.Tensor) -> torch.Tensor:
        x = starts.clone()
        x[:, cols] = z.view(k, len(float_cols))
        return x

    def loss(z: np.ndarray) -> tuple[float, np.ndarray]:
        zt = torch.tensor(z, dtype=starts.dtype, device=starts.device, requires_grad=True)
        value = -acq(full(zt).unsqueeze(1)).sum()
        value.backward()
        return float(value.detach()), zt.grad.cpu().numpy()

    z0 = starts[:, cols].reshape(-1).cpu().numpy()
    try:
        res = minimize(loss, z0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * len(z0),
                       options={"maxiter": maxiter})
        z = res.x
    except (RuntimeError, ValueError):  # a numerically failed refinement keeps the starts
        z = z0
    refined = full(torch.tensor(z, dtype=starts.dtype, device=starts.device))
    cand = torch.cat([refined, starts])
    vals = acquisition_values(acq, cand)
    rows = enc.snap(cand.cpu().numpy())
    new = unseen(rows, seen)
    order = [i for i in np.argsort(-vals.cpu().numpy()) if new[i]]
    order = order or list(range(k, 2 * k))  # refinement only led back to evaluated designs
    if prescreen is not None:
        ok = prescreen_ok(prescreen, enc, rows)
        order = [i for i in order if ok[i]] or order
    return rows[order[0]]
