"""Accuracy from the packaged NAS-Bench-201 table (source ``nb201``)."""

from __future__ import annotations

from typing import Any, Mapping

from ..networks import nb201
from ._registry import register_source

__all__ = ["NB201Table"]


class NB201Table:
    """Look up NAS-Bench-201 accuracy (%) by the ``edge0``..``edge5`` parameters.

    Args:
        metric: one of :data:`moo_cosearch.networks.nb201.BENCHMARK_METRICS` (default CIFAR-10
            test accuracy after 200 epochs).

    Every one of the 15,625 cells has its own trained accuracy in the benchmark, isomorphic
    cells included, and a lookup costs nothing: the cache keys the table by cell, not by
    isomorphism class (``by_network_identity = False``), so a design's accuracy never
    depends on which isomorph a study met first.
    """

    #: Whether caches may share one value among isomorphic networks (see the class docstring).
    by_network_identity = False

    def __init__(self, metric: str = "cifar10_test_200ep") -> None:
        if metric not in nb201.BENCHMARK_METRICS:
            raise ValueError(f"NAS-Bench-201 metric must be one of "
                             f"{list(nb201.BENCHMARK_METRICS)}, got {metric!r}")
        self.metric = metric

    def arch_str(self, design: Mapping[str, Any]) -> str:
        return nb201.arch_str(nb201.design_ops(design))

    def index(self, design: Mapping[str, Any]) -> int:
        """The NAS-Bench-201 index of the design's cell."""
        return int(nb201.benchmark_rows()[self.arch_str(design)]["index"])

    def __call__(self, design: Mapping[str, Any]) -> float:
        return nb201.benchmark_rows()[self.arch_str(design)][self.metric]

    def __len__(self) -> int:
        return len(nb201.benchmark_rows())


register_source("nb201", NB201Table, "NAS-Bench-201 table (15,625 cells; metric = column)")
