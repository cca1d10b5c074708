"""MACs and weights of a built ``nn.Module``, counted the way the layer lists count them.

:class:`~moo_cosearch.networks.Layer` gives MACs only to conv / pwconv / dwconv / fc layers
(``out_h * out_w * out_ch * in_ch / groups * k * k``; pooling, residual sums and the
squeeze-and-excitation product are vector operations, not MACs) and weights only to
convolution kernels and fc weights + biases (batch norm folded, convolutions without bias).
:func:`count_macs` and :func:`count_weights` apply the same rules to a module, so the two
can be compared exactly.
"""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["count_macs", "count_weights"]


def count_macs(model: Any, resolution: int, in_channels: int = 3) -> int:
    """Multiply-accumulates of one forward pass of ``model`` on a ``1 x in_channels x
    resolution x resolution`` input.

    Counted through forward hooks: ``Conv2d`` (output elements x ``in_channels / groups`` x
    kernel area), ``ConvTranspose2d`` (input elements x ``out_channels / groups`` x kernel
    area) and ``Linear`` (output elements x ``in_features``). Biases, batch norm,
    activations, pooling and element-wise sums / products are not MACs (as in the layer
    lists). The model is run in eval mode under ``torch.no_grad`` and its training flag is
    restored afterwards.

    Raises:
        ValueError: ``resolution`` or ``in_channels`` is not a positive integer.
    """
    import torch
    from torch import nn

    for what, v in (("resolution", resolution), ("in_channels", in_channels)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{what} must be a positive integer, got {v!r}")
    total = 0

    def conv(mod: Any, inputs: tuple, output: Any) -> None:
        nonlocal total
        kh, kw = mod.kernel_size
        total += output[0].numel() * (mod.in_channels // mod.groups) * kh * kw

    def deconv(mod: Any, inputs: tuple, output: Any) -> None:
        nonlocal total
        kh, kw = mod.kernel_size
        total += inputs[0][0].numel() * (mod.out_channels // mod.groups) * kh * kw

    def linear(mod: Any, inputs: tuple, output: Any) -> None:
        nonlocal total
        total += output[0].numel() * mod.in_features

    hooks = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv))
        elif isinstance(mod, nn.ConvTranspose2d):
            hooks.append(mod.register_forward_hook(deconv))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(linear))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, int(in_channels), int(resolution), int(resolution)))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return int(total)


def count_weights(model: Any) -> int:
    """Weights of ``model`` as the layer lists count them: ``Conv2d`` / ``ConvTranspose2d``
    kernels (their biases excluded: batch norm is folded into them) and ``Linear`` weights
    plus biases; batch-norm parameters are not counted. Compare ``sum(p.numel() for p in
    model.parameters())`` for everything."""
    from torch import nn

    total = 0
    for mod in model.modules():
        if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
            total += mod.weight.numel()
        elif isinstance(mod, nn.Linear):
            total += mod.weight.numel() + (mod.bias.numel() if mod.bias is not None else 0)
    return int(total)
