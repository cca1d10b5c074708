"""Sampler registry: every search strategy is an ``optuna.samplers.BaseSampler`` made by name.

>>> from moo_cosearch.samplers import create_sampler, list_samplers
>>> sampler = create_sampler("nsga2", seed=0, population_size=20)

A sampler declares which options it takes from the study (:func:`sampler_study_options`):

- ``"reference_point"``: hypervolume reference point, a list of floats in the objectives' own
  units and directions;
- ``"ordered"``: parameter name → bool, whether a categorical's choices are ordered;
- ``"groups"``: parameter name → ``"nas"`` (network) or ``"has"`` (hardware), searched
  parameters only;
- ``"baseline"``: parameter name → the space's reference design value (in the study's view:
  a grid position for ``"index"``), searched parameters only;
- ``"budget"``: the evaluated trials the run plans (``run --budget``, else ``--trials``), for
  strategies that split a budget into phases.

A sampler also names the view of ordered grids it works best with (:func:`sampler_view`):
``"categorical"`` (values as a ``CategoricalDistribution``) or ``"index"`` (grid positions as an
``IntDistribution``, whose order the sampler then sees). ``gp`` prefers ``"index"`` (+3 % and
+5 % median hypervolume on ``nb201-edge`` and ``nahas-mbv2-edge``, 5 seeds); TPE and NSGA-II
do not gain from it (TPE repeats more designs), so they keep values
(``benchmarks/results/ordered_view.md``).

Layout (as Optuna's ``samplers/``): the registry in ``_registry``; Optuna's own samplers
registered in ``_builtin``; one sub-package per family of ours, each registering its names in
its ``__init__``: ``_qehvi`` (qehvi, qnehvi), ``_rl`` (reinforce, ppo), ``_edd`` (edd),
``_phase`` (fixed-hw, phase, hw-then-nas), ``_pymoo`` (pymoo-*). They are imported on the first
look at the registry, and their heavy dependencies when a sampler is made, so importing this
package imports neither optuna nor torch. Shared pieces: ``_codec`` (Optuna distributions ↔
numbers, under every family's encoding), ``_base`` (``RelativeSampler``), ``_scalarise``
(rewards), and :mod:`.seam`, the one module that touches Optuna's internals. Nothing here
imports the rest of ``moo_cosearch``: the study passes these options in.
"""

from __future__ import annotations

from typing import Any

from ._registry import (STUDY_OPTIONS, VIEWS, MissingDependencyError, OptionError, check_options,
                        create_sampler, list_samplers, register_sampler, sampler_study_options,
                        sampler_view, suggest)

__all__ = ["MissingDependencyError", "OptionError", "QEHVISampler", "STUDY_OPTIONS", "VIEWS",
           "check_options", "create_sampler", "list_samplers", "register_sampler",
           "sampler_study_options", "sampler_view", "suggest"]


def __getattr__(name: str) -> Any:
    if name == "QEHVISampler":  # lazy: torch and botorch load with the sampler, not here
        from ._qehvi._sampler import QEHVISampler

        return QEHVISampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
