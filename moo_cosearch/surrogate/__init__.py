"""Learned cost models: the NAHAS MLP surrogate trained on simulator samples.

Workflow: :func:`sample_designs` (designs -> simulator -> ``.npz`` columns), :func:`fit_surrogate`
(train + test report), :meth:`Surrogate.save` / :func:`load_surrogate` (safe files), then use
``"surrogate:PATH"`` wherever a cost backend name goes, and
:func:`moo_cosearch.analysis.verify_pareto` after a study.
"""

from ._device import DevicePredictor, fit_device_predictor, load_device_predictor
from ._features import FeatureSchema
from ._model import FitConfig
from ._sampling import draw_indices, load_samples, sample_designs
from ._surrogate import (Surrogate, SurrogateError, fit_surrogate, load_surrogate,
                         regression_metrics)
from ._backend import SurrogateBackend

__all__ = ["FeatureSchema", "FitConfig", "Surrogate", "SurrogateBackend", "SurrogateError",
           "draw_indices", "fit_surrogate", "load_samples", "load_surrogate",
           "regression_metrics", "sample_designs"]
__all__ += ["DevicePredictor", "fit_device_predictor", "load_device_predictor"]

