"""NASAIC's ResNet-9 and U-Net as torch modules (the layer lists are
:func:`moo_cosearch.networks.nasaic.resnet9` and :func:`~moo_cosearch.networks.nasaic.unet`).

* ResNet-9 (the DAWNBench network of D. Page that NASAIC searches): a Conv-BN-ReLU stem; per
  residual block a Conv-BN-ReLU to the block's width, 2x2 max pool, and ``skips`` Conv-BN-ReLU
  layers whose output is added to the pooled tensor (no branch for ``skips = 0``); global max
  pool and a ``Linear`` classifier. All convolutions 3x3, 'same' padding, no bias.
* U-Net (Ronneberger et al. 2015) with 'same' padding and batch norm: per encoder level two
  Conv-BN-ReLU 3x3 and a 2x2 max pool (none at the bottleneck); per decoder level a 2x2
  stride-2 ``ConvTranspose2d`` (the layer list's ``pwconv`` Cin -> 4*Cout at the coarser
  resolution: same MACs and weights), concatenation with the encoder tensor, two Conv-BN-ReLU
  3x3; a 1x1 conv to ``num_classes`` per-pixel logits. The up-convolution and the output conv
  have biases (no BN follows them); the layer list counts their kernels only.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = ["ResNet9", "UNet"]


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class _ResBlock(nn.Module):
    """Conv to ``cout``, max pool 2x2, plus a residual branch of ``skips`` convs (if any)."""

    def __init__(self, cin: int, cout: int, skips: int) -> None:
        super().__init__()
        self.conv = _conv_bn_relu(cin, cout)
        self.pool = nn.MaxPool2d(2)
        self.res = nn.Sequential(*(_conv_bn_relu(cout, cout) for _ in range(skips)))
        self.has_res = skips > 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.conv(x))
        return x + self.res(x) if self.has_res else x


class ResNet9(nn.Module):
    """Searchable ResNet-9: stem at ``filters[0]``, block ``i`` at ``filters[i + 1]`` with
    ``skips[i]`` residual convs, global max pool, ``Linear`` to ``num_classes``."""

    def __init__(self, filters: Sequence[int], skips: Sequence[int], num_classes: int) -> None:
        super().__init__()
        self.stem = _conv_bn_relu(3, filters[0])
        self.blocks = nn.Sequential(*(_ResBlock(filters[i], filters[i + 1], s)
                                      for i, s in enumerate(skips)))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.classifier = nn.Linear(filters[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


class UNet(nn.Module):
    """Searchable U-Net of height ``len(filters) - 1``; level ``l`` has ``filters[l]``
    channels. Maps ``(N, 3, R, R)`` to ``(N, num_classes, R, R)`` logits (R divisible by
    ``2**height``)."""

    def __init__(self, filters: Sequence[int], num_classes: int) -> None:
        super().__init__()
        height = len(filters) - 1
        cins = [3] + list(filters[:-1])
        self.down = nn.ModuleList(nn.Sequential(_conv_bn_relu(cins[lvl], filters[lvl]),
                                                _conv_bn_relu(filters[lvl], filters[lvl]))
                                  for lvl in range(height + 1))
        self.pool = nn.MaxPool2d(2)
        self.upconv = nn.ModuleList(nn.ConvTranspose2d(filters[lvl + 1], filters[lvl], 2, 2)
                                    for lvl in range(height))
        self.up = nn.ModuleList(nn.Sequential(_conv_bn_relu(2 * filters[lvl], filters[lvl]),
                                              _conv_bn_relu(filters[lvl], filters[lvl]))
                                for lvl in range(height))
        self.out = nn.Conv2d(filters[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for lvl, block in enumerate(self.down):
            x = block(x)
            if lvl < len(self.upconv):
                skips.append(x)
                x = self.pool(x)
        for lvl in range(len(self.upconv) - 1, -1, -1):
            x = self.up[lvl](torch.cat([skips[lvl], self.upconv[lvl](x)], 1))
        return self.out(x)
