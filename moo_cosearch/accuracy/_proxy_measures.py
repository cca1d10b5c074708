"""Zero-cost proxies of an untrained ``torch.nn.Module``: one number per network, higher is
better (the network is expected to train to a higher accuracy).

Definitions follow the papers' reference code, so our figures can sit next to theirs:

* ``synflow`` (Tanaka et al., NeurIPS 2020; as a NAS proxy: Abdelfattah et al., ICLR 2021):
  ``sum |theta * dR/dtheta|`` over conv/linear weights, where ``R`` is the sum of the output of
  the network with every parameter replaced by its absolute value, BatchNorm removed, in double
  precision, for one all-ones input. Needs no data.
* ``grad_norm``: ``sum_layers ||dL/dW||_2`` over conv/linear weights, ``L`` the cross-entropy of
  one minibatch (Abdelfattah et al.).
* ``snip`` (Lee et al., ICLR 2019): ``sum |W * dL/dW|`` over conv/linear weights, same loss
  (equal to the gradient of the weight mask in the reference code).
* ``jacob_cov`` (Mellor et al. 2020, v1): the Jacobian rows ``d sum(output_i)/d x_i`` of the
  minibatch, their correlation matrix's eigenvalues ``v``, score ``-sum(log(v + k) + 1/(v + k))``
  with ``k = 1e-5``.
* ``naswot`` (Mellor et al., ICML 2021): the binary ReLU activation codes ``c_i`` of the
  minibatch over every ``nn.ReLU``, the kernel ``K_ij = c_i.c_j + (1-c_i).(1-c_j)`` (units where
  both agree), score ``log|det K|``.

The data-dependent measures run in training mode (BatchNorm on batch statistics), as the
reference code does. ``jacob_cov`` and ``naswot`` share one forward pass, ``grad_norm`` and
``snip`` one backward pass (:func:`measure`): the reference code computes them the same way.
A network where a score is undefined (a constant Jacobian, a singular kernel) scores ``-inf``:
the worst, since such a network cannot tell its inputs apart.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["MEASURES", "measure"]

#: The proxies :func:`measure` computes, in the order of the issue.
MEASURES: tuple[str, ...] = ("synflow", "naswot", "jacob_cov", "grad_norm", "snip")

_JACOB_K = 1e-5


def _weighted_layers(model: "torch.nn.Module") -> list["torch.nn.Module"]:
    """The conv and linear layers, whose weights the pruning-based proxies sum over."""
    import torch.nn as nn

    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Conv1d, nn.Linear))]


def synflow(model: "torch.nn.Module", input_shape: Sequence[int]) -> float:
    """Synaptic flow of ``model`` for one all-ones input of ``input_shape`` (C, H, W); the
    model is left unchanged (a double-precision copy without BatchNorm is scored)."""
    import torch
    import torch.nn as nn

    net = copy.deepcopy(model).double()
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, name, nn.Identity())
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad()
    out = net(torch.ones((1, *input_shape), dtype=torch.float64))
    out.sum().backward()
    total = 0.0
    for layer in _weighted_layers(net):
        if layer.weight.grad is not None:
            total += float((layer.weight.detach() * layer.weight.grad).abs().sum())
    return total


def _jacob_cov_score(jacobian: np.ndarray) -> float:
    """Mellor et al.'s score of the (batch, features) Jacobian; -inf where undefined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        corrs = np.corrcoef(jacobian)
    if not np.all(np.isfinite(corrs)):
        return -math.inf
    v = np.linalg.eigvalsh(corrs)          # symmetric: real eigenvalues
    with np.errstate(invalid="ignore", divide="ignore"):
        score = -float(np.sum(np.log(v + _JACOB_K) + 1.0 / (v + _JACOB_K)))
    return score if math.isfinite(score) else -math.inf


def _logdet(kernel: np.ndarray) -> float:
    sign, logdet = np.linalg.slogdet(kernel)
    return float(logdet) if sign != 0 and math.isfinite(logdet) else -math.inf


def _activation_pass(model: "torch.nn.Module", inputs: "torch.Tensor",
                     names: set[str]) -> dict[str, float]:
    """``naswot`` and/or ``jacob_cov`` from one forward (and one backward) pass."""
    import torch
    import torch.nn as nn

    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if "naswot" in names and not relus:
        raise ValueError("naswot needs nn.ReLU modules in the network (functional ReLUs "
                         "cannot be hooked); this network has none")
    n = inputs.shape[0]
    kernel = np.zeros((n, n))
    # ReLUs applied to one tensor (a node feeding several ops) share their codes; the tensor
    # is kept so that its id cannot be reused within the pass
    seen: dict[int, tuple[torch.Tensor, np.ndarray]] = {}

    def hook(_module: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        key = id(inp[0])
        if key not in seen:
            codes = (out.detach().reshape(n, -1) > 0).float()    # 0/1: float32 sums exact
            ones = codes.sum(1, keepdim=True)                   # to 2**24 units per layer
            # c.c' + (1-c).(1-c)' = 2 c.c' - |c| - |c'| + units: one product instead of two
            agree = 2 * codes @ codes.T - ones - ones.T + codes.shape[1]
            seen[key] = (inp[0], agree.double().numpy())
        kernel[:] += seen[key][1]

    handles = [m.register_forward_hook(hook) for m in relus] if "naswot" in names else []
    try:
        x = inputs.clone().requires_grad_("jacob_cov" in names)
        with torch.set_grad_enabled("jacob_cov" in names):
            out = model(x)
    finally:
        for h in handles:
            h.remove()
        seen.clear()
    result = {}
    if "naswot" in names:
        result["naswot"] = _logdet(kernel)
    if "jacob_cov" in names:
        out.backward(torch.ones_like(out))
        result["jacob_cov"] = _jacob_cov_score(x.grad.reshape(n, -1).double().numpy())
    return result


def _loss_pass(model: "torch.nn.Module", inputs: "torch.Tensor", targets: "torch.Tensor",
               names: set[str]) -> dict[str, float]:
    """``grad_norm`` and/or ``snip`` from one cross-entropy backward pass."""
    import torch.nn.functional as F

    model.zero_grad()
    F.cross_entropy(model(inputs), targets).backward()
    grad_norm = snip = 0.0
    for layer in _weighted_layers(model):
        g = layer.weight.grad
        if g is None:
            continue
        grad_norm += float(g.norm())
        snip += float((layer.weight.detach() * g).abs().sum())
    model.zero_grad()
    return {k: v for k, v in (("grad_norm", grad_norm), ("snip", snip)) if k in names}


def measure(model: "torch.nn.Module", inputs: "torch.Tensor", targets: "torch.Tensor",
            names: Iterable[str] = MEASURES) -> dict[str, float]:
    """The proxies ``names`` of ``model`` on the minibatch ``inputs`` (N, C, H, W) with class
    labels ``targets`` (N,); ``synflow`` reads only the input shape.

    The model is put in training mode and its gradients are cleared afterwards; its weights
    are not changed.

    Raises:
        ValueError: an unknown proxy name, or ``naswot`` on a network without ``nn.ReLU``.
    """
    wanted = set(names)
    unknown = sorted(wanted - set(MEASURES))
    if unknown:
        raise ValueError(f"proxy must be one of {list(MEASURES)}, got {unknown[0]!r}")
    model.train()
    scores: dict[str, float] = {}
    if "synflow" in wanted:
        scores["synflow"] = synflow(model, tuple(inputs.shape[1:]))
    if wanted & {"naswot", "jacob_cov"}:
        scores.update(_activation_pass(model, inputs, wanted))
        model.zero_grad()
    if wanted & {"grad_norm", "snip"}:
        scores.update(_loss_pass(model, inputs, targets, wanted))
    return {name: scores[name] for name in MEASURES if name in wanted}
