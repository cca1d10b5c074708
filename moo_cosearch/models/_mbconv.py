"""MBConv networks (MobileNetV2, EfficientNet-B0, EDD's backbone) as torch modules, built
from the family's layer list so that module and cost model share one description.

The layer list (:mod:`moo_cosearch.networks.mbconv`, :mod:`moo_cosearch.networks.fpga`) names
its layers ``stem``, ``<block>.expand`` / ``.dw`` / ``.se.*`` / ``.project`` / ``.add`` and
``head.conv`` / ``head.pool`` / ``head.fc``; each becomes the module the papers use:

* convolutions: ``Conv2d`` without bias + ``BatchNorm2d`` + the family's activation (ReLU6 for
  MobileNetV2 (Sandler et al. 2018) and EDD's ProxylessNAS-style backbone, swish / SiLU for
  EfficientNet (Tan & Le 2019)); the projection conv is linear (BN, no activation);
  padding ``kernel // 2``, so a stride-2 layer gives ``ceil(size / 2)`` as in the list;
* squeeze-and-excitation (EfficientNet): global average pool, ``Linear`` mid -> reduced
  (with bias) + swish, ``Linear`` reduced -> mid + sigmoid, channel-wise product;
* ``.add``: the identity shortcut of a stride-1 block with equal widths;
* head: conv 1x1 + BN + activation, global average pool, dropout 0.2, ``Linear``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..networks.layers import Layer

__all__ = ["MBConvNetwork", "mbconv_network"]

#: Activation of each MBConv family.
_ACTIVATIONS = {"mobilenetv2": nn.ReLU6, "edd-mbconv": nn.ReLU6, "efficientnet-b0": nn.SiLU}


def _conv_bn(layer: Layer, act: type[nn.Module] | None) -> nn.Sequential:
    """Conv (no bias) + BN (+ activation) with the shapes of a conv/pwconv/dwconv layer."""
    parts: list[nn.Module] = [
        nn.Conv2d(layer.in_ch, layer.out_ch, layer.kernel, layer.stride, layer.kernel // 2,
                  groups=layer.groups, bias=False),
        nn.BatchNorm2d(layer.out_ch)]
    if act is not None:
        parts.append(act())
    return nn.Sequential(*parts)


class _SqueezeExcite(nn.Module):
    """Channel attention: ``x * sigmoid(W2 act(W1 avgpool(x) + b1) + b2)``."""

    def __init__(self, channels: int, reduced: int, act: type[nn.Module]) -> None:
        super().__init__()
        self.reduce = nn.Linear(channels, reduced)
        self.act = act()
        self.expand = nn.Linear(reduced, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3))
        s = torch.sigmoid(self.expand(self.act(self.reduce(s))))
        return x * s[:, :, None, None]


class _MBConv(nn.Module):
    """One inverted-residual block from its layers (``expand``? ``dw`` ``se.*``? ``project``
    ``add``?)."""

    def __init__(self, layers: dict[str, Layer], act: type[nn.Module]) -> None:
        super().__init__()
        self.expand = _conv_bn(layers["expand"], act) if "expand" in layers else nn.Identity()
        self.dw = _conv_bn(layers["dw"], act)
        se = layers.get("se.reduce")
        self.se = _SqueezeExcite(se.in_ch, se.out_ch, act) if se is not None else nn.Identity()
        self.project = _conv_bn(layers["project"], None)
        self.residual = "add" in layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.dw(self.expand(x))))
        return x + y if self.residual else y


class MBConvNetwork(nn.Module):
    """Stem, MBConv blocks and head of an MBConv family's layer list.

    Args:
        layers: the layer list (stem ``conv``, blocks, ``head.conv``, ``head.pool``,
            ``head.fc``), as built by the family's function in :mod:`moo_cosearch.networks`.
        act: the activation module class (``nn.ReLU6``, ``nn.SiLU``).
        dropout: dropout before the classifier.
    """

    def __init__(self, layers: Sequence[Layer], act: type[nn.Module],
                 dropout: float = 0.2) -> None:
        super().__init__()
        groups: dict[str, dict[str, Layer]] = {}
        for layer in layers:
            block, _, part = layer.name.partition(".")
            groups.setdefault(block, {})[part] = layer
        head = groups.pop("head")
        self.stem = _conv_bn(groups.pop("stem")[""], act)
        self.blocks = nn.Sequential(*(_MBConv(parts, act) for parts in groups.values()))
        self.head = _conv_bn(head["conv"], act)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        fc = head["fc"]
        self.classifier = nn.Linear(fc.in_ch, fc.out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(self.dropout(torch.flatten(self.pool(x), 1)))


def mbconv_network(family: str, layers: Sequence[Layer]) -> MBConvNetwork:
    """The module of an MBConv family (``mobilenetv2``, ``efficientnet-b0``, ``edd-mbconv``)
    from its layer list."""
    return MBConvNetwork(layers, _ACTIVATIONS[family])
