"""The Accel-NASBench MnasNet/EfficientNet search space (``anb-mnas``), exactly.

Accel-NASBench (Ahmad et al., arXiv 2404.08005, 2024; repositories afzalxo/Accel-NASBench,
``configurationspaces/``, and afzalxo/ANB-DatasetCollection, ``models/accelbenchnet.py``,
``searchables/searchables.py``) trains and measures networks of this family:

* stem: 3x3 conv, stride 2, 3 -> 32 channels (+ BN + ReLU);
* 7 MBConv stages with input / output widths 32/16, 16/24, 24/40, 40/80, 80/112, 112/192,
  192/320 and first-block strides 1, 2, 2, 2, 1, 2, 1 (the EfficientNet-B0 skeleton, no width
  or depth scaling); per stage the search picks the expansion ratio ``{1, 4, 6}`` (no 1x1
  expand conv when it is 1), the depthwise kernel ``{3, 5}``, the number of blocks ``{1, 2, 3}``
  (stage 5: ``{1, 2, 3, 4}``) and squeeze-excite on/off; the SE block squeezes the expanded
  tensor to ``max(1, block_input_channels // 4)`` channels with two 1x1 convs with bias
  (ReLU, then hard-sigmoid); an identity shortcut where stride is 1 and widths are equal;
* head: 1x1 conv 320 -> 1280 (+ BN + ReLU), global average pool, dropout 0.2, ``Linear``
  1280 -> classes.

The benchmark trains with ``activation_fn = relu`` (its ``configs/*.cfg``; the DPU on the
FPGAs has no SiLU), so ReLU / hard-sigmoid is the network here.

Parameters read: ``b{i}_expansion``, ``b{i}_kernel``, ``b{i}_layers``, ``b{i}_se`` (0/1) for
stage ``i = 0..6``; a missing one takes EfficientNet-B0's value (:data:`EFFNET_B0`: expansion
1, 6, 6, 6, 6, 6, 6; kernel 3, 3, 5, 3, 5, 5, 3; layers 1, 2, 2, 3, 3, 4, 1; SE everywhere).

Layer counts follow :class:`~moo_cosearch.networks.Layer` (MACs of conv/fc only, BN folded).
The table's ``macs_m`` / ``params_m`` were counted by ``thop`` on the training-mode model,
which also counts batch norm (4 operations per output element, 2 parameters per channel)
and average pooling; :func:`thop_counts` reproduces that count from the layer list.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np

from ._common import as_int, check_positive, head, inverted_residual, same
from ._registry import Family, register_family
from .layers import Layer, layer_matrix

__all__ = ["ANB_CHOICES", "ANB_STAGES", "EFFNET_B0", "anb_mnas", "thop_counts"]

#: Per stage: (input channels, output channels, first-block stride).
ANB_STAGES: tuple[tuple[int, int, int], ...] = (
    (32, 16, 1), (16, 24, 2), (24, 40, 2), (40, 80, 2), (80, 112, 1), (112, 192, 2),
    (192, 320, 1))

#: The grid of each per-stage parameter (``layers`` of stage 5 also allows 4).
ANB_CHOICES: dict[str, tuple[int, ...]] = {
    "expansion": (1, 4, 6), "kernel": (3, 5), "layers": (1, 2, 3), "se": (0, 1)}

#: EfficientNet-B0 in this space: per-stage (expansion, kernel, layers, se).
EFFNET_B0: dict[str, tuple[int, ...]] = {
    "expansion": (1, 6, 6, 6, 6, 6, 6), "kernel": (3, 3, 5, 3, 5, 5, 3),
    "layers": (1, 2, 2, 3, 3, 4, 1), "se": (1, 1, 1, 1, 1, 1, 1)}

_N = len(ANB_STAGES)
_FIELDS = ("expansion", "kernel", "layers", "se")


def _choices(field: str, stage: int) -> tuple[int, ...]:
    if field == "layers" and stage == 5:
        return (1, 2, 3, 4)
    return ANB_CHOICES[field]


def _check(field: str, stage: int, value: object) -> int:
    v = as_int(value, f"b{stage}_{field}")
    allowed = _choices(field, stage)
    if v not in allowed:
        raise ValueError(f"b{stage}_{field} must be one of {list(allowed)}, got {v}")
    return v


def _stage(layers: list[Layer], i: int, size: int, e: int, k: int, n: int, se: int) -> int:
    cin, cout, stride = ANB_STAGES[i]
    for r in range(n):
        size = inverted_residual(layers, f"s{i}b{r}", cin if r == 0 else cout, cout, size, k,
                                 e, stride if r == 0 else 1, bool(se))
    return size


def anb_mnas(expansions: Sequence[int], kernels: Sequence[int], layers: Sequence[int],
             se: Sequence[int], *, resolution: int = 224, num_classes: int = 1000) -> list[Layer]:
    """The Accel-NASBench network of a per-stage configuration.

    Args:
        expansions, kernels, layers, se: one value per stage (7 each) from
            :data:`ANB_CHOICES`.
        resolution: input image side (square RGB input).
        num_classes: classifier outputs.

    Returns:
        The layers in execution order: ``stem``, blocks ``s{stage}b{block}.expand`` / ``.dw``
        / ``.se.*`` / ``.project`` / ``.add``, ``head.conv``, ``head.pool``, ``head.fc``.

    Raises:
        ValueError: a wrong number of values or a value off the grid.
    """
    cfg = {}
    for field, values in zip(_FIELDS, (expansions, kernels, layers, se)):
        if len(values) != _N:
            raise ValueError(f"anb-mnas needs {_N} {field} values (one per stage), "
                             f"got {len(values)}: {list(values)!r}")
        cfg[field] = [_check(field, i, v) for i, v in enumerate(values)]
    res = check_positive(resolution, "resolution")
    classes = check_positive(num_classes, "num_classes")
    size = same(res, 2)
    out = [Layer("conv", 3, 32, res, res, size, size, kernel=3, stride=2, name="stem")]
    for i in range(_N):
        size = _stage(out, i, size, cfg["expansion"][i], cfg["kernel"][i], cfg["layers"][i],
                      cfg["se"][i])
    return out + head(ANB_STAGES[-1][1], size, classes)


def thop_counts(layers: Sequence[Layer]) -> tuple[int, int]:
    """(operations, parameters) as ``thop.profile`` 0.1.1 reports them for the training-mode
    torch model of ``layers`` (how Accel-NASBench's ``macs_m`` / ``params_m`` were counted):
    conv/fc MACs + 4 per batch-norm output element (affine BN) + ``kernel area + 1`` per
    average-pool output; conv/fc weights and biases + 2 per batch-norm channel."""
    ops = params = 0
    for layer in layers:
        ops += layer.macs
        params += layer.params
        if layer.kind in ("conv", "pwconv", "dwconv"):
            ops += 4 * layer.out_ch * layer.out_h * layer.out_w
            params += 2 * layer.out_ch
        elif layer.kind == "pool":
            ops += layer.vector_ops + layer.out_ch * layer.out_h * layer.out_w
    return ops, params


def _key(params: Mapping[str, object]) -> tuple:
    return ("anb-mnas",) + tuple(
        tuple(_check(f, i, params.get(f"b{i}_{f}", EFFNET_B0[f][i])) for i in range(_N))
        for f in _FIELDS)


def _build(key: tuple) -> list[Layer]:
    return anb_mnas(*key[1:])


@lru_cache(maxsize=None)
def _stage_matrix(i: int, e: int, k: int, n: int, se: int) -> np.ndarray:
    """Rows of stage ``i`` (its input size is fixed by the strides before it)."""
    size = same(224, 2)
    for j in range(i):
        size = same(size, ANB_STAGES[j][2])
    out: list[Layer] = []
    _stage(out, i, size, e, k, n, se)
    return layer_matrix(out)


@lru_cache(maxsize=None)
def _frame() -> tuple[np.ndarray, np.ndarray]:
    layers = _build(_key({}))
    return layer_matrix(layers[:1]), layer_matrix(layers[-3:])


def _matrix(key: tuple) -> np.ndarray:
    stem, tail = _frame()
    es, ks, ns, ses = key[1:]
    return np.concatenate([stem] + [_stage_matrix(i, es[i], ks[i], ns[i], ses[i])
                                    for i in range(_N)] + [tail])


register_family(Family("anb-mnas", key=_key, build=_build, matrix=_matrix,
                       description="Accel-NASBench MnasNet space, 7 stages: expansion, kernel, "
                                   "layers, se"))
