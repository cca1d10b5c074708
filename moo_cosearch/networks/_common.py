"""Validation and layer-building helpers shared by the network families of this package."""

from __future__ import annotations

import math
import numbers
from typing import Sequence

from .layers import Layer

__all__ = ["as_int", "check_blocks", "check_positive", "fc", "global_pool", "head",
           "inverted_residual", "same"]


def as_int(value: object, what: str) -> int:
    """Convert an integral value (int, numpy integer, integral float) to ``int``."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    raise ValueError(f"{what} must be an integer, got {value!r}")


def check_positive(value: int, what: str) -> int:
    value = as_int(value, what)
    if value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value}")
    return value


def check_blocks(family: str, kernels: Sequence[int], expansions: Sequence[int],
                 n_blocks: int, first_expansion_one: bool = True) -> tuple[list[int], list[int]]:
    """Validate per-block kernels / expansions; return them as int lists. With
    ``first_expansion_one`` block 0 (which has no expand conv) must have expansion 1."""
    if len(kernels) != n_blocks:
        raise ValueError(f"{family} needs {n_blocks} kernel sizes (one per block), "
                         f"got {len(kernels)}: {list(kernels)!r}")
    if len(expansions) != n_blocks:
        raise ValueError(f"{family} needs {n_blocks} expansion ratios (one per block), "
                         f"got {len(expansions)}: {list(expansions)!r}")
    ks = [as_int(k, f"kernels[{i}]") for i, k in enumerate(kernels)]
    es = [as_int(e, f"expansions[{i}]") for i, e in enumerate(expansions)]
    for i, k in enumerate(ks):
        if k < 1 or k % 2 == 0:
            raise ValueError(f"kernel sizes must be odd positive integers, got kernels[{i}]={k}")
    for i, e in enumerate(es):
        if e < 1:
            raise ValueError(f"expansion ratios must be positive integers, "
                             f"got expansions[{i}]={e}")
    if first_expansion_one and es[0] != 1:
        raise ValueError(f"expansions[0] must be 1 (block 0 has no expand conv), got {es[0]}")
    return ks, es


def same(size: int, stride: int) -> int:
    """Spatial output size of a 'same'-padded layer."""
    return math.ceil(size / stride)


def global_pool(ch: int, size: int, name: str) -> Layer:
    return Layer("pool", ch, ch, size, size, 1, 1, kernel=size, stride=size, name=name)


def fc(cin: int, cout: int, name: str) -> Layer:
    return Layer("fc", cin, cout, 1, 1, 1, 1, name=name)


def head(cin: int, size: int, num_classes: int) -> list[Layer]:
    """pwconv cin->1280, global average pool, classifier (MobileNetV2 / EfficientNet)."""
    return [Layer("pwconv", cin, 1280, size, size, size, size, name="head.conv"),
            global_pool(1280, size, "head.pool"),
            fc(1280, num_classes, "head.fc")]


def inverted_residual(layers: list[Layer], name: str, cin: int, cout: int, size: int,
                      kernel: int, expansion: int, stride: int, se: bool) -> int:
    """Append one MobileNetV2 / MBConv block to ``layers``; return its output size."""
    mid = cin * expansion
    out = same(size, stride)
    if expansion != 1:
        layers.append(Layer("pwconv", cin, mid, size, size, size, size, name=f"{name}.expand"))
    layers.append(Layer("dwconv", mid, mid, size, size, out, out, kernel=kernel, stride=stride,
                        groups=mid, name=f"{name}.dw"))
    if se:
        red = max(1, int(cin * 0.25))
        layers += [global_pool(mid, out, f"{name}.se.pool"),
                   fc(mid, red, f"{name}.se.reduce"),
                   fc(red, mid, f"{name}.se.expand"),
                   Layer("mul", mid, mid, out, out, out, out, name=f"{name}.se.mul")]
    layers.append(Layer("pwconv", mid, cout, out, out, out, out, name=f"{name}.project"))
    if stride == 1 and cin == cout:
        layers.append(Layer("add", cout, cout, out, out, out, out, name=f"{name}.add"))
    return out
