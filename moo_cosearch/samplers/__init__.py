"""Sampler registry: every search strategy is an ``optuna.samplers.BaseSampler`` made by name.

>>> from moo_cosearch.samplers import create_sampler, list_samplers
>>> sampler = create_sampler("nsga2", seed=0, population_size=20)

Later strategies (qEHVI, RL, ...) call :func:`register_sampler` from their own private module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import optuna

__all__ = ["QEHVISampler", "create_sampler", "list_samplers", "register_sampler"]


def __getattr__(name: str) -> Any:
    if name == "QEHVISampler":  # lazy: keeps `import moo_cosearch` light
        from ._botorch import QEHVISampler

        return QEHVISampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

SamplerFactory = Callable[..., "optuna.samplers.BaseSampler"]


def _optuna_sampler(class_name: str, **defaults: Any) -> SamplerFactory:
    """A factory for ``optuna.samplers.<class_name>`` with our defaults (options override)."""

    def make(seed: int | None = None, **options: Any) -> "optuna.samplers.BaseSampler":
        import optuna

        return getattr(optuna.samplers, class_name)(seed=seed, **{**defaults, **options})

    return make


def _qehvi(seed: int | None = None, **options: Any) -> "optuna.samplers.BaseSampler":
    from ._botorch import QEHVISampler

    return QEHVISampler(seed=seed, **options)


def _qnehvi(seed: int | None = None, **options: Any) -> "optuna.samplers.BaseSampler":
    return _qehvi(seed=seed, noisy=True, **options)


_REGISTRY: dict[str, tuple[SamplerFactory, str]] = {
    "random": (_optuna_sampler("RandomSampler"), "uniform random search (optuna RandomSampler)"),
    "tpe": (_optuna_sampler("TPESampler", multivariate=True),
            "multivariate TPE (optuna TPESampler, multivariate=True)"),
    "nsga2": (_optuna_sampler("NSGAIISampler"),
              "NSGA-II, constrained domination (optuna NSGAIISampler)"),
    "nsga3": (_optuna_sampler("NSGAIIISampler"),
              "NSGA-III, reference directions (optuna NSGAIIISampler)"),
    "gp": (_optuna_sampler("GPSampler"),
           "Gaussian-process BO, logEHVI for several objectives (optuna GPSampler)"),
    "qehvi": (_qehvi, "BoTorch qLogEHVI: batched GP, pooled two-stage acquisition (ours)"),
    "qnehvi": (_qnehvi, "BoTorch qLogNEHVI (noisy observations), otherwise as qehvi (ours)"),
}


def register_sampler(name: str, factory: SamplerFactory, description: str = "") -> None:
    """Register ``factory(seed=..., **options) -> BaseSampler`` under ``name``."""
    _REGISTRY[name] = (factory, description)


def list_samplers() -> dict[str, str]:
    """Known sampler names with a one-line description each."""
    return {name: desc for name, (_, desc) in sorted(_REGISTRY.items())}


def create_sampler(name: str, *, seed: int | None = None,
                   **options: Any) -> "optuna.samplers.BaseSampler":
    """Make a sampler by name.

    Args:
        name: a name from :func:`list_samplers`.
        seed: random seed (the same seed gives the same study).
        **options: passed to the sampler's constructor (e.g. ``population_size`` for nsga2).

    Raises:
        ValueError: unknown name (the message lists the known ones) or a bad option.
    """
    try:
        factory, _ = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"sampler must be one of {sorted(_REGISTRY)}, got {name!r}") from None
    try:
        return factory(seed=seed, **options)
    except TypeError as e:
        raise ValueError(f"bad option for sampler {name!r}: {e}") from None
