"""Layer-list builders for the searchable network families.

Each builder turns a point of a NAS space into a flat ``list[Layer]`` (see
:mod:`moo_cosearch._layers`) in execution order, which the hardware cost models consume.
Only MAC layers (conv/pwconv/dwconv/fc) carry weights; batch norm is assumed folded into
the preceding convolution and activations are free, so ``summarize`` counts conv/fc weights
plus fc biases (published parameter counts that include BN are ~1% higher).

Families:
    * ``mobilenetv2``: MobileNetV2-1.0 (Sandler et al., 2018) with per-block depthwise
      kernel and expansion ratio.
    * ``efficientnet-b0``: EfficientNet-B0 (Tan & Le, 2019) with per-block kernel and
      expansion ratio, squeeze-and-excitation included.
    * ``nb201``: the NAS-Bench-201 CIFAR network (Dong & Yang, 2020) with one cell
      (6 edge ops) shared by all 15 cells.

:func:`build_network` reads joint-space parameter dicts (NAS and hardware parameters mixed)
and caches built networks keyed by :func:`nas_key`.
"""

from __future__ import annotations

import math
import numbers
from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np

from moo_cosearch._layers import Layer, layer_matrix
from moo_cosearch._net_nasaic import NASAIC_FAMILIES, build_nasaic, nasaic_key

__all__ = [
    "DEFAULT_EFFNET_KERNELS", "DEFAULT_EFFNET_EXPANSIONS", "EFFNET_BLOCKS", "FAMILIES",
    "Layer", "MBV2_BLOCKS", "NB201_OPS", "build_network", "efficientnet_b0", "mobilenetv2",
    "nas_key", "nb201", "network_matrix", "summarize",
]

#: Network families understood by :func:`build_network`.
FAMILIES: tuple[str, ...] = (("mobilenetv2", "efficientnet-b0", "nb201",
                              "edd-mbconv", "fnas-cifar10")  # these two: _net_fpga.py
                             + NASAIC_FAMILIES)

#: MobileNetV2 stages (expansion t, out channels c, repeats n, first stride s).
_MBV2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
#: Number of MobileNetV2 inverted-residual blocks (17).
MBV2_BLOCKS: int = sum(n for _, _, n, _ in _MBV2_STAGES)

#: EfficientNet-B0 stages (expansion, kernel, first stride, out channels, repeats).
_EFFNET_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                  (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
#: Number of EfficientNet-B0 MBConv blocks (16).
EFFNET_BLOCKS: int = sum(st[4] for st in _EFFNET_STAGES)
#: Depthwise kernel of each EfficientNet-B0 block.
DEFAULT_EFFNET_KERNELS: tuple[int, ...] = tuple(k for _, k, _, _, n in _EFFNET_STAGES
                                                for _ in range(n))
#: Expansion ratio of each EfficientNet-B0 block.
DEFAULT_EFFNET_EXPANSIONS: tuple[int, ...] = tuple(e for e, _, _, _, n in _EFFNET_STAGES
                                                   for _ in range(n))

#: NAS-Bench-201 edge operations.
NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                              "avg_pool_3x3")
#: (source node, target node) of each NB201 edge, in arch-string order.
_NB201_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))


def _as_int(value: object, what: str) -> int:
    """Convert an integral value (int, numpy integer, integral float) to ``int``."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    raise ValueError(f"{what} must be an integer, got {value!r}")


def _check_positive(value: int, what: str) -> int:
    value = _as_int(value, what)
    if value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value}")
    return value


def _check_blocks(family: str, kernels: Sequence[int], expansions: Sequence[int],
                  n_blocks: int, first_expansion_one: bool = True) -> tuple[list[int], list[int]]:
    """Validate per-block kernels / expansions; return them as int lists. With
    ``first_expansion_one`` block 0 (which has no expand conv) must have expansion 1."""
    if len(kernels) != n_blocks:
        raise ValueError(f"{family} needs {n_blocks} kernel sizes (one per block), "
                         f"got {len(kernels)}: {list(kernels)!r}")
    if len(expansions) != n_blocks:
        raise ValueError(f"{family} needs {n_blocks} expansion ratios (one per block), "
                         f"got {len(expansions)}: {list(expansions)!r}")
    ks = [_as_int(k, f"kernels[{i}]") for i, k in enumerate(kernels)]
    es = [_as_int(e, f"expansions[{i}]") for i, e in enumerate(expansions)]
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


def _same(size: int, stride: int) -> int:
    """Spatial output size of a 'same'-padded layer."""
    return math.ceil(size / stride)


def _global_pool(ch: int, size: int, name: str) -> Layer:
    return Layer("pool", ch, ch, size, size, 1, 1, kernel=size, stride=size, name=name)


def _fc(cin: int, cout: int, name: str) -> Layer:
    return Layer("fc", cin, cout, 1, 1, 1, 1, name=name)


def _head(cin: int, size: int, num_classes: int) -> list[Layer]:
    """pwconv cin->1280, global average pool, classifier (MobileNetV2 / EfficientNet)."""
    return [Layer("pwconv", cin, 1280, size, size, size, size, name="head.conv"),
            _global_pool(1280, size, "head.pool"),
            _fc(1280, num_classes, "head.fc")]


def _inverted_residual(layers: list[Layer], name: str, cin: int, cout: int, size: int,
                       kernel: int, expansion: int, stride: int, se: bool) -> int:
    """Append one MobileNetV2 / MBConv block to ``layers``; return its output size."""
    mid = cin * expansion
    out = _same(size, stride)
    if expansion != 1:
        layers.append(Layer("pwconv", cin, mid, size, size, size, size, name=f"{name}.expand"))
    layers.append(Layer("dwconv", mid, mid, size, size, out, out, kernel=kernel, stride=stride,
                        groups=mid, name=f"{name}.dw"))
    if se:
        red = max(1, int(cin * 0.25))
        layers += [_global_pool(mid, out, f"{name}.se.pool"),
                   _fc(mid, red, f"{name}.se.reduce"),
                   _fc(red, mid, f"{name}.se.expand"),
                   Layer("mul", mid, mid, out, out, out, out, name=f"{name}.se.mul")]
    layers.append(Layer("pwconv", mid, cout, out, out, out, out, name=f"{name}.project"))
    if stride == 1 and cin == cout:
        layers.append(Layer("add", cout, cout, out, out, out, out, name=f"{name}.add"))
    return out


def _mbconv_net(stages: Sequence[tuple[int, int, int]], kernels: list[int],
                expansions: list[int], resolution: int, num_classes: int,
                se: bool) -> list[Layer]:
    """Stem, blocks from ``(out_ch, repeats, first_stride)`` stages, head."""
    size = _same(resolution, 2)
    layers = [Layer("conv", 3, 32, resolution, resolution, size, size, kernel=3, stride=2,
                    name="stem")]
    cin, i = 32, 0
    for cout, repeats, first_stride in stages:
        for r in range(repeats):
            size = _inverted_residual(layers, f"b{i}", cin, cout, size, kernels[i],
                                      expansions[i], first_stride if r == 0 else 1, se)
            cin, i = cout, i + 1
    return layers + _head(cin, size, num_classes)


def mobilenetv2(kernels: Sequence[int], expansions: Sequence[int], *, resolution: int = 224,
                num_classes: int = 1000) -> list[Layer]:
    """MobileNetV2-1.0 with a per-block depthwise kernel and expansion ratio.

    Args:
        kernels: depthwise kernel size of each of the 17 blocks (odd, positive).
        expansions: expansion ratio of each of the 17 blocks; ``expansions[0]`` must be 1.
        resolution: input image side (square RGB input).
        num_classes: classifier outputs.

    Returns:
        The layers in execution order: stem, 17 inverted-residual blocks
        (``[expand] dw project [add]``), ``pwconv`` 320->1280, global pool, ``fc``.

    Raises:
        ValueError: on a wrong number of kernels/expansions, an even or non-positive
            kernel, a non-positive expansion, or ``expansions[0] != 1``.
    """
    ks, es = _check_blocks("mobilenetv2", kernels, expansions, MBV2_BLOCKS)
    stages = [(c, n, s) for _, c, n, s in _MBV2_STAGES]
    return _mbconv_net(stages, ks, es, _check_positive(resolution, "resolution"),
                       _check_positive(num_classes, "num_classes"), se=False)


def efficientnet_b0(kernels: Sequence[int], expansions: Sequence[int], *,
                    resolution: int = 224, num_classes: int = 1000) -> list[Layer]:
    """EfficientNet-B0 with a per-block depthwise kernel and expansion ratio.

    Every MBConv block has squeeze-and-excitation over its expanded tensor, reduced to
    ``max(1, int(block_input_channels * 0.25))`` channels: global ``pool``, two ``fc``
    layers with bias (spatial size 1), and a ``mul`` scaling the expanded tensor.

    Args:
        kernels: depthwise kernel of each of the 16 blocks (B0: :data:`DEFAULT_EFFNET_KERNELS`).
        expansions: expansion ratio of each of the 16 blocks; ``expansions[0]`` must be 1.
        resolution: input image side (square RGB input).
        num_classes: classifier outputs.

    Returns:
        The layers in execution order: stem, 16 MBConv blocks
        (``[expand] dw se.pool se.fc se.fc se.mul project [add]``), ``pwconv`` 320->1280,
        global pool, ``fc``.

    Raises:
        ValueError: as for :func:`mobilenetv2`, with 16 blocks.
    """
    ks, es = _check_blocks("efficientnet-b0", kernels, expansions, EFFNET_BLOCKS)
    stages = [(c, n, s) for _, _, s, c, n in _EFFNET_STAGES]
    return _mbconv_net(stages, ks, es, _check_positive(resolution, "resolution"),
                       _check_positive(num_classes, "num_classes"), se=True)


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
            ``|e0~0|+|e1~0|e2~1|+|e3~0|e4~1|e5~2|``; each one of :data:`NB201_OPS`.
        channels: channels C of the first stage.
        cells_per_stage: cells per stage (5 in the benchmark).
        num_classes: classifier outputs (CIFAR-10: 10).
        resolution: input image side; must be a multiple of 4 (two stride-2 reductions).

    Returns:
        The layers in execution order.

    Raises:
        ValueError: on a wrong number of edges, an unknown op name, or a bad size argument.
    """
    if isinstance(edges, str) or len(edges) != len(_NB201_EDGES):
        raise ValueError(f"nb201 needs {len(_NB201_EDGES)} edge ops, got {edges!r}")
    for i, op in enumerate(edges):
        if op not in NB201_OPS:
            raise ValueError(f"NB-201 edge ops must be one of {list(NB201_OPS)}, "
                             f"got edges[{i}]={op!r}")
    c = _check_positive(channels, "channels")
    n_cells = _check_positive(cells_per_stage, "cells_per_stage")
    size = _check_positive(resolution, "resolution")
    if size % 4:
        raise ValueError(f"nb201 resolution must be a multiple of 4, got {size}")
    num_classes = _check_positive(num_classes, "num_classes")

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
            layers += _nb201_cell(edges, c, size, f"s{stage}.c{cell}")
    return layers + [_global_pool(c, size, "head.pool"), _fc(c, num_classes, "head.fc")]


def _nb201_cell(edges: Sequence[str], c: int, size: int, name: str) -> list[Layer]:
    """Layers of one NB201 cell at ``c`` channels and ``size`` x ``size``."""
    layers: list[Layer] = []
    for node in (1, 2, 3):
        n_inputs = 0
        for e, (_, dst) in enumerate(_NB201_EDGES):
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


def summarize(layers: Sequence[Layer]) -> tuple[int, int]:
    """Total (MACs, params) of a network."""
    return sum(layer.macs for layer in layers), sum(layer.params for layer in layers)


def nas_key(family: str, params: Mapping[str, object]) -> tuple:
    """Hashable key of the NAS parameters in ``params`` that determine the network.

    Reads ``b{i}_kernel`` / ``b{i}_expansion`` (MobileNetV2: 17 blocks, defaults kernel 3,
    expansion 6; EfficientNet-B0: 16 blocks, defaults the B0 values) or ``edge0``..``edge5``
    (NB201, all required). ``b0_expansion`` defaults to 1 and, if given, must be 1 (checked
    when the network is built). Other keys (hardware parameters) are ignored.

    Raises:
        ValueError: on an unknown family or a missing NB201 edge.
    """
    if family in ("edd-mbconv", "fnas-cifar10"):
        from ._net_fpga import edd_nas_key, fnas_nas_key
        return edd_nas_key(params) if family == "edd-mbconv" else fnas_nas_key(params)
    if family in NASAIC_FAMILIES:  # ResNet-9 / U-Net of NASAIC, see moo_cosearch._net_nasaic
        return nasaic_key(family, params)
    if family == "nb201":
        missing = [f"edge{i}" for i in range(len(_NB201_EDGES)) if f"edge{i}" not in params]
        if missing:
            raise ValueError(f"nb201 params need edge0..edge5, missing {missing}")
        return (family, tuple(params[f"edge{i}"] for i in range(len(_NB201_EDGES))))
    if family == "mobilenetv2":
        n, k_def, e_def = MBV2_BLOCKS, (3,) * MBV2_BLOCKS, (1,) + (6,) * (MBV2_BLOCKS - 1)
    elif family == "efficientnet-b0":
        n, k_def, e_def = EFFNET_BLOCKS, DEFAULT_EFFNET_KERNELS, DEFAULT_EFFNET_EXPANSIONS
    else:
        raise ValueError(f"family must be one of {list(FAMILIES)}, got {family!r}")
    kernels = tuple(_as_int(params.get(f"b{i}_kernel", k_def[i]), f"b{i}_kernel")
                    for i in range(n))
    expansions = tuple(_as_int(params.get(f"b{i}_expansion", e_def[i]), f"b{i}_expansion")
                       for i in range(n))
    return (family, kernels, expansions)


@lru_cache(maxsize=4096)
def _build_cached(key: tuple) -> tuple[Layer, ...]:
    family = key[0]
    if family in NASAIC_FAMILIES:
        return tuple(build_nasaic(key))
    if family == "nb201":
        return tuple(nb201(key[1]))
    if family in ("edd-mbconv", "fnas-cifar10"):
        from ._net_fpga import edd_mbconv, fnas_cifar10
        return tuple((edd_mbconv if family == "edd-mbconv" else fnas_cifar10)(key[1], key[2]))
    builder = mobilenetv2 if family == "mobilenetv2" else efficientnet_b0
    return tuple(builder(key[1], key[2]))


def build_network(family: str, params: Mapping[str, object]) -> tuple[Layer, ...]:
    """Build the network of a joint-space point (cached on :func:`nas_key`).

    Args:
        family: one of :data:`FAMILIES`.
        params: parameter dict; see :func:`nas_key` for the keys read. Extra keys are ignored.

    Returns:
        The layers as an immutable tuple (shared between calls with the same NAS params).

    Raises:
        ValueError: on an unknown family, a missing NB201 edge, or invalid NAS values.
    """
    return _build_cached(nas_key(family, params))


#: Families whose block ``i`` (layers named ``b{i}.*``) depends only on its own kernel and
#: expansion, so a network's matrix is stem + per-block matrices + head (all cached).
_BLOCK_FAMILIES = ("mobilenetv2", "efficientnet-b0")


@lru_cache(maxsize=None)
def _block_matrix(family: str, i: int, kernel: int, expansion: int) -> np.ndarray:
    """Rows of block ``i`` with the given kernel/expansion (other blocks at their defaults)."""
    _, kernels, expansions = nas_key(family, {f"b{i}_kernel": kernel,
                                              f"b{i}_expansion": expansion})
    builder = mobilenetv2 if family == "mobilenetv2" else efficientnet_b0
    return layer_matrix([layer for layer in builder(kernels, expansions)
                         if layer.name.startswith(f"b{i}.")])


@lru_cache(maxsize=None)
def _frame_matrices(family: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows before the first block (stem) and after the last (head) of ``family``."""
    layers = _build_cached(nas_key(family, {}))
    in_block = [layer.name[:1] == "b" and layer.name.split(".")[0][1:].isdigit()
                for layer in layers]
    first, last = in_block.index(True), len(in_block) - in_block[::-1].index(True)
    return layer_matrix(layers[:first]), layer_matrix(layers[last:])


@lru_cache(maxsize=4096)
def _matrix_cached(key: tuple) -> np.ndarray:
    if key[0] in _BLOCK_FAMILIES:
        family, kernels, expansions = key
        if expansions[0] != 1:
            _build_cached(key)                      # raises the builder's error
        stem, head = _frame_matrices(family)
        m = np.concatenate([stem] + [_block_matrix(family, i, k, e) for i, (k, e)
                                     in enumerate(zip(kernels, expansions))] + [head])
    else:
        m = layer_matrix(_build_cached(key))
    m.setflags(write=False)
    return m


def network_matrix(family: str, params: Mapping[str, object]) -> np.ndarray:
    """:func:`build_network` as a read-only :func:`~moo_cosearch._layers.layer_matrix`
    (cached), ready for :func:`~moo_cosearch._layers.stack_matrices`."""
    return _matrix_cached(nas_key(family, params))
