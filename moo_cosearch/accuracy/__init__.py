"""Accuracy sources: a registry (like the cost backends) of ``design dict -> percent``
functions, with a per-network cache.

Built in: ``nb201`` (the NAS-Bench-201 table, :mod:`.table`) and ``callable`` (your function,
:mod:`._user`). A new source is one new module that calls :func:`register_source`, plus its
name in ``_registry.BUILTIN_MODULES`` (the built-in sources load on the first look at the
registry); objective sets then name it as ``accuracy = {source = "...", ...}`` and
:func:`check_spec` validates that when the set loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr
from ._cache import NETWORK_ATTR, CachedAccuracy
from ._registry import (DEFAULT_RANGE, AccuracyFn, AccuracySource, accuracy_range, check_spec,
                        list_sources, make_accuracy, register_source)

if TYPE_CHECKING:
    from .fidelity import NB201MultiFidelity
    from .multitask import MultiTaskAccuracy
    from .predictor import PredictorAccuracy, fit_predictor
    from .proxies import ProxyAccuracy, proxy_scores
    from .table import NB201Table
    from .training import TrainedAccuracy

_HOMES = {"NB201MultiFidelity": "fidelity", "MultiTaskAccuracy": "multitask",
          "ProxyAccuracy": "proxies", "proxy_scores": "proxies", "NB201Table": "table",
          "TrainedAccuracy": "training", "PredictorAccuracy": "predictor",
          "fit_predictor": "predictor"}

__all__ = ["DEFAULT_RANGE", "NETWORK_ATTR", "AccuracyFn", "AccuracySource", "CachedAccuracy",
           "MultiTaskAccuracy", "NB201MultiFidelity", "NB201Table", "PredictorAccuracy",
           "ProxyAccuracy", "TrainedAccuracy", "accuracy_range", "check_spec", "fit_predictor",
           "list_sources", "make_accuracy", "proxy_scores", "register_source"]


__getattr__ = lazy_getattr(__name__, _HOMES)
