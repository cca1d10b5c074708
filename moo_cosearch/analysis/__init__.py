"""Analysis of finished (or running) studies: Pareto set, feasibility, hypervolume and its
reference point, the end-of-run report with its figures, and re-evaluation of the Pareto designs
with the real simulator.

>>> from moo_cosearch.analysis import pareto_trials, reference_point, hypervolume_history
>>> front = pareto_trials(study)
>>> numbers, hv = hypervolume_history(study, reference_point(study, objectives))

Floor above :mod:`moo_cosearch.study`: it reads studies, it never creates them.
"""

from __future__ import annotations

from ._pareto import (hypervolume_history, is_feasible, minimization_matrix, pareto_trials,
                      reference_point)
from .plots import plot_hypervolume_history, plot_pareto_front
from .report import pareto_rows, write_report
from .verify import verify_pareto

__all__ = ["hypervolume_history", "is_feasible", "minimization_matrix", "pareto_rows",
           "pareto_trials", "plot_hypervolume_history", "plot_pareto_front", "reference_point",
           "verify_pareto", "write_report"]
