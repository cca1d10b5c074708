"""pymoo algorithms inside Optuna: ``pymoo-nsga2``, ``pymoo-nsga3``, ``pymoo-moead``,
``pymoo-smsemoa``, ``pymoo-agemoea``.

Each name makes a :class:`~._sampler.PymooSampler` running that pymoo algorithm with
ask and tell, one generation of trials at a time, its state rebuilt from the study (resume,
several workers); the design: :mod:`._sampler`, :mod:`._run`, :mod:`._space`.
pymoo is imported when a sampler proposes, not here.

Options: ``population_size`` (default 20: budgets here are a few hundred trials, so 20 gives
ten or more generations), ``n_offsprings``, ``ordered`` (from the study), and for MOEA/D
``n_neighbors``. AGE-MOEA needs ``numba`` (pymoo compiles its survival with it).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from .._registry import OptionError, check_options, register_sampler, require_modules

if TYPE_CHECKING:
    import optuna

__all__: list[str] = []

_DESCRIPTIONS = {
    "nsga2": "pymoo NSGA-II: rank and crowding, constrained domination (pymoo ask/tell)",
    "nsga3": "pymoo NSGA-III: reference-direction niching (pymoo ask/tell)",
    "moead": "pymoo MOEA/D: Tchebycheff decomposition, neighbourhood mating (pymoo ask/tell)",
    "smsemoa": "pymoo SMS-EMOA: least hypervolume contribution out (pymoo ask/tell)",
    "agemoea": "pymoo AGE-MOEA: adaptive geometry estimation (pymoo ask/tell; needs numba)",
}


def _factory(algorithm: str) -> Any:
    """The registry factory of ``pymoo-<algorithm>``."""

    def make(seed: int | None = None, **options: Any) -> "optuna.samplers.BaseSampler":
        if algorithm == "agemoea":
            require_modules("pymoo-agemoea", "numba")
        from ._sampler import PymooSampler

        check_options(PymooSampler, options)
        refused = {"algorithm"} | ({"n_neighbors"} if algorithm != "moead" else set())
        bad = sorted(refused & set(options))
        if bad:
            known = sorted(k for k in inspect.signature(PymooSampler).parameters
                           if k != "seed" and k not in refused)
            raise OptionError(f"PymooSampler ({algorithm}) takes options {known}, "
                              f"got {bad[0]!r}")
        return PymooSampler(algorithm, seed=seed, **options)

    return make


for _name, _description in _DESCRIPTIONS.items():
    register_sampler(f"pymoo-{_name}", _factory(_name), _description, study_options=("ordered",))
