"""Network families: a design's NAS parameters → the layer list every cost model consumes.

Each family lives in its own module and registers itself (:func:`register_family`):

* :mod:`~moo_cosearch.networks.mbconv` — ``mobilenetv2``, ``efficientnet-b0`` (NAHAS spaces);
* :mod:`~moo_cosearch.networks.nb201` — ``nb201``, and everything about the NAS-Bench-201 cell;
* :mod:`~moo_cosearch.networks.fpga` — ``edd-mbconv`` (EDD), ``fnas-cifar10`` (FNAS);
* :mod:`~moo_cosearch.networks.anb` — ``anb-mnas`` (Accel-NASBench MnasNet space);
* :mod:`~moo_cosearch.networks.nasaic` — ``resnet9-cifar10``, ``resnet9-stl10``,
  ``unet-nuclei`` (NASAIC).

The shared record is :class:`Layer` (one layer with shapes) and :class:`LayerBatch` (padded
arrays of many networks), in :mod:`~moo_cosearch.networks.layers`. A new family is one new
module that calls :func:`register_family`, plus its name in ``_registry.BUILTIN_MODULES``
(the built-in family modules load on the first look at the registry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr
from ._registry import (Family, build_network, get_family, layers_of_key, list_families,
                        matrix_of_key, nas_key, network_identity, network_matrix,
                        register_family, summarize)
from .layers import LAYER_KINDS, Layer, LayerBatch, layer_matrix, stack_layers, stack_matrices

if TYPE_CHECKING:
    from .mbconv import efficientnet_b0, mobilenetv2

__all__ = ["Family", "LAYER_KINDS", "Layer", "LayerBatch", "build_network",
           "efficientnet_b0", "get_family", "layer_matrix", "layers_of_key", "list_families",
           "matrix_of_key", "mobilenetv2", "nas_key", "network_identity", "network_matrix",
           "register_family",
           "stack_layers", "stack_matrices", "summarize"]



#: The family module loads on first use.
__getattr__ = lazy_getattr(__name__, {"efficientnet_b0": "mbconv", "mobilenetv2": "mbconv"})
