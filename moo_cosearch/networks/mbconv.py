"""MobileNetV2 and EfficientNet-B0 with a searched kernel and expansion ratio per block.

Only MAC layers (conv/pwconv/dwconv/fc) carry weights; batch norm is assumed folded into
the preceding convolution and activations are free, so ``summarize`` counts conv/fc weights
plus fc biases (published parameter counts that include BN are ~1% higher).

Families:
    * ``mobilenetv2``: MobileNetV2-1.0 (Sandler et al., CVPR 2018) with per-block depthwise
      kernel and expansion ratio.
    * ``efficientnet-b0``: EfficientNet-B0 (Tan & Le, ICML 2019) with per-block kernel and
      expansion ratio, squeeze-and-excitation included.

Parameters read: ``b{i}_kernel`` / ``b{i}_expansion`` (MobileNetV2: 17 blocks, defaults kernel
3, expansion 6; EfficientNet-B0: 16 blocks, defaults the B0 values). ``b0_expansion`` defaults
to 1 and, if given, must be 1 (checked when the network is built).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np

from ._common import as_int, check_blocks, check_positive, inverted_residual, head, same
from ._registry import Family, register_family
from .layers import Layer, layer_matrix

__all__ = ["DEFAULT_EFFNET_EXPANSIONS", "DEFAULT_EFFNET_KERNELS", "EFFNET_BLOCKS",
           "MBV2_BLOCKS", "efficientnet_b0", "mobilenetv2"]

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


def _mbconv_net(stages: Sequence[tuple[int, int, int]], kernels: list[int],
                expansions: list[int], resolution: int, num_classes: int,
                se: bool) -> list[Layer]:
    """Stem, blocks from ``(out_ch, repeats, first_stride)`` stages, head."""
    size = same(resolution, 2)
    layers = [Layer("conv", 3, 32, resolution, resolution, size, size, kernel=3, stride=2,
                    name="stem")]
    cin, i = 32, 0
    for cout, repeats, first_stride in stages:
        for r in range(repeats):
            size = inverted_residual(layers, f"b{i}", cin, cout, size, kernels[i],
                                     expansions[i], first_stride if r == 0 else 1, se)
            cin, i = cout, i + 1
    return layers + head(cin, size, num_classes)


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
    ks, es = check_blocks("mobilenetv2", kernels, expansions, MBV2_BLOCKS)
    stages = [(c, n, s) for _, c, n, s in _MBV2_STAGES]
    return _mbconv_net(stages, ks, es, check_positive(resolution, "resolution"),
                       check_positive(num_classes, "num_classes"), se=False)


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
    ks, es = check_blocks("efficientnet-b0", kernels, expansions, EFFNET_BLOCKS)
    stages = [(c, n, s) for _, _, s, c, n in _EFFNET_STAGES]
    return _mbconv_net(stages, ks, es, check_positive(resolution, "resolution"),
                       check_positive(num_classes, "num_classes"), se=True)


#: Per family: builder, number of blocks, default kernels, default expansions.
_SPECS = {
    "mobilenetv2": (mobilenetv2, MBV2_BLOCKS, (3,) * MBV2_BLOCKS, (1,) + (6,) * (MBV2_BLOCKS - 1)),
    "efficientnet-b0": (efficientnet_b0, EFFNET_BLOCKS, DEFAULT_EFFNET_KERNELS,
                        DEFAULT_EFFNET_EXPANSIONS),
}


def _key(family: str, params: Mapping[str, object]) -> tuple:
    _, n, k_def, e_def = _SPECS[family]
    kernels = tuple(as_int(params.get(f"b{i}_kernel", k_def[i]), f"b{i}_kernel")
                    for i in range(n))
    expansions = tuple(as_int(params.get(f"b{i}_expansion", e_def[i]), f"b{i}_expansion")
                       for i in range(n))
    return (family, kernels, expansions)


def _build(key: tuple) -> list[Layer]:
    return _SPECS[key[0]][0](key[1], key[2])


# Block ``i`` (layers named ``b{i}.*``) depends only on its own kernel and expansion, so a
# network's matrix is stem + per-block matrices + head, all cached.
@lru_cache(maxsize=None)
def _block_matrix(family: str, i: int, kernel: int, expansion: int) -> np.ndarray:
    """Rows of block ``i`` with the given kernel/expansion (other blocks at their defaults)."""
    _, kernels, expansions = _key(family, {f"b{i}_kernel": kernel, f"b{i}_expansion": expansion})
    return layer_matrix([layer for layer in _build((family, kernels, expansions))
                         if layer.name.startswith(f"b{i}.")])


@lru_cache(maxsize=None)
def _frame_matrices(family: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows before the first block (stem) and after the last (head) of ``family``."""
    layers = _build(_key(family, {}))
    in_block = [layer.name[:1] == "b" and layer.name.split(".")[0][1:].isdigit()
                for layer in layers]
    first, last = in_block.index(True), len(in_block) - in_block[::-1].index(True)
    return layer_matrix(layers[:first]), layer_matrix(layers[last:])


def _matrix(key: tuple) -> np.ndarray:
    family, kernels, expansions = key
    check_blocks(family, kernels, expansions, _SPECS[family][1])   # the builder's errors
    stem, tail = _frame_matrices(family)
    return np.concatenate([stem] + [_block_matrix(family, i, k, e) for i, (k, e)
                                    in enumerate(zip(kernels, expansions))] + [tail])


for _name, _desc in (("mobilenetv2", "MobileNetV2-1.0, 17 blocks: kernel, expansion"),
                     ("efficientnet-b0", "EfficientNet-B0, 16 blocks: kernel, expansion")):
    register_family(Family(_name, key=lambda p, f=_name: _key(f, p), build=_build,
                           matrix=_matrix, description=_desc))
