"""Phase baselines (``fixed-hw``, ``phase``, ``hw-then-nas``): the strategies the seeds argue
against, each delegating its searches to any registered sampler; the design:
:mod:`._sampler`, and the study each phase's inner sampler sees: :mod:`._view`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._registry import SamplerFactory, check_options, register_sampler

if TYPE_CHECKING:
    from optuna.samplers import BaseSampler

__all__: list[str] = []

_STUDY_OPTIONS = ("groups", "baseline", "ordered", "reference_point")


def _factory(class_name: str) -> SamplerFactory:
    """The registry factory of the phase sampler class ``class_name`` (optuna is imported when
    it is made, not when it is registered)."""

    def make(seed: int | None = None, **options: Any) -> "BaseSampler":
        from . import _sampler

        cls = getattr(_sampler, class_name)
        check_options(cls, options)
        return cls(seed=seed, **options)

    return make


register_sampler("fixed-hw", _factory("FixedHardwareSampler"),
                 "hardware-aware NAS on the space's baseline accelerator (inner sampler: tpe)",
                 _STUDY_OPTIONS)
register_sampler("phase", _factory("PhaseSampler"),
                 "NAHAS phase search: NAS on the baseline accelerator, then HAS for the best "
                 "network (budget, first_share)", _STUDY_OPTIONS + ("budget",))
register_sampler("hw-then-nas", _factory("HardwareThenNASSampler"),
                 "HAS for the baseline network, then NAS on the best accelerator "
                 "(budget, first_share)", _STUDY_OPTIONS + ("budget",))
