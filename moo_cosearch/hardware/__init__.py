"""Hardware cost models, selectable by name.

A backend is a callable ``backend(space, designs) -> CostResult`` evaluating a batch of joint
designs (NAS + HAS parameter dicts) of ``space``. ``get_backend(name)`` returns one. Each
backend module subclasses :class:`CostBackend` and registers itself with
:func:`register_backend`; a new backend is one new module plus its name in
``_registry.BUILTIN_MODULES`` (the built-in modules load on the first look at the registry).
``surrogate:PATH`` (a saved MLP surrogate) is registered by :mod:`moo_cosearch.surrogate`
with :func:`register_backend_prefix`. Conventions of every backend: ``hardware/README.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr
from ._base import CostBackend, require_params
from ._registry import (backend_metrics, get_backend, list_backends, register_backend,
                        register_backend_prefix)
from ._result import COST_FIELDS, CostResult

if TYPE_CHECKING:
    from .edge import EdgeBackend
    from .table import TableBackend, TableEnergyBackend

_HOMES = {"EdgeBackend": "edge", "TableBackend": "table", "TableEnergyBackend": "table"}

__all__ = ["COST_FIELDS", "CostBackend", "CostResult", "EdgeBackend", "TableBackend",
           "TableEnergyBackend", "backend_metrics", "get_backend", "list_backends",
           "register_backend", "register_backend_prefix", "require_params"]


__getattr__ = lazy_getattr(__name__, _HOMES)
