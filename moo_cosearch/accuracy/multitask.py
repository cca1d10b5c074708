"""NASAIC's weighted multi-task accuracy (source ``multitask``).

A NASAIC workload holds one network per task (design parameters ``t0_*``, ``t1_*``); NASAIC
scores a joint design by a weighted sum of the tasks' accuracies. This source evaluates one
inner source per task (the same spec with ``task = j``: ``proxy`` or ``train``, which build
the task's network) and returns ``sum_j w_j * acc_j / sum_j w_j``::

    accuracy = { source = "multitask", task_source = { source = "proxy" }, weights = [0.5, 0.5] }

The per-task values of the last design are kept in :attr:`MultiTaskAccuracy.last` (and the
objective records them as user attrs ``accuracy_t0``, ``accuracy_t1``).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

from ._registry import check_spec, make_accuracy, register_source

__all__ = ["MultiTaskAccuracy"]


def _check(task_source: Mapping[str, Any] | None = None,
           weights: Sequence[float] = (0.5, 0.5), space: Any = None) -> None:
    if not isinstance(task_source, Mapping):
        raise ValueError("multitask needs task_source = { source = ... } (e.g. proxy or train)")
    if task_source.get("source") == "multitask":
        raise ValueError("multitask's task_source cannot be multitask")
    if "task" in task_source:
        raise ValueError("multitask sets task_source's task itself (0, 1, ...); leave it out")
    check_spec(task_source)
    if (not isinstance(weights, (list, tuple)) or len(weights) < 1
            or not all(isinstance(w, (int, float)) and not isinstance(w, bool)
                       and math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0):
        raise ValueError(f"multitask weights must be non-negative numbers, not all zero, got "
                         f"{weights!r}")


class MultiTaskAccuracy:
    """Weighted accuracy over a workload's tasks (see the module docstring).

    Args:
        task_source: the inner source spec, evaluated with ``task = j`` for task ``j``.
        weights: one non-negative weight per task (NASAIC's reward weights).
        space: the workload space (given by the objective).
    """

    def __init__(self, task_source: Mapping[str, Any] | None = None,
                 weights: Sequence[float] = (0.5, 0.5), space: Any = None) -> None:
        _check(task_source, weights)
        assert task_source is not None
        self.weights = [float(w) for w in weights]
        self.sources: list[Callable[..., float]] = [
            make_accuracy({**task_source, "task": j}, space=space)
            for j in range(len(self.weights))]
        self.last: dict[str, float] = {}

    def __call__(self, design: Mapping[str, Any]) -> float:
        values = [float(source(design)) for source in self.sources]
        self.last = {f"accuracy_t{j}": v for j, v in enumerate(values)}
        return sum(w * v for w, v in zip(self.weights, values)) / sum(self.weights)


register_source("multitask", MultiTaskAccuracy,
                "NASAIC: weighted accuracy of a workload's tasks (task_source per task)",
                check=_check)
