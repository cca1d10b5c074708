"""Loading on first use: a registry's built-in modules on the first look at it (once, from any
thread), and a package face's names from the modules that define them."""

from __future__ import annotations

import importlib
import threading
from typing import Any, Callable, Mapping

__all__ = ["BuiltinModules", "lazy_getattr"]


def lazy_getattr(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``'s face: each name of ``homes`` (name -> the
    package's module defining it) is imported on first use, so importing the face stays light;
    other names raise ``AttributeError`` as usual."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{home}"), name)

    return __getattr__


class BuiltinModules:
    """Imports ``package``'s ``modules`` (each registers its entries when imported) on the
    first :meth:`load`. Thread-safe: a thread that looks while another is still importing
    waits for every module, instead of seeing a registry only partly filled (or empty)."""

    def __init__(self, package: str, modules: tuple[str, ...]) -> None:
        self.package = package
        self.modules = modules
        self._done = False
        self._lock = threading.RLock()   # re-entrant: a module may look while it registers

    def load(self) -> None:
        if self._done:
            return
        with self._lock:
            if self._done:
                return
            for module in self.modules:
                importlib.import_module(f"{self.package}.{module}")
            self._done = True
