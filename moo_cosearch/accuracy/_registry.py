"""Accuracy-source registry: objective sets name a source (``accuracy = {source = ..., ...}``)
and its options; :func:`make_accuracy` builds it, :func:`check_spec` validates a spec when the
objective set loads (before any trial runs)."""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .._lazy import BuiltinModules
__all__ = ["AccuracyFn", "AccuracySource", "check_spec", "list_sources", "make_accuracy",
           "register_source"]

#: An accuracy source: a design dict → accuracy in percent.
AccuracyFn = Callable[[Mapping[str, Any]], float]


@dataclass(frozen=True)
class AccuracySource:
    """A registered source.

    Attributes:
        name: what objective sets write as ``source``.
        factory: ``factory(**options) -> AccuracyFn``; construction must be cheap (heavy work,
            such as loading a dataset, happens on the first call) because :func:`check_spec`
            builds one to validate the options.
        description: one line for listings.
        check: optional ``check(**options)`` used by :func:`check_spec` instead of building the
            source (for sources that can only be completed at run time).
    """

    name: str
    factory: Callable[..., AccuracyFn]
    description: str = ""
    check: Callable[..., None] | None = None


#: Modules of this package that register the built-in sources, imported on the first look at
#: the registry (so ``import moo_cosearch`` loads no table and no torch).
BUILTIN_MODULES = ("table", "_user", "training", "fidelity", "multitask", "proxies",
                   "predictor")

_SOURCES: dict[str, AccuracySource] = {}
_BUILTINS = BuiltinModules(__package__, BUILTIN_MODULES)


def _sources() -> dict[str, AccuracySource]:
    """The registry, after the built-in modules registered themselves (once)."""
    _BUILTINS.load()
    return _SOURCES


def register_source(name: str, factory: Callable[..., AccuracyFn], description: str = "",
                    check: Callable[..., None] | None = None) -> None:
    """Make ``accuracy = {source = name, **options}`` build ``factory(**options)``."""
    _SOURCES[name] = AccuracySource(name, factory, description, check)


def list_sources() -> dict[str, str]:
    """Registered source names with a one-line description each."""
    return {name: s.description for name, s in sorted(_sources().items())}


def _split(spec: Mapping[str, Any]) -> tuple[AccuracySource, dict[str, Any]]:
    if not isinstance(spec, Mapping):
        raise ValueError(f"an accuracy spec must be a table like {{source = \"nb201\"}}, "
                         f"got {spec!r}")
    name = spec.get("source")
    sources = _sources()
    if name not in sources:
        raise ValueError(f"accuracy source must be one of {sorted(sources)}, got {name!r}")
    source = sources[name]
    accuracy_range(spec)
    options = {k: v for k, v in spec.items() if k not in ("source", "range")}
    try:
        inspect.signature(source.factory).bind(**options)
    except TypeError:
        params = [p for p in inspect.signature(source.factory).parameters]
        raise ValueError(f"accuracy source {name!r} takes options {params}, got "
                         f"{sorted(options)}") from None
    return source, options


#: Accuracy values a source may return unless its spec declares ``range = [low, high]``.
DEFAULT_RANGE = (0.0, 100.0)


def accuracy_range(spec: Mapping[str, Any] | None) -> tuple[float, float]:
    """The ``range = [low, high]`` an accuracy spec declares (default :data:`DEFAULT_RANGE`,
    percent); a value outside it fails the trial. ValueError when malformed."""
    value = spec.get("range", DEFAULT_RANGE) if isinstance(spec, Mapping) else DEFAULT_RANGE
    ok = (isinstance(value, (list, tuple)) and len(value) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                  for v in value) and value[0] < value[1])
    if not ok:
        raise ValueError(f"accuracy range must be [low, high] with finite low < high, "
                         f"got {value!r}")
    return float(value[0]), float(value[1])


def check_spec(spec: Mapping[str, Any]) -> None:
    """Validate an accuracy spec (known source, accepted options, valid values) without
    evaluating anything; raises ValueError stating the rule and the value."""
    source, options = _split(spec)
    if source.check is not None:
        source.check(**options)
    else:
        source.factory(**options)


def make_accuracy(spec: Mapping[str, Any] | AccuracyFn, space: Any = None) -> AccuracyFn:
    """An accuracy source from an objective-set spec (``{source = "nb201", metric = ...}``)
    or a user callable (returned as is). A source whose factory takes ``space`` (it builds the
    design's network) gets ``space`` unless the spec names one."""
    if callable(spec):
        return spec
    source, options = _split(spec)
    if space is not None and "space" not in options \
            and "space" in inspect.signature(source.factory).parameters:
        options["space"] = space
    return source.factory(**options)
