"""Differentiable co-search (``edd``, seed 003): a Gumbel-softmax relaxation of the joint space
(:mod:`._space`) descended through an MLP ensemble fitted on the study's trials (:mod:`._model`,
:mod:`._search`), wired by :class:`~._sampler.EDDSampler`. torch is imported when the sampler
is made, not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._registry import check_options, register_sampler, require_modules

if TYPE_CHECKING:
    from optuna.samplers import BaseSampler

__all__: list[str] = []


def _make(seed: int | None = None, **options: Any) -> "BaseSampler":
    require_modules("edd", "torch")
    from ._sampler import EDDSampler

    check_options(EDDSampler, options)
    return EDDSampler(seed=seed, **options)


register_sampler("edd", _make,
                 "EDD differentiable co-search: Gumbel-softmax logits descended through an MLP "
                 "ensemble fitted on the trials (ours)", ("reference_point", "ordered"))
