"""Check a study's Pareto designs against the real simulator (:func:`verify_pareto`): after a
search with a learned cost model (``"surrogate:PATH"``), re-evaluate exactly the designs it
reported and measure the model's error on them."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ._pareto import pareto_trials

if TYPE_CHECKING:
    import optuna

    from ..hardware import CostBackend
    from ..space import JointSpace

__all__ = ["verify_pareto"]


def verify_pareto(study: "optuna.Study", backend: "CostBackend | str",
                  space: "JointSpace | None" = None) -> dict[str, Any]:
    """Re-evaluate a study's Pareto designs with ``backend`` (the real simulator) and compare
    with the costs the study recorded (from the surrogate). Returns per-design rows and, per
    metric, :func:`~moo_cosearch.surrogate.regression_metrics` of recorded vs real, the number
    of designs the real backend finds infeasible, and of designs it fails on (``error`` in
    their row)."""
    from ..hardware import get_backend
    from ..space import load_space
    from ..surrogate import regression_metrics

    backend = get_backend(backend) if isinstance(backend, str) else backend
    space = space or load_space(study.user_attrs["space"])
    if study.user_attrs.get("space_hash", space.definition_hash) != space.definition_hash:
        raise ValueError(f"study {study.study_name!r} was made for space "
                         f"{study.user_attrs.get('space')!r} with another definition than "
                         f"{space.name!r}")
    trials = pareto_trials(study)
    if not trials:
        return {"n": 0, "rows": [], "metrics": {}, "feasibility_disagreements": 0, "errors": 0}
    designs = [space.design_of(t) for t in trials]
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
