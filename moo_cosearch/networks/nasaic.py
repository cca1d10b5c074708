"""NASAIC backbones (Yang et al., "Co-Exploration of Neural Architectures and
Heterogeneous ASIC Accelerator Designs Targeting Multiple Tasks", DAC 2020, section V-A): searchable ResNet-9 and U-Net layer lists.

ResNet-9 follows the DAWNBench network of D. Page / C. Li (NASAIC [15]): a stem conv ("block 0
is a standard conv instead of residual", NASAIC Table II), then residual blocks, each a conv 3x3
to ``b{i}_filters`` channels, a 2x2 max pool, and ``b{i}_skips`` conv 3x3 layers at the same
width whose output is added to the pooled tensor (no residual branch when ``b{i}_skips = 0``);
a global max pool and a linear classifier close the network. NASAIC searches, per block, the
filter number (FN) and the number of skip layers (SK):

* ``resnet9-cifar10``: 32x32x3 input, 3 residual blocks, 10 classes.
* ``resnet9-stl10``: 96x96x3 input, 5 residual blocks, 10 classes ("we deepen the network to 5
  residual blocks, and increase the maximum number of convolution layers in each residual block
  to 3 and the maximum number of filter channel to 512").

U-Net (Ronneberger et al. 2015, NASAIC [22]) for Nuclei segmentation (the 2018 Data Science Bowl
nuclei images, read here as 128x128x3 inputs and one-channel masks: our assumption, the paper does
not give the input size): ``height`` down-sampling levels; level ``l`` (0..height, level
``height`` is the bottleneck) has ``f{l}_filters`` channels. Encoder level: two conv 3x3 then a
2x2 max pool (none at the bottleneck); decoder level: a 2x2 stride-2 up-convolution, the skip
concatenation (free: it only widens the next conv's input), two conv 3x3; a 1x1 conv to the mask.
Convolutions use 'same' padding, so sizes halve exactly. The 2x2 stride-2 transposed convolution
``Cin -> Cout`` is recorded as the exactly equivalent ``pwconv`` ``Cin -> 4*Cout`` at the input
resolution (each input pixel times a Cin x 4Cout matrix, then a pixel shuffle): same MACs
(``H*W*Cin*4*Cout``), weights and output bytes.

Parameter names (a multi-task workload prefixes them with ``t0_``, ``t1_``, ...): ResNet-9
``b0_filters`` .. ``b{B}_filters`` and ``b1_skips`` .. ``b{B}_skips``; U-Net ``height`` and
``f0_filters`` .. ``f{height}_filters`` (levels above ``height`` are ignored).
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ._registry import Family, register_family
from .layers import Layer

__all__ = ["NASAIC_FAMILIES", "RESNET9_BLOCKS", "UNET_INPUT", "WORKLOADS", "nasaic_key",
           "build_nasaic", "resnet9", "unet"]

#: NASAIC's multi-task workloads: the network family of each task (design parameters prefixed
#: ``t{j}_``); the cost model, the model builders and the training source read this one table.
WORKLOADS: dict[str, tuple[str, ...]] = {
    "nasaic-w1": ("resnet9-cifar10", "unet-nuclei"),     # W1: CIFAR-10 + Nuclei
    "nasaic-w2": ("resnet9-cifar10", "resnet9-stl10"),   # W2: CIFAR-10 + STL-10
    "nasaic-w3": ("resnet9-cifar10", "resnet9-cifar10"),  # W3: two CIFAR-10 networks
}

#: Residual blocks of each ResNet-9 family.
RESNET9_BLOCKS: dict[str, int] = {"resnet9-cifar10": 3, "resnet9-stl10": 5}
#: (input side, resolution) per ResNet-9 family.
_RESNET9_INPUT: dict[str, int] = {"resnet9-cifar10": 32, "resnet9-stl10": 96}
#: U-Net input (side, channels) and mask channels.
UNET_INPUT: tuple[int, int, int] = (128, 3, 1)
#: Families this module builds.
NASAIC_FAMILIES: tuple[str, ...] = ("resnet9-cifar10", "resnet9-stl10", "unet-nuclei")


def _int(params: Mapping[str, object], name: str, minimum: int) -> int:
    if name not in params:
        raise ValueError(f"NASAIC network params need {name!r}, missing (have {sorted(params)})")
    v = params[name]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or float(v) != int(v):
        raise ValueError(f"{name} must be an integer, got {v!r}")
    if int(v) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {int(v)}")
    return int(v)


def _conv(cin: int, cout: int, size: int, name: str) -> Layer:
    return Layer("conv", cin, cout, size, size, size, size, kernel=3, name=name)


def _maxpool(ch: int, size: int, name: str) -> Layer:
    return Layer("pool", ch, ch, size, size, size // 2, size // 2, kernel=2, stride=2, name=name)


def _check_filters_and_resolution(net: str, filters: Sequence[int], resolution: int,
                                  halvings: int) -> None:
    """Positive filter counts, and a resolution that survives ``halvings`` 2x down-samplings."""
    for i, f in enumerate(filters):
        if f < 1:
            raise ValueError(f"filters must be positive, got filters[{i}]={f}")
    if resolution < 1 or resolution % (2 ** halvings):
        raise ValueError(f"{net} resolution must be a positive multiple of 2**{halvings}, "
                         f"got {resolution}")


def resnet9(filters: Sequence[int], skips: Sequence[int], *, resolution: int = 32,
            num_classes: int = 10) -> list[Layer]:
    """A searchable ResNet-9.

    Args:
        filters: channels of the stem (``filters[0]``) and of each residual block.
        skips: conv layers in the residual branch of each block (0 = no branch), one per block.
        resolution: input side (RGB); must be divisible by ``2**len(skips)``.
        num_classes: classifier outputs.

    Returns:
        Layers in execution order: ``stem``; per block ``b{i}.conv``, ``b{i}.pool``,
        ``b{i}.res{j}`` x skips, ``b{i}.add`` (if skips); ``head.pool`` (global), ``head.fc``.

    Raises:
        ValueError: ``len(filters) != len(skips) + 1``, a non-positive filter count, a negative
            skip count, or a resolution not divisible by ``2**blocks``.
    """
    blocks = len(skips)
    if len(filters) != blocks + 1:
        raise ValueError(f"resnet9 needs one filter count per block plus the stem "
                         f"({blocks + 1}), got {len(filters)}: {list(filters)}")
    _check_filters_and_resolution("resnet9", filters, resolution, blocks)
    for i, s in enumerate(skips):
        if s < 0:
            raise ValueError(f"skips must be >= 0, got skips[{i}]={s}")
    size = resolution
    layers = [_conv(3, filters[0], size, "stem")]
    for i in range(blocks):
        cin, c = filters[i], filters[i + 1]
        layers.append(_conv(cin, c, size, f"b{i + 1}.conv"))
        layers.append(_maxpool(c, size, f"b{i + 1}.pool"))
        size //= 2
        layers += [_conv(c, c, size, f"b{i + 1}.res{j}") for j in range(skips[i])]
        if skips[i]:
            layers.append(Layer("add", c, c, size, size, size, size, name=f"b{i + 1}.add"))
    c = filters[-1]
    layers.append(Layer("pool", c, c, size, size, 1, 1, kernel=size, stride=size,
                        name="head.pool"))
    layers.append(Layer("fc", c, num_classes, 1, 1, 1, 1, name="head.fc"))
    return layers


def unet(height: int, filters: Sequence[int], *, resolution: int = UNET_INPUT[0],
         in_channels: int = UNET_INPUT[1], out_channels: int = UNET_INPUT[2]) -> list[Layer]:
    """A searchable U-Net ('same' padding).

    Args:
        height: down-sampling levels (>= 1).
        filters: channels of levels 0..height (``height + 1`` values; more are an error).
        resolution: input side, divisible by ``2**height``.
        in_channels, out_channels: image and mask channels.

    Returns:
        Layers in execution order: ``d{l}.conv1``, ``d{l}.conv2``, ``d{l}.pool`` for l <
        height; ``mid.conv1``, ``mid.conv2``; per level l = height-1..0 ``u{l}.upconv``
        (pwconv Cin -> 4*Cout, see the module docstring), ``u{l}.conv1`` (2*f_l -> f_l),
        ``u{l}.conv2``; ``out`` (pwconv f0 -> out_channels).

    Raises:
        ValueError: on a non-positive height, a wrong number of filters, a non-positive filter,
            or a resolution not divisible by ``2**height``.
    """
    if height < 1:
        raise ValueError(f"unet height must be >= 1, got {height}")
    if len(filters) != height + 1:
        raise ValueError(f"unet of height {height} needs {height + 1} filter counts, "
                         f"got {len(filters)}: {list(filters)}")
    _check_filters_and_resolution("unet", filters, resolution, height)
    layers: list[Layer] = []
    size, cin = resolution, in_channels
    for lvl in range(height + 1):
        tag = "mid" if lvl == height else f"d{lvl}"
        f = filters[lvl]
        layers += [_conv(cin, f, size, f"{tag}.conv1"), _conv(f, f, size, f"{tag}.conv2")]
        if lvl < height:
            layers.append(_maxpool(f, size, f"{tag}.pool"))
            size //= 2
        cin = f
    for lvl in range(height - 1, -1, -1):
        f = filters[lvl]
        layers.append(Layer("pwconv", cin, 4 * f, size, size, size, size, name=f"u{lvl}.upconv"))
        size *= 2
        layers += [_conv(2 * f, f, size, f"u{lvl}.conv1"), _conv(f, f, size, f"u{lvl}.conv2")]
        cin = f
    layers.append(Layer("pwconv", cin, out_channels, size, size, size, size, name="out"))
    return layers


def nasaic_key(family: str, params: Mapping[str, object]) -> tuple:
    """Hashable key of the NAS parameters of a NASAIC family (see the module docstring).

    Raises:
        ValueError: unknown family, or a missing / non-integer / out-of-range parameter.
    """
    if family in RESNET9_BLOCKS:
        blocks = RESNET9_BLOCKS[family]
        filters = tuple(_int(params, f"b{i}_filters", 1) for i in range(blocks + 1))
        skips = tuple(_int(params, f"b{i}_skips", 0) for i in range(1, blocks + 1))
        return (family, filters, skips)
    if family == "unet-nuclei":
        height = _int(params, "height", 1)
        return (family, height, tuple(_int(params, f"f{lvl}_filters", 1)
                                      for lvl in range(height + 1)))
    raise ValueError(f"NASAIC family must be one of {list(NASAIC_FAMILIES)}, got {family!r}")


def build_nasaic(key: tuple) -> list[Layer]:
    """The layers of a :func:`nasaic_key`."""
    family = key[0]
    if family in RESNET9_BLOCKS:
        return resnet9(key[1], key[2], resolution=_RESNET9_INPUT[family])
    return unet(key[1], key[2])


for _name, _desc in (("resnet9-cifar10", "NASAIC ResNet-9 on CIFAR-10: filters, skips per block"),
                     ("resnet9-stl10", "NASAIC ResNet-9 on STL-10: filters, skips per block"),
                     ("unet-nuclei", "NASAIC U-Net on nuclei: height, filters per level")):
    register_family(Family(_name, key=lambda p, f=_name: nasaic_key(f, p), build=build_nasaic,
                           description=_desc))
