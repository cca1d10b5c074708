"""The strategy comparison harness: ``moo-cosearch compare`` and :func:`compare` (see
``_harness``): runs (``_run``), measures and statistics (``_stats``), reference designs
(``_refs``), tables (``_text``), figures (``_plots``) and the written report (``_report``).

>>> from moo_cosearch.compare import compare
>>> result = compare(["nsga2", "random"], seeds=3, trials=100, out="runs/shootout")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr
from ._defaults import DEFAULT_COMPARE_STORAGE, DEFAULT_TARGETS, FORMATS

if TYPE_CHECKING:
    from ._harness import Comparison, compare
    from ._ranks import rank_folders
    from ._run import DECISION_ATTR, ELAPSED_ATTR

#: Loaded on first use (optuna and the statistics stay unimported for ``--help``).
_HOMES = {"Comparison": "_harness", "compare": "_harness", "DECISION_ATTR": "_run",
          "ELAPSED_ATTR": "_run", "rank_folders": "_ranks"}

__all__ = ["DECISION_ATTR", "DEFAULT_COMPARE_STORAGE", "DEFAULT_TARGETS", "ELAPSED_ATTR",
           "FORMATS", "Comparison", "compare", "rank_folders"]


__getattr__ = lazy_getattr(__name__, _HOMES)
