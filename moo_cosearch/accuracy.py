"""Accuracy sources: the NAS-Bench-201 table (package data) and user callables.

An accuracy source is any callable ``design dict -> float`` (percent). :class:`CachedAccuracy`
wraps one so that designs sharing the same network (the NAS parameters) are evaluated once.
"""

from __future__ import annotations

import csv
import gzip
import math
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Mapping, Sequence

from .networks import NB201_OPS

__all__ = ["NB201_METRICS", "NB201_OPS", "nb201_arch_str", "NB201Table", "CachedAccuracy",
           "make_accuracy"]

NB201_METRICS = ("cifar10_test_200ep", "cifar100_test_200ep", "imagenet16_test_200ep",
                 "cifar10_test_12ep", "cifar10_val_12ep", "cifar100_test_12ep",
                 "cifar100_val_12ep", "imagenet16_test_12ep", "imagenet16_val_12ep")

AccuracyFn = Callable[[Mapping[str, Any]], float]


def nb201_arch_str(edges: Sequence[str]) -> str:
    """The standard cell string ``|e0~0|+|e1~0|e2~1|+|e3~0|e4~1|e5~2|`` for six edge ops."""
    if len(edges) != 6:
        raise ValueError(f"a NAS-Bench-201 cell has 6 edges, got {len(edges)}")
    for e in edges:
        if e not in NB201_OPS:
            raise ValueError(f"NAS-Bench-201 ops must be one of {list(NB201_OPS)}, got {e!r}")
    e = edges
    return f"|{e[0]}~0|+|{e[1]}~0|{e[2]}~1|+|{e[3]}~0|{e[4]}~1|{e[5]}~2|"


@lru_cache(maxsize=1)
def _nb201_rows() -> dict[str, dict[str, float]]:
    path = resources.files("moo_cosearch.data") / "nb201_accuracy.csv.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", newline="") as fh:
        return {row["arch_str"]: {m: float(row[m]) for m in NB201_METRICS + ("index",)}
                for row in csv.DictReader(fh)}


class NB201Table:
    """Look up NAS-Bench-201 accuracy (%) by the ``edge0``..``edge5`` parameters.

    Args:
        metric: one of :data:`NB201_METRICS` (default CIFAR-10 test accuracy after 200 epochs).
    """

    def __init__(self, metric: str = "cifar10_test_200ep") -> None:
        if metric not in NB201_METRICS:
            raise ValueError(f"NAS-Bench-201 metric must be one of {list(NB201_METRICS)}, "
                             f"got {metric!r}")
        self.metric = metric

    def arch_str(self, design: Mapping[str, Any]) -> str:
        try:
            edges = [design[f"edge{i}"] for i in range(6)]
        except KeyError as e:
            raise ValueError(f"NAS-Bench-201 lookup needs parameters edge0..edge5, "
                             f"missing {e.args[0]!r}") from None
        return nb201_arch_str(edges)

    def index(self, design: Mapping[str, Any]) -> int:
        """The NAS-Bench-201 index of the design's cell."""
        return int(_nb201_rows()[self.arch_str(design)]["index"])

    def __call__(self, design: Mapping[str, Any]) -> float:
        return _nb201_rows()[self.arch_str(design)][self.metric]

    def __len__(self) -> int:
        return len(_nb201_rows())


class CachedAccuracy:
    """Memoise an accuracy source by architecture key (the values of the NAS parameters).

    Args:
        fn: the accuracy source.
        nas_params: names of the parameters that determine the network.
    """

    def __init__(self, fn: AccuracyFn, nas_params: Sequence[str]) -> None:
        self.fn = fn
        self.nas_params = tuple(nas_params)
        self._cache: dict[tuple, float] = {}
        self.calls = 0

    def key(self, design: Mapping[str, Any]) -> tuple:
        return tuple(design[n] for n in self.nas_params)

    def __call__(self, design: Mapping[str, Any]) -> float:
        key = self.key(design)
        if key not in self._cache:
            value = float(self.fn(design))
            self.calls += 1
            if not math.isfinite(value):
                raise ValueError(f"accuracy source returned a non-finite value {value!r} "
                                 f"for architecture {key}")
            self._cache[key] = value
        return self._cache[key]


def make_accuracy(spec: Mapping[str, Any] | AccuracyFn) -> AccuracyFn:
    """An accuracy source from an objectives-file spec (``{source = "nb201", metric = ...}``)
    or a user callable (returned as is)."""
    if callable(spec):
        return spec
    source = spec.get("source")
    if source == "nb201":
        return NB201Table(spec.get("metric", "cifar10_test_200ep"))
    if source == "callable":
        raise ValueError("accuracy source 'callable' needs the callable itself: pass "
                         "accuracy=fn to make_objective")
    raise ValueError(f"accuracy source must be one of ['nb201', 'callable'], got {source!r}")
