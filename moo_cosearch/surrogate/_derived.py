"""Cheap derived network features: MACs and weights, from additive per-block tables.

For the block-structured families (MobileNetV2, EfficientNet-B0: block ``i`` owns
``b{i}_kernel``/``b{i}_expansion`` and its MACs do not depend on other blocks; NB201: each edge's
op is costed independently) a network's total MACs and weights are
``base + sum_g delta_g(choices of group g)``. :class:`AdditiveNetworkStats` builds the
``delta`` tables once from a handful of networks (one per choice combination of each group),
checks the decomposition exactly on random designs, and then computes for a whole batch of
grid-index rows, vectorised: ``log2`` of total MACs and weights, and each block's MAC change.
Relaxed designs (choice probabilities) get the expected values, differentiably.
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    import torch

    from ..space import JointSpace

__all__ = ["AdditiveNetworkStats"]

_BLOCK = re.compile(r"^(b\d+)_")


class AdditiveNetworkStats:
    """Per-group MAC/weight tables of a space's network (see the module docstring).

    Raises:
        ValueError: the space has no network, or its costs are not additive over groups.
    """

    def __init__(self, space: "JointSpace", searched: Sequence, n_check: int = 16) -> None:
        from ..networks import build_network, summarize

        if space.network is None:
            raise ValueError(f"space {space.name!r} has no network; no derived features")
        nas = [j for j, p in enumerate(searched) if p.group == "nas"]
        groups: dict[str, list[int]] = {}
        for j in nas:
            m = _BLOCK.match(searched[j].name)
            groups.setdefault(m.group(1) if m else searched[j].name, []).append(j)
        self.searched = list(searched)
        self.group_names = list(groups)
        self.group_cols = [groups[g] for g in self.group_names]
        base_design = {p.name: p.choices[0] for p in space.params}

        def stats(design: dict) -> np.ndarray:
            return np.array(summarize(build_network(space.network, design)), dtype=np.float64)

        self.base = stats(base_design)
        self.tables = []          # per group: array (k_a, k_b, ..., 2) of (MACs, weights) deltas
        for cols in self.group_cols:
            sizes = [len(searched[j].choices) for j in cols]
            table = np.zeros(sizes + [2])
            for combo in itertools.product(*(range(k) for k in sizes)):
                d = dict(base_design)
                for j, c in zip(cols, combo):
                    d[searched[j].name] = searched[j].choices[c]
                table[combo] = stats(d) - self.base
            self.tables.append(table)
        rng = np.random.default_rng(0)
        ks = np.array([len(p.choices) for p in searched])
        idx = (rng.random((n_check, len(searched))) * ks).astype(np.int64)
        for row in idx:
            d = dict(base_design, **{p.name: p.choices[i] for p, i in zip(searched, row)})
            if not np.array_equal(stats(d), self.stats(row[None])[0, :2]):
                raise ValueError(f"network costs of space {space.name!r} are not additive over "
                                 f"blocks {self.group_names}; no derived features")

    @property
    def names(self) -> list[str]:
        return ["log2(macs)", "log2(weights)"] + [f"dmacs({g})" for g in self.group_names]

    def stats(self, idx: np.ndarray) -> np.ndarray:
        """(n, 2 + n_groups): total MACs and weights, then each group's MAC delta."""
        out = np.empty((len(idx), 2 + len(self.tables)))
        total = np.tile(self.base, (len(idx), 1))
        for g, (cols, table) in enumerate(zip(self.group_cols, self.tables)):
            delta = table[tuple(idx[:, j] for j in cols)]
            total += delta
            out[:, 2 + g] = delta[:, 0]
        out[:, :2] = total
        return out

    def transform(self, idx: np.ndarray) -> np.ndarray:
        s = self.stats(idx)
        s[:, :2] = np.log2(np.maximum(s[:, :2], 1.0))
        s[:, 2:] /= 1e6                               # MMACs
        return s

    def relaxed(self, probs: Sequence["torch.Tensor"]) -> "torch.Tensor":
        """Expected features of relaxed designs (``probs`` per searched parameter)."""
        import torch

        ref = probs[0]
        total = torch.as_tensor(self.base, dtype=ref.dtype, device=ref.device).expand(
            ref.shape[0], 2)
        deltas = []
        for cols, table in zip(self.group_cols, self.tables):
            t = torch.as_tensor(table, dtype=ref.dtype, device=ref.device)
            # expected delta = sum over combos of prod_j p_j(c_j) * delta(combo)
            t = torch.tensordot(probs[cols[0]], t, dims=([1], [0]))     # (n, k_b, ..., 2)
            for j in cols[1:]:
                t = torch.einsum("nk,nk...->n...", probs[j], t)
            total = total + t
            deltas.append(t[:, 0:1] / 1e6)
        logs = torch.log2(total.clamp(min=1.0))
        return torch.cat([logs] + deltas, dim=1)
