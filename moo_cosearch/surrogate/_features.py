"""Numeric features of joint-space designs for the MLP surrogate.

A :class:`FeatureSchema` maps the grid indices of a space's searched parameters (the matrix
:meth:`JointSpace.indices` returns) to float features, vectorised:

* an ordered numeric parameter gives two columns: its grid position ``index / (k - 1)`` (the
  space's own grid encoding, :attr:`~moo_cosearch.space.Param.encoding`) and ``log2(value)`` when all its values are positive (cost models are mostly products and ratios
  of sizes, which are sums in log space), else the value itself;
* an unordered parameter gives a one-hot block.

Columns are standardised with the training set's mean/std when the model is fitted (see
:mod:`._model`); the schema itself is stateless and rebuilt from the space. :meth:`relaxed`
computes the same features from per-parameter probability vectors (soft one-hot) in torch, so
a surrogate's predictions are differentiable with respect to a relaxed design.

With ``derived=True`` the network's total MACs and weights (log2) and each block's MAC change
are appended (:class:`~._derived.AdditiveNetworkStats`), still vectorised over index rows.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    import torch

    from ..space import JointSpace

__all__ = ["FeatureSchema"]


class FeatureSchema:
    """Feature columns of a space's searched parameters."""

    def __init__(self, space: "JointSpace", derived: bool = False) -> None:
        self.space = space
        self.params = [p for p in space.params if not p.fixed]
        self.derived = None
        if derived:
            from ._derived import AdditiveNetworkStats

            self.derived = AdditiveNetworkStats(space, self.params)
        self.names: list[str] = []
        self._tables: list[np.ndarray] = []   # per param: (k, width) feature rows of its choices
        for p in self.params:
            if p.ordered:   # the space's grid encoding plus the value (log2 when positive)
                values = np.asarray(p.choices, dtype=np.float64)
                if np.all(values > 0):
                    table = np.concatenate([p.encoding, np.log2(values)[:, None]], 1)
                    cols = [p.name, f"log2({p.name})"]
                else:
                    table = np.concatenate([p.encoding, values[:, None]], 1)
                    cols = [p.name, f"value({p.name})"]
            else:
                table, cols = p.encoding, [f"{p.name}={c}" for c in p.choices]
            self._tables.append(table)
            self.names.extend(cols)
        if self.derived is not None:
            self.names.extend(self.derived.names)

    @property
    def width(self) -> int:
        return len(self.names)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (stored with a saved surrogate, compared on load)."""
        return {"columns": self.names, "derived": self.derived is not None,
                "params": [{"name": p.name, "choices": list(p.choices), "ordered": p.ordered}
                           for p in self.params]}

    @property
    def hash(self) -> str:
        text = json.dumps(self.describe(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def indices(self, designs: Sequence[Any]) -> np.ndarray:
        """Grid indices (n, n_searched) of design dicts (validated), or an index matrix as is."""
        if isinstance(designs, np.ndarray):
            idx = np.asarray(designs)
            if idx.ndim != 2 or idx.shape[1] != len(self.params):
                raise ValueError(f"an index matrix for space {self.space.name!r} must have "
                                 f"shape (n, {len(self.params)}), got {idx.shape}")
            ks = np.array([len(p.choices) for p in self.params])
            if idx.size and (idx.min() < 0 or np.any(idx >= ks)):
                raise ValueError("grid indices must lie in [0, k) for each parameter")
            return idx.astype(np.int64, copy=False)
        return self.space.indices(designs)

    def transform(self, designs: Sequence[Any]) -> np.ndarray:
        """Features (n, width) as float32 of design dicts or an index matrix."""
        idx = self.indices(designs)
        out = np.empty((idx.shape[0], self.width), dtype=np.float32)
        col = 0
        for j, table in enumerate(self._tables):
            w = table.shape[1]
            out[:, col:col + w] = table[idx[:, j]]
            col += w
        if self.derived is not None:
            out[:, col:] = self.derived.transform(idx)
        return out

    def relaxed(self, probs: Sequence["torch.Tensor"]) -> "torch.Tensor":
        """Features of relaxed designs: ``probs[j]`` is (n, k_j) choice probabilities of the
        j-th searched parameter (rows sum to 1). Each parameter's columns are the
        probability-weighted average of its choices' feature rows, so one-hot probabilities give
        exactly :meth:`transform` and gradients flow to ``probs``."""
        import torch

        if len(probs) != len(self.params):
            raise ValueError(f"need one probability matrix per searched parameter "
                             f"({len(self.params)}), got {len(probs)}")
        blocks = []
        for p, pr, table in zip(self.params, probs, self._tables):
            if pr.shape[-1] != len(p.choices):
                raise ValueError(f"probabilities for {p.name} need {len(p.choices)} columns, "
                                 f"got {pr.shape[-1]}")
            blocks.append(pr @ torch.as_tensor(table, dtype=pr.dtype, device=pr.device))
        if self.derived is not None:
            blocks.append(self.derived.relaxed(probs))
        return torch.cat(blocks, dim=-1)
