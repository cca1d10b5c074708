"""The shared per-network accuracy cache."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from ._registry import AccuracyFn

__all__ = ["CachedAccuracy"]


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
