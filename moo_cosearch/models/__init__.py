"""torch ``nn.Module`` builders for every built-in network family, from a design's NAS
parameters, and MAC / weight counters that match the layer lists the cost models use.

* :func:`build_model` — ``build_model(space, design, num_classes, resolution, task=None)``:
  the module of ``nb201`` (NAS-Bench-201 cell network), ``mobilenetv2`` / ``efficientnet-b0``
  (NAHAS MBConv spaces), ``edd-mbconv`` (EDD), ``fnas-cifar10`` (FNAS), ``resnet9-cifar10`` /
  ``resnet9-stl10`` / ``unet-nuclei`` (NASAIC; a workload space picks its task with ``task``).
* :func:`model_layers` — the :mod:`moo_cosearch.networks` layer list of the same network.
* :func:`count_macs` / :func:`count_weights` — MACs of one forward pass (forward hooks on
  convolutions and linear layers) and weights, counted as the layer lists count them.

Importing this package does not import torch; building a model does.
"""

from __future__ import annotations

from ._build import WORKLOADS, build_model, list_model_families, model_layers
from ._count import count_macs, count_weights

__all__ = ["WORKLOADS", "build_model", "count_macs", "count_weights", "list_model_families",
           "model_layers"]
