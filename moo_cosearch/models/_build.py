"""Dispatch from a space (or family name) and a design to a family's torch module and to the
layer list of the same network at the same input resolution and class count.

Every family reads its design through :func:`moo_cosearch.networks.nas_key` (the parsing and
validation the cost models use), and the layer list comes from the family's own builder in
:mod:`moo_cosearch.networks` called with the same ``resolution`` / ``num_classes``, so a
built module and the list the cost models see describe one network.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..networks import nas_key
from ..networks.anb import anb_mnas
from ..networks.fpga import edd_mbconv, fnas_cifar10
from ..networks.layers import Layer
from ..networks.mbconv import efficientnet_b0, mobilenetv2
from ..networks.nasaic import WORKLOADS, resnet9, unet
from ..networks.nb201 import nb201

__all__ = ["WORKLOADS", "build_model", "list_model_families", "model_layers"]



@dataclass(frozen=True)
class _Spec:
    """A buildable family: default input side and class count (those of its layer list in
    the cost models), its layer list and its module, both from (key, resolution, classes)."""

    resolution: int
    num_classes: int
    layers: Callable[[tuple, int, int], list[Layer]]
    module: Callable[[tuple, int, int], Any]


def _nb201_module(key: tuple, res: int, classes: int) -> Any:
    from ._nb201 import NB201Network
    return NB201Network(key[1], classes)


def _mbconv_module(key: tuple, res: int, classes: int) -> Any:
    from ._mbconv import mbconv_network
    return mbconv_network(key[0], _mbconv_layers(key, res, classes))


def _anb_module(key: tuple, res: int, classes: int) -> Any:
    from ._anb import anb_network
    return anb_network(anb_mnas(*key[1:], resolution=res, num_classes=classes))


def _fnas_module(key: tuple, res: int, classes: int) -> Any:
    from ._fpga import FNASNetwork
    return FNASNetwork(key[1], key[2], classes)


def _resnet9_module(key: tuple, res: int, classes: int) -> Any:
    from ._nasaic import ResNet9
    return ResNet9(key[1], key[2], classes)


def _unet_module(key: tuple, res: int, classes: int) -> Any:
    from ._nasaic import UNet
    return UNet(key[2], classes)


_MBCONV_LAYERS = {"mobilenetv2": mobilenetv2, "efficientnet-b0": efficientnet_b0,
                  "edd-mbconv": edd_mbconv}


def _mbconv_layers(key: tuple, res: int, classes: int) -> list[Layer]:
    return _MBCONV_LAYERS[key[0]](key[1], key[2], resolution=res, num_classes=classes)


_SPECS: dict[str, _Spec] = {
    "nb201": _Spec(32, 10, lambda k, r, c: nb201(k[1], resolution=r, num_classes=c),
                   _nb201_module),
    "mobilenetv2": _Spec(224, 1000, _mbconv_layers, _mbconv_module),
    "efficientnet-b0": _Spec(224, 1000, _mbconv_layers, _mbconv_module),
    "edd-mbconv": _Spec(224, 1000, _mbconv_layers, _mbconv_module),
    "anb-mnas": _Spec(224, 1000, lambda k, r, c: anb_mnas(*k[1:], resolution=r, num_classes=c),
                      _anb_module),
    "fnas-cifar10": _Spec(32, 10, lambda k, r, c: fnas_cifar10(k[1], k[2], resolution=r,
                                                               num_classes=c), _fnas_module),
    "resnet9-cifar10": _Spec(32, 10, lambda k, r, c: resnet9(k[1], k[2], resolution=r,
                                                             num_classes=c), _resnet9_module),
    "resnet9-stl10": _Spec(96, 10, lambda k, r, c: resnet9(k[1], k[2], resolution=r,
                                                           num_classes=c), _resnet9_module),
    "unet-nuclei": _Spec(128, 1, lambda k, r, c: unet(k[1], k[2], resolution=r,
                                                      out_channels=c), _unet_module),
}


def list_model_families() -> list[str]:
    """Network families :func:`build_model` can build (a NASAIC workload of
    :data:`WORKLOADS` builds the family of one of its tasks)."""
    return sorted(_SPECS)


def _check_size(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _resolve(space: Any, design: Mapping[str, Any], num_classes: int | None,
             resolution: int | None, task: int | None) -> tuple[_Spec, tuple, int, int]:
    """(spec, nas key, resolution, classes) of a space / family name and a design."""
    network = space if isinstance(space, str) else getattr(space, "network", None)
    if not isinstance(design, Mapping):
        raise ValueError(f"design must be a dict of parameter values, got {type(design).__name__}")
    if network in WORKLOADS:
        tasks = WORKLOADS[network]
        if isinstance(task, bool) or task not in range(len(tasks)):
            raise ValueError(f"workload {network!r} has {len(tasks)} tasks: pass task=0.."
                             f"{len(tasks) - 1} to pick the network, got task={task!r}")
        prefix = f"t{task}_"
        family = tasks[task]
        design = {k[len(prefix):]: v for k, v in design.items() if k.startswith(prefix)}
    elif network in _SPECS:
        if task is not None:
            raise ValueError(f"task is only for the multi-task workloads {sorted(WORKLOADS)}; "
                             f"network {network!r} has one network, got task={task!r}")
        family = network
    else:
        raise ValueError(f"build_model needs a space whose network is one of "
                         f"{list_model_families()} or a workload {sorted(WORKLOADS)}, "
                         f"got {network!r}")
    spec = _SPECS[family]
    res = spec.resolution if resolution is None else _check_size(resolution, "resolution")
    classes = spec.num_classes if num_classes is None else _check_size(num_classes,
                                                                        "num_classes")
    return spec, nas_key(family, design), res, classes


def model_layers(space: Any, design: Mapping[str, Any], num_classes: int | None = None,
                 resolution: int | None = None, *, task: int | None = None) -> list[Layer]:
    """The layer list (:mod:`moo_cosearch.networks`) of the network :func:`build_model`
    builds with the same arguments; with ``num_classes`` and ``resolution`` left at None it
    is exactly the list the cost models use for ``design``."""
    spec, key, res, classes = _resolve(space, design, num_classes, resolution, task)
    return spec.layers(key, res, classes)


def build_model(space: Any, design: Mapping[str, Any], num_classes: int | None = None,
                resolution: int | None = None, *, task: int | None = None) -> Any:
    """The ``torch.nn.Module`` of a design's network, freshly initialised (torch's default
    initialisation; seed with ``torch.manual_seed`` for repeatable weights), on the CPU.

    Args:
        space: a :class:`~moo_cosearch.space.JointSpace` (its ``network`` names the family)
            or a family / workload name.
        design: the space's parameter values; only the NAS parameters are read (hardware
            parameters are ignored).
        num_classes: classifier outputs (U-Net: segmentation classes, one logit map each);
            None: the family's own (NB201, FNAS, ResNet-9: 10; MobileNetV2, EfficientNet-B0,
            EDD: 1000; U-Net: 1).
        resolution: side of the square RGB input the network is checked for (NB201: a
            multiple of 4; ResNet-9 / U-Net: divisible by 2 per down-sampling); None: the
            family's own (224 for the MBConv families, 96 for STL-10, 128 for U-Net, else 32).
            The classifiers end in global pooling and also run on other input sizes.
        task: for a NASAIC workload (``nasaic-w1`` .. ``w3``, two tasks per design), which
            task's network to build (0 or 1; parameters ``t{task}_*``); None otherwise.

    Returns:
        An ``nn.Module`` in training mode mapping ``(N, 3, R, R)`` to ``(N, num_classes)``
        logits (U-Net: ``(N, num_classes, R, R)``).

    Raises:
        ValueError: unknown family, a missing or invalid NAS parameter, a bad ``task``,
            ``num_classes`` or ``resolution``.
    """
    spec, key, res, classes = _resolve(space, design, num_classes, resolution, task)
    spec.layers(key, res, classes)          # the layer builders' checks of size arguments
    return spec.module(key, res, classes)
