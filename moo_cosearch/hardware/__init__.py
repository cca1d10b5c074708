"""Hardware cost models, selectable by name.

A backend is a callable ``backend(space, designs) -> CostResult`` evaluating a batch of joint
designs (NAS + HAS parameter dicts) of ``space``. ``get_backend(name)`` returns one. Each
backend module subclasses :class:`CostBackend` and registers itself with
:func:`register_backend`; a new backend is one new module plus its import line below.
``surrogate:PATH`` (a saved MLP surrogate) is registered by :mod:`moo_cosearch.surrogate`
with :func:`register_backend_prefix`.
"""

from __future__ import annotations

from ._base import CostBackend, require_params
from ._registry import (backend_metrics, get_backend, list_backends, register_backend,
                        register_backend_prefix)
from ._result import COST_FIELDS, CostResult

# The built-in backends register themselves on import.
from . import edge, dataflow, fpga, hetero, multifpga, table, zigzag  # noqa: E402,F401  (isort: skip)
from .edge import EdgeBackend  # noqa: E402
from .table import TableBackend, TableEnergyBackend  # noqa: E402

__all__ = ["COST_FIELDS", "CostBackend", "CostResult", "EdgeBackend", "TableBackend",
           "TableEnergyBackend", "backend_metrics", "get_backend", "list_backends",
           "register_backend", "register_backend_prefix", "require_params"]
