"""Objective sets (``objectives/*.toml``: what to maximise or minimise, hard limits, the reward,
the accuracy source and cost backend) and the Optuna objective that evaluates joint designs for
one, with the gate that refuses repeated designs and trials over the study's budget.

>>> from moo_cosearch.objectives import load_objectives, make_objective
>>> objective = make_objective(space, load_objectives("nb201-cifar10-latency"))

The TOML format is in :mod:`moo_cosearch.objectives._set`; the gate in ``_gate``.
"""

from __future__ import annotations

from ._gate import SKIPPED, Gate, spends_budget
from ._objective import Evaluation, Objective, make_objective
from ._set import (COST_METRICS, DEFAULT_FOR_SPACE, METRICS, Constraint, ObjectiveSet,
                   ObjectivesError, Reward, default_objectives, list_objectives, load_objectives)

__all__ = ["COST_METRICS", "Constraint", "DEFAULT_FOR_SPACE", "Evaluation", "Gate", "METRICS",
           "Objective", "ObjectiveSet", "ObjectivesError", "Reward", "SKIPPED",
           "default_objectives", "list_objectives", "load_objectives", "make_objective",
           "spends_budget"]
