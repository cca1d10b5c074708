"""The per-network accuracy cache, shared through the study by every worker."""

from __future__ import annotations

import hashlib
import inspect
import math
import numbers
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ._registry import AccuracyFn

if TYPE_CHECKING:
    import optuna

__all__ = ["CachedAccuracy", "NETWORK_ATTR"]

#: Trial user attr holding the evaluated network's identity (with ``accuracy`` beside it).
NETWORK_ATTR = "network"


class CachedAccuracy:
    """Evaluate each network once: memoise an accuracy source by the network's identity.

    Accuracy depends only on the NAS half of a design, so designs that differ only in their
    accelerator share one entry, and so do networks that compute the same function
    (``identity``: e.g. NAS-Bench-201 cells that differ only in dead edges). Through
    :meth:`absorb`, every accuracy already in a study (other workers, an earlier run) is a
    hit too: each evaluated trial carries its network's identity (user attr ``network``) next
    to its ``accuracy``.

    Args:
        fn: the accuracy source.
        nas_params: names of the parameters that determine the network.
        valid: the range a value must lie in (inclusive); anything else (a bool, a
            non-number, NaN, infinity, a value outside) raises ``ValueError``: the trial
            fails with the message, and nothing is cached.
        identity: design → string naming its network up to isomorphism (default: the NAS
            parameter values); ignored for a source whose ``by_network_identity`` attribute
            is False (a table of independently trained cells).

    Attributes:
        calls: evaluations of ``fn`` in this process.
        hits: answers from the cache (this process's or the study's evaluations).
    """

    def __init__(self, fn: AccuracyFn, nas_params: Sequence[str],
                 valid: tuple[float, float] = (0.0, 100.0),
                 identity: Callable[[Mapping[str, Any]], str] | None = None) -> None:
        self.fn = fn
        self.valid = valid
        try:
            self._reports = "report" in inspect.signature(fn).parameters
        except (TypeError, ValueError):      # a builtin or C callable: no report keyword
            self._reports = False
        self.nas_params = tuple(nas_params)
        self._identity = identity if getattr(fn, "by_network_identity", True) else None
        self._cache: dict[str, float] = {}
        self._absorbed: dict[str, set[int]] = {}
        self.calls = 0
        self.hits = 0

    def key(self, design: Mapping[str, Any]) -> str:
        """The cache key of ``design``'s network: a short hash of its identity."""
        text = (self._identity(design) if self._identity is not None
                else repr(tuple(design[n] for n in self.nas_params)))
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def absorb(self, study: "optuna.Study") -> None:
        """Add the accuracy of every evaluated trial of ``study`` not seen yet to the cache."""
        from optuna.trial import TrialState

        seen = self._absorbed.setdefault(study.study_name, set())
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if t.number in seen:
                continue
            seen.add(t.number)
            key, value = t.user_attrs.get(NETWORK_ATTR), t.user_attrs.get("accuracy")
            if isinstance(key, str) and isinstance(value, (int, float)):
                self._cache.setdefault(key, float(value))

    def __contains__(self, design: Mapping[str, Any]) -> bool:
        return self.key(design) in self._cache

    def __call__(self, design: Mapping[str, Any],
                 report: Callable[[int, float], None] | None = None) -> float:
        """The accuracy of ``design``'s network (evaluated once per network). ``report(step,
        value)`` reaches sources that take a ``report`` keyword (training reports each
        epoch; it raises ``optuna.TrialPruned`` when the study's pruner says stop)."""
        key = self.key(design)
        if key in self._cache:
            self.hits += 1
            return self._cache[key]
        raw = self.fn(design, report=report) if report is not None and self._reports \
            else self.fn(design)
        self.calls += 1
        lo, hi = self.valid
        what = tuple(design[n] for n in self.nas_params)
        if isinstance(raw, bool) or not isinstance(raw, numbers.Real):
            raise ValueError(f"accuracy source returned {raw!r} for architecture {what}, "
                             f"not a number")
        value = float(raw)
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"accuracy source returned {value!r} for architecture {what}, "
                             f"outside the declared range [{lo:g}, {hi:g}]")
        self._cache[key] = value
        return value
