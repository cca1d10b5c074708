"""Analysis of finished (or running) studies: Pareto set, feasibility, hypervolume and its
reference point, the end-of-run report with its figures, optuna-dashboard with feasibility
(:mod:`.dashboard`), and re-evaluation of the Pareto designs with the real simulator.

>>> from moo_cosearch.analysis import pareto_trials, reference_point, hypervolume_history
>>> front = pareto_trials(study)
>>> numbers, hv = hypervolume_history(study, reference_point(study, objectives))

Floor above :mod:`moo_cosearch.study`: it reads studies, it never creates them.
"""

from __future__ import annotations

from ._labels import accuracy_label, axis_label
from ._pareto import (hypervolume_history, is_feasible, minimization_matrix, pareto_trials,
                      reference_point)
from .plots import plot_best_value, plot_hypervolume_history, plot_pareto_front
from .report import pareto_rows, write_report
from .verify import verify_pareto

__all__ = ["accuracy_label", "axis_label", "dashboard_app", "dashboard_storage", "hypervolume_history", "is_feasible",
           "minimization_matrix", "pareto_rows", "pareto_trials", "plot_best_value",
           "plot_hypervolume_history", "plot_pareto_front", "reference_point", "run_dashboard",
           "verify_pareto", "write_report"]

_DASHBOARD = ("dashboard_app", "dashboard_storage", "run_dashboard")


def __getattr__(name: str):
    # imported on first use: `python -m moo_cosearch.analysis.dashboard` runs that module
    # afresh, which runpy warns about when the package has imported it already
    if name in _DASHBOARD:
        from . import dashboard

        return getattr(dashboard, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
