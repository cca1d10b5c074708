"""The Accel-NASBench MnasNet-space network (``anb-mnas``) as a torch module, built from the
family's layer list (:mod:`moo_cosearch.networks.anb`) like the other MBConv families.

As in the benchmark's ``models/accelbenchnet.py`` trained with ``activation_fn = relu``:
conv (no bias) + BN + ReLU, a linear projection, squeeze-excite with ReLU and a hard-sigmoid
gate (its two 1x1 convs on a 1x1 tensor are ``Linear`` layers with bias here: the same
weights and MACs), identity shortcuts, head conv + pool + dropout 0.2 + ``Linear``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..networks.layers import Layer
from ._mbconv import MBConvNetwork, _SqueezeExcite

__all__ = ["anb_network"]


class _HardSqueezeExcite(_SqueezeExcite):
    """Squeeze-excite with a hard-sigmoid gate (torchvision's ReLU variant)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3))
        s = nn.functional.hardsigmoid(self.expand(self.act(self.reduce(s))))
        return x * s[:, :, None, None]


def anb_network(layers: Sequence[Layer]) -> MBConvNetwork:
    """The module of an ``anb-mnas`` layer list (ReLU, hard-sigmoid squeeze-excite)."""
    net = MBConvNetwork(layers, nn.ReLU)
    for block in net.blocks:
        se = block.se
        if isinstance(se, _SqueezeExcite):
            block.se = _HardSqueezeExcite(se.reduce.in_features, se.reduce.out_features, nn.ReLU)
    return net
