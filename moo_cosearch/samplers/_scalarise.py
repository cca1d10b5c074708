"""One reward per trial for strategies that learn from a scalar (RL controllers, EDD).

Everything is read from the study's trials, so a resumed study or a second worker computes the
same rewards: objectives are turned into minimisation form, normalised to [0, 1] by the range
seen among COMPLETE trials (or by a reference point), scalarised, and constraint violations
(Optuna's ``constraints`` convention: a value > 0 violates) are subtracted as a penalty.

Scalarisations (``scalarisation=``):

- ``"chebyshev"`` (default): ``-max_i w_i * y_i`` with weights drawn at random per call
  (a random-weight Chebyshev scalarisation covers the whole Pareto front over many updates,
  including its non-convex parts);
- ``"weighted"``: ``-sum_i w_i * y_i`` with the given (or equal) weights, NASAIC's weighted
  reward;
- a single-objective study uses its one objective (maximised or minimised) directly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["SCALARISATIONS", "check_scalarisation", "check_weights", "rewards"]

SCALARISATIONS = ("chebyshev", "weighted")


def check_scalarisation(scalarisation: str, weights: Sequence[float] | None) -> None:
    """ValueError for an unknown scalarisation or negative / non-finite weights."""
    if scalarisation not in SCALARISATIONS:
        raise ValueError(f"scalarisation must be one of {list(SCALARISATIONS)}, "
                         f"got {scalarisation!r}")
    check_weights(weights)


def check_weights(weights: Sequence[float] | None) -> None:
    """ValueError unless ``weights`` (when given) are non-negative finite numbers, not all
    zero."""
    if weights is not None:
        w = [float(v) for v in weights]
        if not w or any(not math.isfinite(v) or v < 0 for v in w) or sum(w) <= 0:
            raise ValueError(f"weights must be non-negative finite numbers, not all zero, "
                             f"got {list(weights)!r}")


def _violation(trial: "FrozenTrial") -> float:
    """Total violation of ``trial.constraints`` (``trial.set_constraint`` or a
    ``constraints_func``: a value > 0 violates); a non-finite value counts as 1."""
    return float(sum(max(float(c), 0.0) if math.isfinite(float(c)) else 1.0
                     for c in trial.constraints.values()))


def rewards(trials: Sequence["FrozenTrial"],
            directions: Sequence["optuna.study.StudyDirection"], *,
            reference_trials: Sequence["FrozenTrial"] | None = None,
            scalarisation: str = "chebyshev", weights: Sequence[float] | None = None,
            penalty: float = 1.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """A reward (higher is better) for each of ``trials``.

    Args:
        trials: the trials to reward (COMPLETE ones get their scalarised objectives; FAIL or
            other finished trials get the worst reward seen minus ``penalty``).
        directions: the study's directions.
        reference_trials: the trials that fix the normalisation (default: ``trials``); pass
            all the study's COMPLETE trials so that rewards are comparable across updates.
        scalarisation: see the module docstring.
        weights: one non-negative weight per objective (default: random for ``chebyshev``,
            equal for ``weighted``).
        penalty: reward subtracted per unit of total constraint violation, plus once for
            being infeasible at all.
        rng: the generator for random Chebyshev weights.
    """
    import optuna
    from optuna.trial import TrialState

    check_scalarisation(scalarisation, weights)
    sign = np.array([-1.0 if d == optuna.study.StudyDirection.MAXIMIZE else 1.0
                     for d in directions])
    k = len(sign)
    ref = [t for t in (reference_trials if reference_trials is not None else trials)
           if t.state == TrialState.COMPLETE and t.values is not None]
    out = np.full(len(trials), np.nan)
    done = [i for i, t in enumerate(trials) if t.state == TrialState.COMPLETE
            and t.values is not None and all(math.isfinite(v) for v in t.values)]
    if done:
        y = np.array([trials[i].values for i in done], dtype=float) * sign
        r = np.array([t.values for t in ref if all(math.isfinite(v) for v in t.values)],
                     dtype=float) * sign if ref else y
        r = r if len(r) else y
        lo, hi = r.min(axis=0), r.max(axis=0)
        yn = (y - lo) / np.where(hi > lo, hi - lo, 1.0)
        if k == 1:
            score = -yn[:, 0]
        else:
            if weights is not None:
                w = np.asarray(weights, dtype=float)
                if len(w) != k:
                    raise ValueError(f"weights need one value per objective ({k}), "
                                     f"got {len(w)}")
            elif scalarisation == "chebyshev":
                w = (rng or np.random.default_rng()).dirichlet(np.ones(k))
            else:
                w = np.ones(k)
            w = w / w.sum()
            score = -(yn * w).max(axis=1) if scalarisation == "chebyshev" else -(yn @ w)
        viol = np.array([_violation(trials[i]) for i in done])
        score = score - penalty * (viol + (viol > 0))
        out[done] = score
    worst = np.nanmin(out) if np.isfinite(out).any() else 0.0
    out[np.isnan(out)] = worst - penalty
    return out
