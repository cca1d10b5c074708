"""The strategy comparison harness: ``moo-cosearch compare`` and :func:`compare` (see
``_harness``): runs (``_run``), measures and statistics (``_stats``), reference designs
(``_refs``), tables (``_text``), figures (``_plots``) and the written report (``_report``).

>>> from moo_cosearch.compare import compare
>>> result = compare(["nsga2", "random"], seeds=3, trials=100, out="runs/shootout")
"""

from __future__ import annotations

from ._harness import DEFAULT_COMPARE_STORAGE, DEFAULT_TARGETS, Comparison, compare
from ._run import DECISION_ATTR, ELAPSED_ATTR

__all__ = ["DECISION_ATTR", "DEFAULT_COMPARE_STORAGE", "DEFAULT_TARGETS", "ELAPSED_ATTR",
           "Comparison", "compare"]
