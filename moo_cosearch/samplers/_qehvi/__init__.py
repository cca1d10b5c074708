"""qEHVI / qNEHVI: BoTorch's batched-GP hypervolume acquisition inside Optuna (``qehvi``,
``qnehvi``), one concept per module as in Optuna's ``_gp/``: :mod:`._sampler` wires
:mod:`._data`, :mod:`._encoding`, :mod:`._gpfit`, :mod:`._pool`, :mod:`._prescore`,
:mod:`._acquisition` and :mod:`._refine` (the maths: ``samplers/README.md``). torch and botorch
are imported when a proposal is made, not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._registry import check_options, register_sampler, require_modules

if TYPE_CHECKING:
    from optuna.samplers import BaseSampler

__all__: list[str] = []


def _qehvi(seed: int | None = None, **options: Any) -> "BaseSampler":
    require_modules("qnehvi" if options.get("noisy") else "qehvi", "torch", "botorch")
    from ._sampler import QEHVISampler

    check_options(QEHVISampler, options)
    return QEHVISampler(seed=seed, **options)


def _qnehvi(seed: int | None = None, **options: Any) -> "BaseSampler":
    return _qehvi(seed=seed, noisy=True, **options)


_BOTH = ("reference_point", "ordered")
register_sampler("qehvi", _qehvi,
                 "BoTorch qLogEHVI: batched GP, pooled two-stage acquisition (ours)", _BOTH)
register_sampler("qnehvi", _qnehvi,
                 "BoTorch qLogNEHVI (noisy observations), otherwise as qehvi (ours)", _BOTH)
