"""External peers as samplers (extra ``peers``): Ax (``ax``, :mod:`._ax`) and SMAC3
(``smac``, :mod:`._smac`), each rebuilt from the study's trials on every proposal
(:mod:`._base`). Neither is imported here: a factory checks the package and imports it when
the sampler is made. HEBO is not among them: see the samplers README ("Peers").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._registry import check_options, register_sampler, require_modules

if TYPE_CHECKING:
    from optuna.samplers import BaseSampler

__all__: list[str] = []


def _make_ax(seed: int | None = None, **options: Any) -> "BaseSampler":
    require_modules("ax", "ax")
    from ._ax import AxSampler

    check_options(AxSampler, options)
    return AxSampler(seed=seed, **options)


def _make_smac(seed: int | None = None, **options: Any) -> "BaseSampler":
    require_modules("smac", "smac")
    from ._smac import SMACSampler

    check_options(SMACSampler, options)
    return SMACSampler(seed=seed, **options)


register_sampler("ax", _make_ax,
                 "Ax's default Bayesian optimisation via its Client API: qLogNEHVI with outcome "
                 "constraints (peer; extra 'peers')", ("reference_point", "ordered"))
register_sampler("smac", _make_smac,
                 "SMAC3 random forest with ParEGO for several objectives; constraints as a "
                 "penalty (peer; extra 'peers')", ("ordered",))
