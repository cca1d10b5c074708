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

See ARCHITECTURE.md for the rooms and where to add a space, family, backend, source or sampler.
"""

from __future__ import annotations

from .accuracy import NB201Table
from .hardware import CostResult, get_backend, list_backends
from .objectives import ObjectiveSet, list_objectives, load_objectives, make_objective
from .problems import make_problem
from .samplers import create_sampler, list_samplers
from .space import JointSpace, Param, SpaceError, list_spaces, load_space
from .study import create_study
from .analysis import pareto_trials
# Registers the "surrogate:PATH" cost backend (hardware never imports the surrogate floor).
from . import surrogate  # noqa: E402,F401  (isort: skip)

from ._version import __version__  # noqa: E402

__all__ = ["CostResult", "JointSpace", "NB201Table", "ObjectiveSet", "Param", "SpaceError",
           "create_sampler", "create_study", "get_backend", "list_backends", "list_objectives",
           "list_samplers", "list_spaces", "load_objectives", "load_space", "make_objective",
           "make_problem", "pareto_trials", "__version__"]
