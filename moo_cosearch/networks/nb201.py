"""The NAS-Bench-201 cell in one place: ops, edges, arch strings, codes, live edges,
isomorphism classes, the benchmark's rows, and the CIFAR network built from a cell.

NAS-Bench-201 (X. Dong and Y. Yang, "NAS-Bench-201: Extending the Scope of Reproducible Neural
Architecture Search", ICLR 2020): a cell is a 4-node DAG whose 6 edges each carry one of
:data:`OPS`; the arch string lists them as ``|e0~0|+|e1~0|e2~1|+|e3~0|e4~1|e5~2|`` (edge
``e`` runs between the nodes :data:`EDGES` gives). A joint space carries the cell as the
parameters :data:`EDGE_PARAMS` (``edge0`` .. ``edge5``). Cells are also written as
(n, 6) op-index arrays or base-5 codes ``sum_e op_e * 5**e`` (:func:`arch_codes`).

An edge is *live* when its op is not ``none``, its source node is reachable from the cell input
through non-``none`` edges and its target node reaches the cell output; a dead op computes
nothing that reaches the output. :func:`unique_str` is the benchmark's isomorphism key.
"""

from __future__ import annotations

import csv
import gzip
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping, Sequence

import numpy as np

from ._common import check_positive, fc, global_pool
from ._registry import Family, register_family
from .layers import Layer, layer_matrix

__all__ = ["BENCHMARK_METRICS", "EDGES", "EDGE_PARAMS", "N_CELLS", "N_EDGES", "OPS",
           "arch_codes", "arch_ops", "arch_str", "benchmark_index", "benchmark_rows",
           "canonical_ops", "cell_ops", "design_ops", "live_edges", "nb201",
           "representative_ops", "unique_str"]

#: Edge operations, in the order of their op index.
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (source node, target node) of each edge, in arch-string order.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
N_EDGES: int = len(EDGES)
#: The joint-space parameters holding a cell's ops.
EDGE_PARAMS: tuple[str, ...] = tuple(f"edge{e}" for e in range(N_EDGES))
#: Number of distinct cells (5**6).
N_CELLS: int = len(OPS) ** N_EDGES
#: Accuracy columns (%) of the packaged benchmark table.
BENCHMARK_METRICS: tuple[str, ...] = (
    "cifar10_test_200ep", "cifar100_test_200ep", "imagenet16_test_200ep",
    "cifar10_test_12ep", "cifar10_val_12ep", "cifar100_test_12ep", "cifar100_val_12ep",
    "imagenet16_test_12ep", "imagenet16_val_12ep")

_OP_CODE = {op: i for i, op in enumerate(OPS)}
_NONE, _SKIP = 0, 1
_ARCH_RE = re.compile(r"^\|(\w+)~0\|\+\|(\w+)~0\|(\w+)~1\|\+\|(\w+)~0\|(\w+)~1\|(\w+)~2\|$")
_POWERS = len(OPS) ** np.arange(N_EDGES, dtype=np.int64)


def arch_str(ops: Sequence[str]) -> str:
    """The standard cell string ``|e0~0|+|e1~0|e2~1|+|e3~0|e4~1|e5~2|`` of six op names."""
    if isinstance(ops, str) or len(ops) != N_EDGES:
        raise ValueError(f"a NAS-Bench-201 cell has {N_EDGES} edges, got {ops!r}")
    for op in ops:
        if op not in _OP_CODE:
            raise ValueError(f"NAS-Bench-201 ops must be one of {list(OPS)}, got {op!r}")
    e = ops
    return f"|{e[0]}~0|+|{e[1]}~0|{e[2]}~1|+|{e[3]}~0|{e[4]}~1|{e[5]}~2|"


def arch_ops(text: str) -> tuple[str, ...]:
    """The six edge ops of a cell string ``|e0~0|+|e1~0|e2~1|+|e3~0|e4~1|e5~2|``."""
    m = _ARCH_RE.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"a NAS-Bench-201 cell string must look like "
                         f"'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|', got {text!r}")
    return m.groups()


def design_ops(design: Mapping[str, Any]) -> tuple[str, ...]:
    """The six op names of a design dict's ``edge0`` .. ``edge5`` (other keys ignored)."""
    missing = [p for p in EDGE_PARAMS if p not in design]
    if missing:
        raise ValueError(f"a NAS-Bench-201 cell needs parameters {list(EDGE_PARAMS)}, "
                         "missing " + ", ".join(map(repr, missing)))
    return tuple(design[p] for p in EDGE_PARAMS)


def arch_codes(cells: np.ndarray | Sequence[Sequence[str]]) -> np.ndarray:
    """Base-5 codes ``sum_e op_e * 5**e`` (op index in :data:`OPS`) of cells given as an
    (n, 6) array of op names or op indices."""
    arr = np.asarray(cells)
    if arr.ndim != 2 or arr.shape[1] != N_EDGES:
        raise ValueError(f"cells must be an (n, {N_EDGES}) array of edge ops, "
                         f"got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        ops = arr.astype(np.int64)
        if ops.size and (ops.min() < 0 or ops.max() >= len(OPS)):
            raise ValueError(f"op indices must lie in [0, {len(OPS)}), got "
                             f"{int(ops.min())}..{int(ops.max())}")
    else:
        try:
            ops = np.vectorize(_OP_CODE.__getitem__, otypes=[np.int64])(arr) if arr.size \
                else np.zeros(arr.shape, np.int64)
        except (KeyError, TypeError) as e:
            raise ValueError(f"NAS-Bench-201 ops must be one of {list(OPS)}, "
                             f"got {e.args[0]!r}") from None
    return ops @ _POWERS


def _ops_of_codes(codes: np.ndarray) -> np.ndarray:
    return (np.asarray(codes, dtype=np.int64)[:, None] // _POWERS) % len(OPS)


def cell_ops(cells: Any) -> np.ndarray:
    """(n, 6) op indices (into :data:`OPS`) of cells given as arch strings, design dicts
    with ``edge0``..``edge5``, sequences of 6 op names, or an (n, 6) op-index array."""
    if isinstance(cells, np.ndarray) and cells.dtype.kind in "iu":
        arch_codes(cells)                                   # checks shape and range
        return cells.astype(np.int64)
    rows = []
    for c in cells:
        if isinstance(c, str):
            rows.append(arch_ops(c))
        elif isinstance(c, Mapping):
            rows.append(design_ops(c))
        else:
            rows.append(list(c))
    if not rows:
        return np.zeros((0, N_EDGES), np.int64)
    return _ops_of_codes(arch_codes(np.asarray(rows, dtype=object)))


def live_edges(ops: np.ndarray) -> np.ndarray:
    """(n, 6) bool: which edges of cells ``ops`` (op indices) are live (see module doc)."""
    ops = np.asarray(ops)
    on = ops != _NONE
    fwd = [np.ones(len(ops), bool), on[:, 0], None, None]      # node reachable from input
    fwd[2] = on[:, 1] | (fwd[1] & on[:, 2])
    back = [None, None, on[:, 5], np.ones(len(ops), bool)]     # node reaches the output
    back[1] = on[:, 4] | (on[:, 2] & back[2])
    return np.stack([on[:, e] & fwd[s] & back[d] for e, (s, d) in enumerate(EDGES)], 1)


def canonical_ops(ops: np.ndarray) -> np.ndarray:
    """Cells with every dead edge replaced by ``none``."""
    ops = np.asarray(ops)
    return np.where(live_edges(ops), ops, _NONE)


def unique_str(ops: Sequence[int]) -> str:
    """NAS-Bench-201's isomorphism key of one cell (``CellStructure.to_unique_str(
    consider_zero=True)``): ``skip_connect`` passes its input's key, ``none`` or an op on a
    zero input gives zero (``#``), a node sums the sorted keys of its inputs."""
    nodes = {0: "0"}
    for node in (1, 2, 3):
        terms = []
        for e, (src, dst) in enumerate(EDGES):
            if dst != node:
                continue
            if ops[e] == _NONE or nodes[src] == "#":
                terms.append("#")
            elif ops[e] == _SKIP:
                terms.append(nodes[src])
            else:
                terms.append(f"({nodes[src]})@{OPS[ops[e]]}")
        nodes[node] = "+".join(sorted(terms))
    return nodes[3]


@lru_cache(maxsize=1)
def benchmark_rows() -> dict[str, dict[str, float]]:
    """The packaged benchmark table: arch string → ``index`` and :data:`BENCHMARK_METRICS`
    (provenance: ``moo_cosearch/data/PROVENANCE.md``)."""
    path = resources.files("moo_cosearch.data") / "nb201_accuracy.csv.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", newline="") as fh:
        return {row["arch_str"]: {m: float(row[m]) for m in BENCHMARK_METRICS + ("index",)}
                for row in csv.DictReader(fh)}


@lru_cache(maxsize=1)
def benchmark_index() -> np.ndarray:
    """(5**6,) read-only NAS-Bench-201 index of every cell code (see :func:`arch_codes`)."""
    rows = list(benchmark_rows().items())
    index = np.full(N_CELLS, -1, dtype=np.int64)
    index[arch_codes([arch_ops(a) for a, _ in rows])] = [int(r["index"]) for _, r in rows]
    index.setflags(write=False)
    return index


@lru_cache(maxsize=1)
def _representatives() -> np.ndarray:
    """(5**6,) code of the lowest-index cell with the same :func:`unique_str`."""
    keys = [unique_str(ops) for ops in _ops_of_codes(np.arange(N_CELLS)).tolist()]
    first: dict[str, int] = {}
    for code in np.argsort(benchmark_index()):
        first.setdefault(keys[code], int(code))
    rep = np.array([first[k] for k in keys], dtype=np.int64)
    rep.setflags(write=False)
    return rep


def representative_ops(ops: np.ndarray) -> np.ndarray:
    """Each cell replaced by its isomorphism class's representative (the lowest benchmark
    index with the same :func:`unique_str`)."""
    return _ops_of_codes(_representatives()[arch_codes(np.asarray(ops, dtype=np.int64))])


def nb201(edges: Sequence[str], *, channels: int = 16, cells_per_stage: int = 5,
          num_classes: int = 10, resolution: int = 32) -> list[Layer]:
    """The NAS-Bench-201 network with one cell design shared by all cells.

    Stem conv 3x3 (3->C), three stages of ``cells_per_stage`` cells at C, 2C, 4C channels
    separated by residual reduction blocks (conv 3x3 stride 2, conv 3x3, shortcut avg pool
    2x2 stride 2 + pwconv, ``add``), global pool and ``fc``. Within a cell, node ``j`` sums
    ``op(node_i)`` over its incoming edges; a node with ``m >= 2`` non-``none`` inputs gets
    ``m - 1`` ``add`` layers. Every non-``none`` op is kept even when its output does not
    reach the cell output (no dead-edge pruning), as in the benchmark's own FLOP counts.

    Args:
        edges: 6 op names in the order of the arch string
            ``|e0~0|+|e1~0|e2~1|+|e3~0|e4~1|e5~2|``; each one of :data:`OPS`.
        channels: channels C of the first stage.
        cells_per_stage: cells per stage (5 in the benchmark).
        num_classes: classifier outputs (CIFAR-10: 10).
        resolution: input image side; must be a multiple of 4 (two stride-2 reductions).

    Returns:
        The layers in execution order.

    Raises:
        ValueError: on a wrong number of edges, an unknown op name, or a bad size argument.
    """
    if isinstance(edges, str) or len(edges) != N_EDGES:
        raise ValueError(f"nb201 needs {N_EDGES} edge ops, got {edges!r}")
    for i, op in enumerate(edges):
        if op not in OPS:
            raise ValueError(f"NB-201 edge ops must be one of {list(OPS)}, "
                             f"got edges[{i}]={op!r}")
    c = check_positive(channels, "channels")
    n_cells = check_positive(cells_per_stage, "cells_per_stage")
    size = check_positive(resolution, "resolution")
    if size % 4:
        raise ValueError(f"nb201 resolution must be a multiple of 4, got {size}")
    num_classes = check_positive(num_classes, "num_classes")

    layers = [Layer("conv", 3, c, size, size, size, size, kernel=3, name="stem")]
    for stage in range(3):
        if stage:
            half = size // 2
            pre = f"r{stage}"
            layers += [
                Layer("conv", c, 2 * c, size, size, half, half, kernel=3, stride=2,
                      name=f"{pre}.conv_a"),
                Layer("conv", 2 * c, 2 * c, half, half, half, half, kernel=3, name=f"{pre}.conv_b"),
                Layer("pool", c, c, size, size, half, half, kernel=2, stride=2,
                      name=f"{pre}.down.pool"),
                Layer("pwconv", c, 2 * c, half, half, half, half, name=f"{pre}.down.conv"),
                Layer("add", 2 * c, 2 * c, half, half, half, half, name=f"{pre}.add"),
            ]
            c, size = 2 * c, half
        for cell in range(n_cells):
            layers += _cell(edges, c, size, f"s{stage}.c{cell}")
    return layers + [global_pool(c, size, "head.pool"), fc(c, num_classes, "head.fc")]


def _cell(edges: Sequence[str], c: int, size: int, name: str) -> list[Layer]:
    """Layers of one NB201 cell at ``c`` channels and ``size`` x ``size``."""
    layers: list[Layer] = []
    for node in (1, 2, 3):
        n_inputs = 0
        for e, (_, dst) in enumerate(EDGES):
            op = edges[e]
            if dst != node or op == "none":
                continue
            n_inputs += 1
            label = f"{name}.e{e}.{op}"
            if op == "nor_conv_1x1":
                layers.append(Layer("pwconv", c, c, size, size, size, size, name=label))
            elif op == "nor_conv_3x3":
                layers.append(Layer("conv", c, c, size, size, size, size, kernel=3, name=label))
            elif op == "avg_pool_3x3":
                layers.append(Layer("pool", c, c, size, size, size, size, kernel=3, name=label))
        layers += [Layer("add", c, c, size, size, size, size, name=f"{name}.n{node}.add")
                   for _ in range(n_inputs - 1)]
    return layers


def _key(params: Mapping[str, object]) -> tuple:
    return ("nb201", design_ops(params))


@lru_cache(maxsize=None)
def _cell_matrix(edges: tuple[str, ...], c: int, size: int) -> np.ndarray:
    return layer_matrix(_cell(edges, c, size, ""))


@lru_cache(maxsize=None)
def _frame_matrices() -> tuple[np.ndarray, ...]:
    """Rows of the cell-free frame: stem, reduction block 1, reduction block 2, head."""
    m = layer_matrix(nb201(("none",) * N_EDGES))
    return m[:1], m[1:6], m[6:11], m[11:]


def _matrix(key: tuple) -> np.ndarray:
    """The default network's layer matrix from cached per-cell rows (as ``nb201(key[1])``)."""
    stem, red1, red2, tail = _frame_matrices()
    cells = [_cell_matrix(key[1], 16 << s, 32 >> s) for s in range(3)]
    return np.concatenate([stem] + [cells[0]] * 5 + [red1] + [cells[1]] * 5 + [red2]
                          + [cells[2]] * 5 + [tail])


register_family(Family("nb201", key=_key, build=lambda key: nb201(key[1]), matrix=_matrix,
                       description="NAS-Bench-201 CIFAR network, one cell of 6 edge ops",
                       identity=lambda key: unique_str([OPS.index(o) for o in key[1]])))
