"""Network families of the FPGA co-search papers: EDD's MBConv backbone and FNAS's CIFAR-10
child network.

* ``edd-mbconv`` — EDD's search backbone (Li et al., "EDD: Efficient Differentiable DNN
  Architecture and Implementation Co-search for Embedded AI Solutions", DAC 2020, section 6):
  "20 MBConv blocks, each with a filter size within {3, 5, 7} and a channel expansion ratio within
  {4, 5, 6}" at ImageNet resolution. EDD does not publish the block widths or strides; we take
  the single-path ProxylessNAS backbone (Cai et al., ICLR 2019; EDD cites it as [1] and compares
  with it) trimmed to 20 searched blocks: stem conv 3x3 stride 2 (3->32), a fixed MBConv
  (expansion 1, kernel 3, 32->16), then searched blocks at widths 24/40/80/96/192/320 with
  4/4/4/4/3/1 blocks and first strides 2/2/2/1/2/1, then pwconv 320->1280, global pool and fc.
  Searched blocks are numbered ``b0..b19``; the fixed layers are named ``stem``, ``fixed`` and
  ``head``.
* ``fnas-cifar10`` — the FNAS / hardware-software co-exploration child network for CIFAR-10
  (Jiang et al., "Accuracy vs. Efficiency: Achieving Both through
  FPGA-Implementation Aware Neural Architecture Search", DAC 2019, and "Hardware/Software
  Co-Exploration of Neural Architectures", TCAD 2020): a chain of convolution layers whose filter count (FNAS: {24, 36, 48, 64}) and square kernel (FNAS: {1, 3, 5, 7}) are searched
  per layer, stride 1 and 'same' padding on the 32x32 RGB input (BN and ReLU folded), followed
  by global average pooling and a 10-way fc. The number of layers is however many
  ``l{i}_filters`` / ``l{i}_kernel`` pairs the space declares.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ._common import (as_int, check_blocks, check_positive, fc, global_pool, head,
                      inverted_residual, same)
from ._registry import Family, register_family
from .layers import Layer

__all__ = ["EDD_BLOCKS", "EDD_DEFAULT_EXPANSION", "EDD_DEFAULT_KERNEL", "edd_mbconv",
           "edd_nas_key", "fnas_cifar10", "fnas_nas_key"]

#: (out channels, searched blocks, first stride) of the EDD backbone stages (ProxylessNAS widths).
_EDD_STAGES = ((24, 4, 2), (40, 4, 2), (80, 4, 2), (96, 4, 1), (192, 3, 2), (320, 1, 1))
#: Number of searched MBConv blocks in EDD (N = 20).
EDD_BLOCKS: int = sum(n for _, n, _ in _EDD_STAGES)
EDD_DEFAULT_KERNEL = 3
EDD_DEFAULT_EXPANSION = 6


def edd_mbconv(kernels: Sequence[int], expansions: Sequence[int], *, resolution: int = 224,
               num_classes: int = 1000) -> list[Layer]:
    """EDD's 20-block MBConv backbone with a per-block kernel and expansion ratio.

    Args:
        kernels: depthwise kernel of each of the 20 searched blocks (odd, positive).
        expansions: expansion ratio of each searched block (positive; EDD searches {4, 5, 6}).
        resolution: input side (square RGB input).
        num_classes: classifier outputs.

    Returns:
        Layers in execution order; searched blocks are named ``b{i}.expand``, ``b{i}.dw``,
        ``b{i}.project`` and ``b{i}.add`` (the residual sum, when stride 1 and widths match).

    Raises:
        ValueError: wrong number of kernels/expansions, an even or non-positive kernel, a
            non-positive expansion or size argument.
    """
    ks, es = check_blocks("edd-mbconv", kernels, expansions, EDD_BLOCKS,
                           first_expansion_one=False)
    res = check_positive(resolution, "resolution")
    num_classes = check_positive(num_classes, "num_classes")
    size = same(res, 2)
    layers = [Layer("conv", 3, 32, res, res, size, size, kernel=3, stride=2, name="stem")]
    size = inverted_residual(layers, "fixed", 32, 16, size, 3, 1, 1, se=False)
    cin, i = 16, 0
    for cout, repeats, first_stride in _EDD_STAGES:
        for r in range(repeats):
            size = inverted_residual(layers, f"b{i}", cin, cout, size, ks[i], es[i],
                                      first_stride if r == 0 else 1, se=False)
            cin, i = cout, i + 1
    return layers + head(cin, size, num_classes)


def edd_nas_key(params: Mapping[str, object]) -> tuple:
    """``("edd-mbconv", kernels, expansions)`` from ``b{i}_kernel`` / ``b{i}_expansion``
    (defaults 3 and 6); other keys are ignored."""
    def get(name: str, default: int) -> int:
        v = params.get(name, default)
        return v if type(v) is int else as_int(v, name)   # fast path for plain ints

    kernels = tuple(get(f"b{i}_kernel", EDD_DEFAULT_KERNEL) for i in range(EDD_BLOCKS))
    expansions = tuple(get(f"b{i}_expansion", EDD_DEFAULT_EXPANSION) for i in range(EDD_BLOCKS))
    return ("edd-mbconv", kernels, expansions)


def fnas_cifar10(filters: Sequence[int], kernels: Sequence[int], *, resolution: int = 32,
                 num_classes: int = 10) -> list[Layer]:
    """The FNAS CIFAR-10 child network: ``len(filters)`` conv layers, global pool, fc.

    Args:
        filters: output channels of each conv layer.
        kernels: square kernel of each conv layer (odd, positive; 'same' padding, stride 1).
        resolution: input side (RGB).
        num_classes: classifier outputs.

    Raises:
        ValueError: no layers, mismatched lengths, non-positive filters, even kernels.
    """
    if len(filters) == 0 or len(filters) != len(kernels):
        raise ValueError(f"fnas-cifar10 needs one filter count and one kernel per layer (at "
                         f"least one layer), got {len(filters)} and {len(kernels)}")
    size = check_positive(resolution, "resolution")
    num_classes = check_positive(num_classes, "num_classes")
    layers, cin = [], 3
    for i, (f, k) in enumerate(zip(filters, kernels)):
        f = check_positive(f, f"filters[{i}]")
        k = as_int(k, f"kernels[{i}]")
        if k < 1 or k % 2 == 0:
            raise ValueError(f"kernel sizes must be odd positive integers, got kernels[{i}]={k}")
        kind = "pwconv" if k == 1 else "conv"
        layers.append(Layer(kind, cin, f, size, size, size, size, kernel=k, name=f"l{i}"))
        cin = f
    return layers + [global_pool(cin, size, "head.pool"), fc(cin, num_classes, "head.fc")]


def fnas_nas_key(params: Mapping[str, object]) -> tuple:
    """``("fnas-cifar10", filters, kernels)`` from ``l0_filters``/``l0_kernel``, ``l1_...``,
    up to the first missing index.

    Raises:
        ValueError: no ``l0_filters``, or a layer with only one of its two parameters.
    """
    filters, kernels = [], []
    i = 0
    while f"l{i}_filters" in params or f"l{i}_kernel" in params:
        if f"l{i}_filters" not in params or f"l{i}_kernel" not in params:
            raise ValueError(f"fnas-cifar10 layer {i} needs both l{i}_filters and l{i}_kernel")
        filters.append(as_int(params[f"l{i}_filters"], f"l{i}_filters"))
        kernels.append(as_int(params[f"l{i}_kernel"], f"l{i}_kernel"))
        i += 1
    if not filters:
        raise ValueError("fnas-cifar10 params need l0_filters and l0_kernel (one pair per layer)")
    return ("fnas-cifar10", tuple(filters), tuple(kernels))


register_family(Family("edd-mbconv", key=edd_nas_key,
                       build=lambda key: edd_mbconv(key[1], key[2]),
                       description="EDD's 20-block MBConv backbone: kernel, expansion"))
register_family(Family("fnas-cifar10", key=fnas_nas_key,
                       build=lambda key: fnas_cifar10(key[1], key[2]),
                       description="FNAS CIFAR-10 conv chain: filters, kernel per layer"))
