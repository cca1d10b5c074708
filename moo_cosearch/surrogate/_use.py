"""Use a trained surrogate: as a cost backend (``"surrogate:PATH"``), and after a study, to
check its Pareto designs against the real simulator (:func:`verify_pareto`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..hardware import CostBackend, CostResult
from ._surrogate import SurrogateError, load_surrogate, regression_metrics

if TYPE_CHECKING:
    import optuna

    from ..space import JointSpace

__all__ = ["SurrogateBackend", "verify_pareto"]


class SurrogateBackend(CostBackend):
    """A cost backend answering from a saved surrogate (``get_backend("surrogate:PATH")``).

    ``feasible`` is ``p_feasible >= 0.5``; metrics the surrogate was not trained on are NaN.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.surrogate = load_surrogate(self.path)
        self.name = f"surrogate:{self.path}"
        self.metrics = tuple(self.surrogate.targets)

    def evaluate(self, space: "JointSpace", designs: Sequence[Mapping[str, Any]]) -> CostResult:
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
        extra = {k: v for k, v in pred.items() if k not in ("latency_ms", "energy_mj",
                                                            "area_mm2")}
        return CostResult(latency_ms=pred.get("latency_ms", nan),
                          energy_mj=pred.get("energy_mj", nan),
                          area_mm2=pred.get("area_mm2", nan), feasible=ok, reason=reason,
                          extra=extra)

    def reference(self, metric: str) -> float:
        from ..hardware import get_backend

        return get_backend(self.surrogate.meta.get("data", {}).get("backend", "")).reference(
            metric)


def verify_pareto(study: "optuna.Study", backend: CostBackend | str,
                  space: "JointSpace | None" = None) -> dict[str, Any]:
    """Re-evaluate a study's Pareto designs with ``backend`` (the real simulator) and compare
    with the costs the study recorded (from the surrogate). Returns per-design rows and, per
    metric, :func:`regression_metrics` of recorded vs real, the number of designs the real
    backend finds infeasible, and of designs it fails on (``error`` in their row)."""
    from ..hardware import get_backend
    from ..space import load_space
    from ..study import pareto_trials

    backend = get_backend(backend) if isinstance(backend, str) else backend
    space = space or load_space(study.user_attrs["space"])
    if study.user_attrs.get("space_hash", space.definition_hash) != space.definition_hash:
        raise ValueError(f"study {study.study_name!r} was made for space "
                         f"{study.user_attrs.get('space')!r} with another definition than "
                         f"{space.name!r}")
    trials = pareto_trials(study)
    if not trials:
        return {"n": 0, "rows": [], "metrics": {}, "feasibility_disagreements": 0, "errors": 0}
    designs = [space.validate(t.params) for t in trials]
    real = {m: np.full(len(trials), np.nan) for m in backend.metrics}
    feasible = np.zeros(len(trials), dtype=bool)
    errors = [""] * len(trials)
    try:
        res = backend(space, designs)
        for m in backend.metrics:
            real[m] = np.asarray(res.metric(m), dtype=float)
        feasible[:] = res.feasible
    except Exception:   # the simulator fails on some design: evaluate one by one
        for i, d in enumerate(designs):
            try:
                r = backend(space, [d])
                for m in backend.metrics:
                    real[m][i] = float(r.metric(m)[0])
                feasible[i] = bool(r.feasible[0])
            except Exception as e:
                errors[i] = f"{type(e).__name__}: {e}"
    summary = {m: regression_metrics(real[m], np.array(
        [float(t.user_attrs.get(m, math.nan)) for t in trials])) for m in backend.metrics}
    rows = [{"trial": t.number, **{f"{m}_recorded": t.user_attrs.get(m) for m in backend.metrics},
             **{f"{m}_real": float(real[m][i]) for m in backend.metrics},
             "feasible_real": bool(feasible[i]), "error": errors[i]}
            for i, t in enumerate(trials)]
    flips = int(sum(not f and not e for f, e in zip(feasible, errors)))
    return {"n": len(trials), "rows": rows, "metrics": summary,
            "feasibility_disagreements": flips, "errors": sum(bool(e) for e in errors)}
