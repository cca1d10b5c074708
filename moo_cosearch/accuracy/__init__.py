"""Accuracy sources: a registry (like the cost backends) of ``design dict -> percent``
functions, with a per-network cache.

Built in: ``nb201`` (the NAS-Bench-201 table, :mod:`.table`) and ``callable`` (your function,
:mod:`._user`). A new source is one new module that calls :func:`register_source`, plus its
import line below; objective sets then name it as ``accuracy = {source = "...", ...}`` and
:func:`check_spec` validates that when the set loads.
"""

from __future__ import annotations

from ._cache import NETWORK_ATTR, CachedAccuracy
from ._registry import (DEFAULT_RANGE, AccuracyFn, AccuracySource, accuracy_range, check_spec,
                        list_sources, make_accuracy, register_source)

# The built-in sources register themselves on import.
from . import table, _user, training, fidelity, multitask, proxies  # noqa: E402,F401  (isort: skip)
from .fidelity import NB201MultiFidelity  # noqa: E402
from .multitask import MultiTaskAccuracy  # noqa: E402
from .proxies import ProxyAccuracy, proxy_scores  # noqa: E402
from .table import NB201Table  # noqa: E402
from .training import TrainedAccuracy  # noqa: E402

__all__ = ["DEFAULT_RANGE", "NETWORK_ATTR", "AccuracyFn", "AccuracySource", "CachedAccuracy",
           "MultiTaskAccuracy", "NB201MultiFidelity", "NB201Table", "ProxyAccuracy",
           "TrainedAccuracy", "accuracy_range", "check_spec", "list_sources", "make_accuracy",
           "proxy_scores", "register_source"]
