"""Loading a registry's built-in modules on the first look at it, once, from any thread."""

from __future__ import annotations

import importlib
import threading

__all__ = ["BuiltinModules"]


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
