"""moo-cosearch: joint neural-architecture + hardware-accelerator search on Optuna and pymoo.

The pieces, in data-flow order (see the README):

- :func:`load_space` → :class:`JointSpace` (Optuna distributions, pymoo variables, encodings)
- :func:`moo_cosearch.samplers.create_sampler` → any ``optuna.samplers.BaseSampler``
- :mod:`moo_cosearch.networks` (family registry) → layer lists
- :mod:`moo_cosearch.hardware` (backend registry) and :mod:`moo_cosearch.surrogate` (learned
  cost models, ``"surrogate:PATH"``) → latency / energy / area
- :mod:`moo_cosearch.accuracy` (source registry) → NAS-Bench-201 table or a user callable
- :func:`make_objective` + :func:`create_study` → a plain ``optuna.Study``
- :func:`make_problem` → a vectorised pymoo ``Problem`` (directions and constraints mapped)
- :mod:`moo_cosearch.analysis` → Pareto set, hypervolume, reports, plots, verify

Every name below is imported on first use, so ``import moo_cosearch`` (and ``moo-cosearch
--help``) stay fast. See ARCHITECTURE.md for the rooms and where to add a space, family,
backend, source or sampler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_getattr
from ._version import __version__
from . import surrogate  # noqa: F401  registers the "surrogate:PATH" cost backend (light)

if TYPE_CHECKING:
    from .accuracy import NB201Table
    from .analysis import pareto_trials
    from .hardware import CostResult, get_backend, list_backends
    from .objectives import ObjectiveSet, list_objectives, load_objectives, make_objective
    from .problems import make_problem
    from .samplers import create_sampler, list_samplers
    from .space import JointSpace, Param, SpaceError, list_spaces, load_space
    from .study import create_study

#: Public name → the module that defines it (imported on first use).
_HOMES = {
    "NB201Table": "accuracy",
    "CostResult": "hardware", "get_backend": "hardware", "list_backends": "hardware",
    "ObjectiveSet": "objectives", "list_objectives": "objectives",
    "load_objectives": "objectives", "make_objective": "objectives",
    "make_problem": "problems",
    "create_sampler": "samplers", "list_samplers": "samplers",
    "JointSpace": "space", "Param": "space", "SpaceError": "space", "list_spaces": "space",
    "load_space": "space",
    "create_study": "study",
    "pareto_trials": "analysis",
}

__all__ = sorted(_HOMES) + ["__version__"]


__getattr__ = lazy_getattr(__name__, _HOMES)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
