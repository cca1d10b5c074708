"""Learned cost models: the NAHAS MLP surrogate trained on simulator samples.

Workflow: :func:`sample_designs` (designs -> simulator -> ``.npz`` columns), :func:`fit_surrogate`
(train + test report), :meth:`Surrogate.save` / :func:`load_surrogate` (safe files), then use
``"surrogate:PATH"`` wherever a cost backend name goes, and
:func:`moo_cosearch.analysis.verify_pareto` after a study.

Importing this package registers the ``surrogate:`` backend prefix (:mod:`._backend`, light);
the names below load their modules (torch among them) on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr
from ._backend import SurrogateBackend
from . import _measured  # noqa: E402,F401  registers the anb-zcu102 / anb-vck190 backends (light)

if TYPE_CHECKING:
    from ._device import DevicePredictor, fit_device_predictor, load_device_predictor
    from ._features import FeatureSchema
    from ._model import FitConfig
    from ._sampling import draw_indices, load_samples, sample_designs
    from ._tabular import (MIN_ROWS, PREDICTOR_MODELS, TablePredictor, fit_table_predictor,
                           read_table, table_rows)
    from ._surrogate import (Surrogate, SurrogateError, fit_surrogate, load_surrogate,
                             regression_metrics)

_HOMES = {"DevicePredictor": "_device", "fit_device_predictor": "_device",
          "load_device_predictor": "_device", "FeatureSchema": "_features", "FitConfig": "_model",
          "draw_indices": "_sampling", "load_samples": "_sampling", "sample_designs": "_sampling",
          "Surrogate": "_surrogate", "SurrogateError": "_surrogate",
          "fit_surrogate": "_surrogate", "load_surrogate": "_surrogate",
          "regression_metrics": "_surrogate", "MIN_ROWS": "_tabular",
          "PREDICTOR_MODELS": "_tabular", "TablePredictor": "_tabular",
          "fit_table_predictor": "_tabular", "read_table": "_tabular", "table_rows": "_tabular"}

__all__ = sorted([*_HOMES, "SurrogateBackend"])


__getattr__ = lazy_getattr(__name__, _HOMES)
