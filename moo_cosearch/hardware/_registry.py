"""Backend registry: names (and name prefixes such as ``surrogate:``) → cost backends."""

from __future__ import annotations

from typing import Callable

from .._lazy import BuiltinModules
from ._base import CostBackend

__all__ = ["backend_metrics", "get_backend", "list_backends", "register_backend",
           "register_backend_prefix"]

#: Modules of this package that register the built-in backends, imported on the first look
#: at the registry (so ``import moo_cosearch`` loads no cost model).
BUILTIN_MODULES = ("edge", "dataflow", "dpu", "eyeriss", "fpga", "hetero", "multifpga", "table",
                   "zigzag")

_BACKENDS: dict[str, Callable[[], CostBackend]] = {}
_BUILTINS = BuiltinModules(__package__, BUILTIN_MODULES)


def _backends() -> dict[str, Callable[[], CostBackend]]:
    """The registry, after the built-in modules registered themselves (once)."""
    _BUILTINS.load()
    return _BACKENDS
#: prefix → factory(rest of the name): e.g. ``surrogate:PATH`` → a saved MLP surrogate.
_PREFIXES: dict[str, Callable[[str], CostBackend]] = {}


def register_backend(name: str, factory: Callable[[], CostBackend]) -> None:
    """Make ``get_backend(name)`` return ``factory()``."""
    _BACKENDS[name] = factory


def register_backend_prefix(prefix: str, factory: Callable[[str], CostBackend]) -> None:
    """Make ``get_backend(prefix + rest)`` return ``factory(rest)`` (e.g. ``surrogate:``)."""
    _PREFIXES[prefix] = factory


def list_backends() -> list[str]:
    """Names of the registered backends (prefixed names not included)."""
    return sorted(_backends())


def _unknown(name: object) -> ValueError:
    _BUILTINS.load()
    forms = "".join(f" or '{p}...'" for p in sorted(_PREFIXES))
    return ValueError(f"cost backend must be one of {list_backends()}{forms}, got {name!r}")


def _prefixed(name: str) -> tuple[str, Callable[[str], CostBackend]] | None:
    _BUILTINS.load()                  # built-in modules register prefixes too (zigzag:)
    for prefix, factory in _PREFIXES.items():
        if name.startswith(prefix):
            return prefix, factory
    return None


def get_backend(name: str) -> CostBackend:
    """A cost backend by name (or a registered prefix, e.g. ``"surrogate:PATH"`` for a saved
    MLP surrogate); unknown names get an error listing the known ones."""
    if not isinstance(name, str):
        raise _unknown(name)
    hit = _prefixed(name)
    if hit is not None:
        return hit[1](name[len(hit[0]):])
    try:
        return _backends()[name]()
    except KeyError:
        raise _unknown(name) from None


def backend_metrics(name: str) -> tuple[str, ...]:
    """The metrics backend ``name`` gives, without building it (a prefixed backend, such as a
    surrogate file, is built to read them)."""
    if isinstance(name, str) and _prefixed(name) is not None:
        return get_backend(name).metrics
    factory = _backends().get(name) if isinstance(name, str) else None
    if factory is None:
        raise _unknown(name)
    return tuple(getattr(factory, "metrics", CostBackend.metrics))
