"""The layer record every network builder produces and every cost model consumes.

A network is a ``list[Layer]``; a batch of networks (one per design) is stacked into a
:class:`LayerBatch` of ``(n_designs, n_layers)`` integer arrays, padded with ``valid=False``
rows, so cost models work on arrays instead of Python loops over designs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np

__all__ = ["LAYER_KINDS", "Layer", "LayerBatch", "layer_matrix", "stack_layers", "stack_matrices"]

#: Layer kinds and their integer ids in :class:`LayerBatch`.
#: conv: dense k×k convolution (groups=1); pwconv: 1×1 convolution; dwconv: depthwise k×k
#: (groups = in_ch = out_ch); pool: k×k average/max pooling (global pooling has kernel = in_h);
#: add: element-wise sum of two tensors of the output shape (residual, node sum);
#: mul: element-wise product (squeeze-and-excitation scaling); fc: fully connected.
LAYER_KINDS: tuple[str, ...] = ("conv", "pwconv", "dwconv", "pool", "add", "mul", "fc")


@dataclass(frozen=True)
class Layer:
    """One layer of a network, with shapes (8-bit data: one byte per element).

    Attributes:
        kind: one of :data:`LAYER_KINDS`.
        in_ch, out_ch: input / output channels (for ``fc``: input / output features).
        in_h, in_w, out_h, out_w: spatial sizes (1 for ``fc``).
        kernel: square kernel size (1 for pwconv, add, mul, fc).
        stride: spatial stride.
        groups: convolution groups (``in_ch`` for dwconv, 1 otherwise).
        name: free-form label, e.g. ``"b3.expand"``.
    """

    kind: str
    in_ch: int
    out_ch: int
    in_h: int
    in_w: int
    out_h: int
    out_w: int
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in LAYER_KINDS:
            raise ValueError(f"layer kind must be one of {list(LAYER_KINDS)}, got {self.kind!r}")

    @property
    def macs(self) -> int:
        """Multiply-accumulates of conv/pwconv/dwconv/fc layers (0 for pool/add/mul)."""
        if self.kind in ("conv", "pwconv", "dwconv", "fc"):
            return (self.out_h * self.out_w * self.out_ch
                    * (self.in_ch // self.groups) * self.kernel * self.kernel)
        return 0

    @property
    def params(self) -> int:
        """Trainable weights (conv kernels, fc weights + bias; BN folded, not counted)."""
        if self.kind in ("conv", "pwconv", "dwconv"):
            return self.out_ch * (self.in_ch // self.groups) * self.kernel * self.kernel
        if self.kind == "fc":
            return self.out_ch * self.in_ch + self.out_ch
        return 0

    @property
    def vector_ops(self) -> int:
        """Element-wise operations of pool/add/mul layers (0 for MAC layers)."""
        if self.kind == "pool":
            return self.out_h * self.out_w * self.out_ch * self.kernel * self.kernel
        if self.kind in ("add", "mul"):
            return self.out_h * self.out_w * self.out_ch
        return 0

    @property
    def input_bytes(self) -> int:
        """Bytes of input activations (two operands for add/mul)."""
        n = self.in_ch * self.in_h * self.in_w
        return 2 * n if self.kind in ("add", "mul") else n

    @property
    def output_bytes(self) -> int:
        return self.out_ch * self.out_h * self.out_w

    @property
    def weight_bytes(self) -> int:
        return self.params


_INT_FIELDS = tuple(f.name for f in fields(Layer) if f.name not in ("kind", "name"))


@dataclass(frozen=True)
class LayerBatch:
    """Networks of a batch of designs as padded ``(n_designs, n_layers)`` int64 arrays.

    ``kind`` holds indices into :data:`LAYER_KINDS`; ``valid`` is False on padding rows, whose
    other fields are 0. ``macs``, ``params``, ``vector_ops`` and the byte counts are derived
    exactly as on :class:`Layer`.
    """

    kind: np.ndarray
    valid: np.ndarray
    in_ch: np.ndarray
    out_ch: np.ndarray
    in_h: np.ndarray
    in_w: np.ndarray
    out_h: np.ndarray
    out_w: np.ndarray
    kernel: np.ndarray
    stride: np.ndarray
    groups: np.ndarray
    macs: np.ndarray
    params: np.ndarray
    vector_ops: np.ndarray
    input_bytes: np.ndarray
    output_bytes: np.ndarray
    weight_bytes: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.kind.shape  # type: ignore[return-value]


_COLUMNS = ("kind",) + _INT_FIELDS + ("macs", "params", "vector_ops", "input_bytes",
                                      "output_bytes", "weight_bytes")


def layer_matrix(layers: Sequence[Layer]) -> np.ndarray:
    """One network as an ``(n_layers, n_columns)`` int64 matrix (the rows of a LayerBatch)."""
    kind_id = {k: i for i, k in enumerate(LAYER_KINDS)}
    rows = [[kind_id[layer.kind]] + [getattr(layer, c) for c in _COLUMNS[1:]]
            for layer in layers]
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), len(_COLUMNS))


def stack_matrices(matrices: Sequence[np.ndarray]) -> LayerBatch:
    """Stack :func:`layer_matrix` results (one per design) into a padded :class:`LayerBatch`."""
    n = len(matrices)
    width = max((m.shape[0] for m in matrices), default=0)
    data = np.zeros((len(_COLUMNS), n, width), dtype=np.int64)  # contiguous per column
    valid = np.zeros((n, width), dtype=bool)
    for i, m in enumerate(matrices):
        data[:, i, :m.shape[0]] = m.T
        valid[i, :m.shape[0]] = True
    return LayerBatch(valid=valid, **{c: data[j] for j, c in enumerate(_COLUMNS)})


def stack_layers(networks: Sequence[Sequence[Layer]]) -> LayerBatch:
    """Stack one layer list per design into a padded :class:`LayerBatch`."""
    return stack_matrices([layer_matrix(net) for net in networks])
