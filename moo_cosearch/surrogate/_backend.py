"""The surrogate's cost-backend adapter: ``get_backend("surrogate:PATH")`` answers from a saved
surrogate. It registers itself under the ``surrogate:`` prefix, so the hardware registry never
imports this floor. Checking a study's Pareto designs against the real simulator afterwards is
:func:`moo_cosearch.analysis.verify_pareto`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..hardware import COST_FIELDS, CostBackend, CostResult, register_backend_prefix

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["SurrogateBackend"]


class SurrogateBackend(CostBackend):
    """A cost backend answering from a saved surrogate (``get_backend("surrogate:PATH")``).

    ``feasible`` is ``p_feasible >= 0.5``; metrics the surrogate was not trained on are NaN.
    """

    def __init__(self, path: str | Path) -> None:
        from ._surrogate import load_surrogate     # lazy: torch loads with the first file

        self.path = Path(path)
        self.surrogate = load_surrogate(self.path)
        self.name = f"surrogate:{self.path}"
        self.metrics = tuple(self.surrogate.targets)

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> CostResult:
        from ._surrogate import SurrogateError

        sur = self.surrogate
        if space.definition_hash != sur.space.definition_hash:
            raise SurrogateError(f"surrogate {self.path.name} was trained for space "
                                 f"{sur.space.name!r}; it cannot evaluate space {space.name!r}")
        pred = sur.predict([space.validate(d) for d in designs])
        n = len(designs)
        nan = np.full(n, np.nan)
        ok = pred["p_feasible"] >= 0.5
        reason = tuple("" if f else f"surrogate predicts infeasible (p_feasible={p:.2f})"
                       for f, p in zip(ok, pred["p_feasible"]))
        extra = {k: v for k, v in pred.items() if k not in COST_FIELDS}
        return CostResult(**{f: pred.get(f, nan) for f in COST_FIELDS}, feasible=ok,
                          reason=reason, extra=extra)

    def reference(self, metric: str) -> float:
        from ..hardware import get_backend

        return get_backend(self.surrogate.meta.get("data", {}).get("backend", "")).reference(
            metric)


register_backend_prefix("surrogate:", SurrogateBackend)
