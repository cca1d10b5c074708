"""The NAS-Bench-201 network as a torch module, built from one cell's six edge ops.

The macro skeleton of the benchmark's ``TinyNetwork`` (Dong & Yang, ICLR 2020; the
``xautodl`` code the benchmark was trained with): stem conv 3x3 (3 -> C, no bias) + BN;
three stages of ``cells_per_stage`` cells at C, 2C, 4C channels with a residual reduction
block between stages (``conv_a`` ReLU-conv 3x3 stride 2-BN, ``conv_b`` ReLU-conv 3x3-BN,
shortcut avg pool 2x2 stride 2 + conv 1x1, summed); BN-ReLU, global average pool, linear
classifier. Cell ops: ``none`` (zeros), ``skip_connect`` (identity), ``nor_conv_1x1`` /
``nor_conv_3x3`` (ReLU-conv-BN), ``avg_pool_3x3`` (stride 1, padding excluded from the
average). Node ``j`` sums its incoming edges; every op is kept, even on edges whose output
cannot reach the cell output, exactly as the layer list
:func:`moo_cosearch.networks.nb201.nb201` (and the benchmark's own FLOP counts) assume.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..networks.nb201 import EDGES

__all__ = ["NB201Network"]


def _relu_conv_bn(cin: int, cout: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.ReLU(inplace=False),
                         nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(cout))


class _Zero(nn.Module):
    """The ``none`` op: an all-zero tensor of the input's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _op(name: str, c: int) -> nn.Module:
    if name == "none":
        return _Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return _relu_conv_bn(c, c, 1, 1)
    if name == "nor_conv_3x3":
        return _relu_conv_bn(c, c, 3, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NAS-Bench-201 op {name!r}")


class _Cell(nn.Module):
    """One 4-node cell: node ``j`` = sum of ``op_e(node_src)`` over the edges into ``j``."""

    def __init__(self, edges: Sequence[str], c: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(_op(op, c) for op in edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in (1, 2, 3):
            nodes.append(sum(self.ops[e](nodes[src])
                             for e, (src, dst) in enumerate(EDGES) if dst == node))
        return nodes[3]


class _Reduction(nn.Module):
    """NB201's residual reduction block (``ResNetBasicblock`` with stride 2): C -> 2C."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv_a = _relu_conv_bn(c, 2 * c, 3, 2)
        self.conv_b = _relu_conv_bn(2 * c, 2 * c, 3, 1)
        self.down = nn.Sequential(nn.AvgPool2d(2, stride=2),
                                  nn.Conv2d(c, 2 * c, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.down(x)


class NB201Network(nn.Module):
    """The NAS-Bench-201 CIFAR network with one cell design shared by all cells.

    Args:
        edges: six op names, in arch-string order (validated by the caller).
        num_classes: classifier outputs.
        channels: channels C of the first stage (16 in the benchmark).
        cells_per_stage: cells per stage (5 in the benchmark).
    """

    def __init__(self, edges: Sequence[str], num_classes: int, channels: int = 16,
                 cells_per_stage: int = 5) -> None:
        super().__init__()
        c = channels
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        blocks: list[nn.Module] = []
        for stage in range(3):
            if stage:
                blocks.append(_Reduction(c))
                c *= 2
            blocks += [_Cell(edges, c) for _ in range(cells_per_stage)]
        self.cells = nn.Sequential(*blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.pool(x), 1))
