"""The shared per-network accuracy cache."""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Any, Callable, Mapping, Sequence

from ._registry import AccuracyFn

__all__ = ["CachedAccuracy"]


class CachedAccuracy:
    """Memoise an accuracy source by architecture key (the values of the NAS parameters).

    Args:
        fn: the accuracy source.
        nas_params: names of the parameters that determine the network.
        valid: the range a value must lie in (inclusive); anything else (a bool, a
            non-number, NaN, infinity, a value outside) raises ``ValueError``: the trial
            fails with the message, and nothing is cached.
    """

    def __init__(self, fn: AccuracyFn, nas_params: Sequence[str],
                 valid: tuple[float, float] = (0.0, 100.0)) -> None:
        self.fn = fn
        self.valid = valid
        try:
            self._reports = "report" in inspect.signature(fn).parameters
        except (TypeError, ValueError):      # a builtin or C callable: no report keyword
            self._reports = False
        self.nas_params = tuple(nas_params)
        self._cache: dict[tuple, float] = {}
        self.calls = 0

    def key(self, design: Mapping[str, Any]) -> tuple:
        return tuple(design[n] for n in self.nas_params)

    def __call__(self, design: Mapping[str, Any],
                 report: Callable[[int, float], None] | None = None) -> float:
        """The accuracy of ``design``'s network (evaluated once per network). ``report(step,
        value)`` reaches sources that take a ``report`` keyword (training reports each
        epoch; it raises ``optuna.TrialPruned`` when the study's pruner says stop)."""
        key = self.key(design)
        if key not in self._cache:
            raw = self.fn(design, report=report) if report is not None and self._reports \
                else self.fn(design)
            self.calls += 1
            lo, hi = self.valid
            if isinstance(raw, bool) or not isinstance(raw, numbers.Real):
                raise ValueError(f"accuracy source returned {raw!r} for architecture {key}, "
                                 f"not a number")
            value = float(raw)
            if not (math.isfinite(value) and lo <= value <= hi):
                raise ValueError(f"accuracy source returned {value!r} for architecture {key}, "
                                 f"outside the declared range [{lo:g}, {hi:g}]")
            self._cache[key] = value
        return self._cache[key]
