"""Optuna's own samplers under our names (``random``, ``tpe``, ``nsga2``, ``nsga3``, ``gp``), with
our defaults; registered here, in one place, when the registry is first looked at."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ._registry import SamplerFactory, check_options, register_sampler

if TYPE_CHECKING:
    import optuna

__all__: list[str] = []


def _optuna_sampler(class_name: str, **defaults: Any) -> SamplerFactory:
    """A factory for ``optuna.samplers.<class_name>`` with our defaults (options override)."""

    def make(seed: int | None = None, **options: Any) -> "optuna.samplers.BaseSampler":
        import optuna

        cls = getattr(optuna.samplers, class_name)
        check_options(cls, options)
        with warnings.catch_warnings():    # registered here, so chosen by name, not opted into
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return cls(seed=seed, **{**defaults, **options})

    return make


register_sampler("random", _optuna_sampler("RandomSampler"),
                 "uniform random search (optuna RandomSampler)")
register_sampler("tpe", _optuna_sampler("TPESampler", multivariate=True),
                 "multivariate TPE (optuna TPESampler, multivariate=True)")
register_sampler("nsga2", _optuna_sampler("NSGAIISampler"),
                 "NSGA-II, constrained domination (optuna NSGAIISampler)")
register_sampler("nsga3", _optuna_sampler("NSGAIIISampler"),
                 "NSGA-III, reference directions (optuna NSGAIIISampler)")
register_sampler("gp", _optuna_sampler("GPSampler"),
                 "Gaussian-process BO, logEHVI for several objectives (optuna GPSampler)",
                 view="index")
