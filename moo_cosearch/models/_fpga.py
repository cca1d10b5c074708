"""The FNAS CIFAR-10 child network as a torch module.

FNAS (Jiang et al., DAC 2019; TCAD 2020) searches a chain of convolution layers, each with its
own filter count and square kernel, stride 1 and 'same' padding; the layer list
(:func:`moo_cosearch.networks.fpga.fnas_cifar10`) folds batch norm and ReLU into each conv.
Here each layer is ``Conv2d`` (no bias) + ``BatchNorm2d`` + ``ReLU``, followed by global
average pooling and a ``Linear`` classifier. (EDD's MBConv backbone is built in
:mod:`._mbconv`.)
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = ["FNASNetwork"]


class FNASNetwork(nn.Module):
    """Conv-BN-ReLU layers of ``filters[i]`` channels and ``kernels[i]`` x ``kernels[i]``
    kernels on an RGB input, global average pool, ``Linear`` to ``num_classes``."""

    def __init__(self, filters: Sequence[int], kernels: Sequence[int], num_classes: int) -> None:
        super().__init__()
        parts: list[nn.Module] = []
        cin = 3
        for f, k in zip(filters, kernels):
            parts += [nn.Conv2d(cin, f, k, padding=k // 2, bias=False), nn.BatchNorm2d(f),
                      nn.ReLU(inplace=True)]
            cin = f
        self.features = nn.Sequential(*parts)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))
