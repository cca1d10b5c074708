"""Zero-cost proxies as an accuracy source for any space whose network
:func:`moo_cosearch.models.build_model` builds (source ``proxy``).

A proxy scores an untrained network in 0.1-1.5 s on one CPU core (NB201 at batch 64; the
measures and their references: :mod:`._proxy_measures`); the data-dependent ones see one
minibatch of scikit-learn's bundled digits or of Gaussian noise (:mod:`._proxy_data`),
``synflow`` none.
The network is built from the design's NAS parameters only, with weights drawn from
``torch.manual_seed(seed)``, so a score depends on the NAS half of the design and the seed and
on nothing else (not on the order designs are scored in).

Public API:

* :func:`proxy_scores` ``(space, designs, proxy, seed=0) -> (n,)`` raw scores (higher: expected
  to train better); :func:`proxy_matrix` several proxies at once (shared passes).
* :class:`ProxyAccuracy`, registered as ``accuracy = { source = "proxy", proxy = "synflow" }``:
  the score mapped monotonically to (0, 100) by comparing it with the scores of a fixed random
  sample of the space (``reference_size`` designs, drawn with ``seed``, scored once per
  process): ``100 * Phi(z)``, ``z`` the robust z-score (median, 1.4826 x MAD) of the score
  (``log`` of the score for the gradient-sum proxies, which span orders of magnitude) among
  the sample's. It reads as the design's estimated percentile in the space; being a smooth
  function of ``z`` it keeps designs better than every reference design apart up to z ~ 8,
  where Phi rounds to 1 (an empirical percentile would tie them all at 100).
  :class:`ProxyReference` holds that map.
* ``proxy = "combined"``: the mean of the robust z-scores of :data:`COMBINED` (each relative to
  the reference sample), mapped the same way; the default. On 700 held-out NAS-Bench-201 cells
  it ranks by CIFAR-10 accuracy with Spearman 0.885 against 0.770 for the best single proxy,
  and it needs no trained accuracies (``benchmarks/results/proxies.md``).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from ..models import build_model, model_layers
from ..space import JointSpace, list_spaces, load_space
from ._proxy_data import DATA, minibatch
from ._proxy_measures import MEASURES, measure
from ._registry import register_source

if TYPE_CHECKING:
    import torch

__all__ = ["COMBINED", "DEFAULT_PROXY", "LOG_SCALE", "MEASURES", "PROXIES", "ProxyAccuracy",
           "ProxyReference", "proxy_matrix", "proxy_scores", "robust_scale", "transform"]

#: Accepted ``proxy`` values: one measure or ``"combined"``.
PROXIES: tuple[str, ...] = MEASURES + ("combined",)
#: The measures ``"combined"`` averages (robust z-scores, equal weights): the subset of the five
#: whose rank-average ranked the 300 fitting cells of ``benchmarks/bench_proxies.py`` best.
COMBINED: tuple[str, ...] = ("synflow", "jacob_cov")
#: What ``accuracy = { source = "proxy" }`` uses when no proxy is named.
DEFAULT_PROXY = "combined"
#: Proxies compared on a log scale (positive sums over weights spanning orders of magnitude).
LOG_SCALE: frozenset[str] = frozenset({"synflow", "grad_norm", "snip"})
#: Classes of the head the proxies score (the digits' ten).
NUM_CLASSES = 10
_MAD_TO_SD = 1.4826


def _space(space: JointSpace | str | Path) -> JointSpace:
    if isinstance(space, JointSpace):
        return space
    if isinstance(space, (str, Path)):
        return load_space(space)
    raise ValueError(f"space must be a JointSpace or a space name / TOML path, got {space!r}")


def _check(proxy: str, seed: Any, batch_size: Any, data: Any) -> None:
    if proxy not in PROXIES:
        raise ValueError(f"proxy must be one of {list(PROXIES)}, got {proxy!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"proxy seed must be a non-negative integer, got {seed!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise ValueError(f"proxy batch_size must be an integer >= 2, got {batch_size!r}")
    if data not in DATA:
        raise ValueError(f"proxy data must be one of {list(DATA)}, got {data!r}")


def _score_one(space: JointSpace, design: Mapping[str, Any], names: Sequence[str], seed: int,
               batch_size: int, data: str, resolution: int | None, task: int | None,
               batches: dict[tuple[int, int], tuple["torch.Tensor", "torch.Tensor"]]
               ) -> list[float]:
    import torch

    stem = model_layers(space, design, NUM_CLASSES, resolution, task=task)[0]
    shape = (stem.in_ch, stem.in_h)
    if shape not in batches:
        batches[shape] = minibatch(data, batch_size, stem.in_ch, stem.in_h, NUM_CLASSES, seed)
    inputs, targets = batches[shape]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(space, design, NUM_CLASSES, resolution, task=task)
    scores = measure(model, inputs, targets, names)
    return [scores[n] for n in names]


def proxy_matrix(space: JointSpace | str | Path, designs: Iterable[Mapping[str, Any]],
                 proxies: Sequence[str] = MEASURES, seed: int = 0, *, batch_size: int = 64,
                 data: str = "digits", resolution: int | None = None,
                 task: int | None = None) -> np.ndarray:
    """Raw scores ``(n_designs, len(proxies))`` of several measures, each network built once
    and shared passes computed once (see :func:`proxy_scores` for the arguments)."""
    names = tuple(proxies)
    for name in names:
        if name not in MEASURES:
            raise ValueError(f"proxy_matrix takes measures {list(MEASURES)}, got {name!r}")
        _check(name, seed, batch_size, data)
    sp = _space(space)
    batches: dict[tuple[int, int], tuple[Any, Any]] = {}
    rows = [_score_one(sp, d, names, seed, batch_size, data, resolution, task, batches)
            for d in designs]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(names))


def proxy_scores(space: JointSpace | str | Path, designs: Iterable[Mapping[str, Any]],
                 proxy: str, seed: int = 0, *, batch_size: int = 64, data: str = "digits",
                 resolution: int | None = None, task: int | None = None,
                 reference_size: int = 64) -> np.ndarray:
    """Zero-cost proxy scores of ``designs`` (higher: expected to train to a higher accuracy).

    Args:
        space: the designs' space (a :class:`JointSpace`, or a built-in name / TOML path).
        designs: parameter dicts; only their NAS parameters are read.
        proxy: one of :data:`PROXIES`. ``"combined"`` gives the mean robust z-score of
            :data:`COMBINED` relative to the space's reference sample (which it scores first).
        seed: seeds the weights (``torch.manual_seed``), the minibatch and the reference sample.
        batch_size: minibatch size of the data-dependent proxies (64, as Abdelfattah et al.).
        data: ``"digits"`` (scikit-learn's bundled digits) or ``"noise"`` (Gaussian).
        resolution: input side (None: the family's own, 32 for NB201).
        task: which task's network of a NASAIC workload (0 or 1).
        reference_size: designs in the reference sample (``"combined"`` only).

    Returns:
        float64 array, one score per design; ``-inf`` where a measure is undefined for the
        network (:mod:`._proxy_measures`).

    Raises:
        ValueError: an unknown proxy or data, a bad size or seed, a design outside the space,
            a family :func:`~moo_cosearch.models.build_model` cannot build.
    """
    _check(proxy, seed, batch_size, data)
    sp = _space(space)
    if proxy != "combined":
        return proxy_matrix(sp, designs, (proxy,), seed, batch_size=batch_size, data=data,
                            resolution=resolution, task=task)[:, 0]
    ref = _reference(sp, COMBINED, seed, batch_size, data, resolution, task, reference_size)
    raw = proxy_matrix(sp, designs, COMBINED, seed, batch_size=batch_size, data=data,
                       resolution=resolution, task=task)
    return ref.combined(raw)


def transform(raw: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Scores ``(n, len(names))`` on the scale proxies are compared on: ``log`` for
    :data:`LOG_SCALE`, as they are otherwise; NaN becomes ``-inf``."""
    out = np.array(raw, dtype=np.float64, copy=True).reshape(-1, len(names))
    for j, name in enumerate(names):
        if name in LOG_SCALE:
            with np.errstate(divide="ignore", invalid="ignore"):
                out[:, j] = np.log(out[:, j])
    out[np.isnan(out)] = -math.inf
    return out


def robust_scale(values: np.ndarray, what: str) -> tuple[float, float]:
    """(median, 1.4826 x MAD) of the finite ``values`` (the standard deviation where the MAD
    is 0); ValueError when fewer than two differ."""
    finite = values[np.isfinite(values)]
    if finite.size >= 2:
        center = float(np.median(finite))
        scale = _MAD_TO_SD * float(np.median(np.abs(finite - center)))
        scale = scale if scale > 0 else float(np.std(finite))
        if scale > 0:
            return center, scale
    raise ValueError(f"{what} cannot tell the reference designs apart ({finite.size} finite "
                     f"scores of {values.size}, all equal): use more reference designs or "
                     f"another proxy")


class ProxyReference:
    """The map of raw scores to (0, 100): robust centre and scale (:func:`robust_scale`) of
    each measure's :func:`transform`-ed score over a reference sample, and of their mean z.

    Args:
        names: the measures, one column each of ``raw``; several: the ``combined`` score.
        raw: raw scores of the reference designs, ``(n, len(names))``.

    Raises:
        ValueError: a measure (or the mean z) that is the same on every reference design.
    """

    def __init__(self, names: Sequence[str], raw: np.ndarray) -> None:
        self.names = tuple(names)
        t = transform(raw, self.names)
        self.stats = [robust_scale(t[:, j], f"proxy {n!r}") for j, n in enumerate(self.names)]
        self.mean_stats = robust_scale(self.combined(raw), "the combined proxy")

    def z(self, raw: np.ndarray) -> np.ndarray:
        """Robust z-scores ``(n, len(names))`` of raw scores."""
        t = transform(raw, self.names)
        return np.stack([(t[:, j] - c) / s for j, (c, s) in enumerate(self.stats)], axis=1)

    def combined(self, raw: np.ndarray) -> np.ndarray:
        """Mean z-score over the measures (``-inf`` if any is)."""
        return self.z(raw).mean(axis=1)

    def percent(self, raw: np.ndarray) -> np.ndarray:
        """``100 * Phi(z)`` of the single measure, or of the combined score's robust z."""
        from scipy.special import ndtr

        if len(self.names) == 1:
            return 100.0 * ndtr(self.z(raw)[:, 0])
        c, s = self.mean_stats
        return 100.0 * ndtr((self.combined(raw) - c) / s)


_REFERENCES: dict[tuple, ProxyReference] = {}
_log = logging.getLogger(__name__)


def _reference(space: JointSpace, names: Sequence[str], seed: int, batch_size: int, data: str,
               resolution: int | None, task: int | None, size: int) -> ProxyReference:
    """The reference statistics of ``space`` (scored once per process and arguments)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"proxy reference_size must be an integer >= 8, got {size!r}")
    key = (space.definition_hash, tuple(names), seed, batch_size, data, resolution, task, size)
    if key not in _REFERENCES:
        designs = space.sample(size, seed=seed)
        _log.info("proxy accuracy: scoring %d random %s networks as the reference sample "
                  "(once per process; minutes on a CPU for large networks)", size, space.name)
        rows, start, said = [], time.monotonic(), time.monotonic()
        for i in range(0, size, 4):    # in chunks, to say how far it got
            rows.append(proxy_matrix(space, designs[i:i + 4], names, seed,
                                     batch_size=batch_size, data=data, resolution=resolution,
                                     task=task))
            if time.monotonic() - said > 10 and i + 4 < size:
                said = time.monotonic()
                _log.info("proxy accuracy: %d of %d reference networks scored (%.0f s)",
                          i + 4, size, said - start)
        _REFERENCES[key] = ProxyReference(names, np.concatenate(rows))
    return _REFERENCES[key]


def _infer_space(design: Mapping[str, Any]) -> JointSpace:
    """The built-in space whose parameter names are exactly the design's keys."""
    keys = set(design)
    found = [s for s in map(load_space, list_spaces()) if set(s.names) == keys]
    if len(found) != 1:
        raise ValueError(f"the proxy source needs the space: name it as accuracy = {{source = "
                         f"\"proxy\", space = \"...\"}} ({len(found)} built-in spaces have "
                         f"exactly the design's parameters {sorted(keys)})")
    return found[0]


class ProxyAccuracy:
    """Accuracy source ``proxy``: a design's zero-cost proxy score mapped to (0, 100).

    Args:
        proxy: one of :data:`PROXIES` (default :data:`DEFAULT_PROXY`).
        seed: seeds weights, minibatch and reference sample.
        batch_size: minibatch size of the data-dependent proxies.
        data: ``"digits"`` or ``"noise"`` (:mod:`._proxy_data`).
        space: the space's name or TOML path (or a JointSpace); None: the built-in space whose
            parameter names are the design's keys.
        task: NASAIC workloads: which task's network (0 or 1).
        resolution: input side (None: the family's own).
        reference_size: random designs of the space the scores are compared with.

    Construction only checks the options; the reference sample is scored on the first call
    (``reference_size`` networks, once per process).
    """

    def __init__(self, proxy: str = DEFAULT_PROXY, seed: int = 0, batch_size: int = 64,
                 data: str = "digits", space: JointSpace | str | None = None,
                 task: int | None = None, resolution: int | None = None,
                 reference_size: int = 64) -> None:
        _check(proxy, seed, batch_size, data)
        if isinstance(reference_size, bool) or not isinstance(reference_size, int) \
                or reference_size < 8:
            raise ValueError(f"proxy reference_size must be an integer >= 8, "
                             f"got {reference_size!r}")
        for name, value in (("task", task), ("resolution", resolution)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):
                raise ValueError(f"proxy {name} must be a non-negative integer, got {value!r}")
        self.proxy, self.seed, self.batch_size, self.data = proxy, seed, batch_size, data
        self.space = _space(space) if space is not None else None
        self.task, self.resolution, self.reference_size = task, resolution, reference_size
        self.names = COMBINED if proxy == "combined" else (proxy,)
        self._inferred: dict[frozenset[str], JointSpace] = {}

    def __call__(self, design: Mapping[str, Any]) -> float:
        space = self.space
        if space is None:
            keys = frozenset(design)
            if keys not in self._inferred:
                self._inferred[keys] = _infer_space(design)
            space = self._inferred[keys]
        ref = _reference(space, self.names, self.seed, self.batch_size, self.data,
                         self.resolution, self.task, self.reference_size)
        raw = proxy_matrix(space, [design], self.names, self.seed, batch_size=self.batch_size,
                           data=self.data, resolution=self.resolution, task=self.task)
        return float(ref.percent(raw)[0])


register_source("proxy", ProxyAccuracy, "zero-cost proxy of the untrained network (synflow, "
                "naswot, jacob_cov, grad_norm, snip or combined), as a percentile in the space")
