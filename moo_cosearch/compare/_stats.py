"""What a comparison measures per run, and how it aggregates runs over seeds.

Per run (:func:`run_metrics`), over the run's first ``budget`` evaluated trials: the feasible
hypervolume after each evaluation and against the run's wall-clock (sampler decisions,
evaluations and storage), the sampler's own decision seconds, the violation rate, the best feasible accuracy under each latency target, accuracy
evaluations spent, saved by early pruning (designs over a hard limit) and served by the cache.

Over seeds (:func:`aggregate`, :func:`pairwise_tests`, :func:`ecdf`), after Ax's benchmark
module, Syne Tune's aggregation and COCO's bbob-biobj: median, range and interquartile range,
interquartile mean with a bootstrap confidence interval (``scipy.stats.bootstrap``), two-sided
Mann-Whitney U tests between samplers (``scipy.stats.mannwhitneyu``, Benjamini-Hochberg
adjusted by ``scipy.stats.false_discovery_control``) with the Vargha-Delaney A12 effect size
next to each p-value, and the ECDF of evaluations to reach targets set as fractions of the best
hypervolume any run found. Intervals and tests need :data:`MIN_SEEDS` runs per sampler: with
fewer, a two-sided Mann-Whitney p can never fall below 0.05 (2/C(8, 4) = 0.029 needs 4 against
4; 5 against 5 reaches 0.0079) and a bootstrap interval of 2-4 values is their range, so only
medians and ranges are given. :func:`average_ranks` ranks samplers across several problems
(Demšar's average ranks with the Friedman test and the Nemenyi critical difference). Hypervolumes come from
``moocore`` (through :func:`~moo_cosearch.analysis.hypervolume_history`), non-dominated
sorting from ``moocore.is_nondominated``.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ._defaults import DEFAULT_TARGETS
from ..objectives import SKIPPED, spends_budget
from ..analysis import hypervolume_history, is_feasible, minimization_matrix

if TYPE_CHECKING:
    import optuna

__all__ = ["DEFAULT_TARGETS", "MIN_SEEDS", "a12", "aggregate", "average_ranks", "budget_trials",
           "combined_front", "ecdf", "evaluations_to_target", "pairwise_tests", "run_metrics",
           "time_curve"]

#: Runs per sampler below which no interval and no test is reported (module docstring).
MIN_SEEDS = 5
#: The multiple-comparison adjustment of :func:`pairwise_tests`.
ADJUSTMENT = "Benjamini-Hochberg (false discovery rate)"


def budget_trials(study: "optuna.Study", budget: int) -> list["optuna.trial.FrozenTrial"]:
    """The study's trials, by number, up to its ``budget``-th evaluated one."""
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    seen = 0
    for i, t in enumerate(trials):
        seen += spends_budget(t)
        if seen == budget:
            return trials[:i + 1]
    return trials


def _seconds(trial: "optuna.trial.FrozenTrial") -> float:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return 0.0
    return max(0.0, (trial.datetime_complete - trial.datetime_start).total_seconds())


def run_metrics(study: "optuna.Study", ref: np.ndarray, budget: int, *,
                latency_targets: Sequence[float] = (), decision_attr: str = "",
                elapsed_attr: str = "") -> dict[str, Any]:
    """The measures of one run (see the module docstring) over its first ``budget`` evaluated
    trials; curves as lists: ``hv`` (after each evaluation), ``wall`` (cumulative seconds at
    each evaluation).

    Args:
        study: the run's study.
        ref: the comparison's reference point, minimisation form.
        budget: evaluated trials per run.
        latency_targets: ms; the best feasible accuracy at or under each is reported.
        decision_attr: the system attr holding each trial's sampler seconds.
        elapsed_attr: the system attr holding the run's clock when each trial ended; without
            it on every trial, the clock is the sum of the trials' own durations (start to
            end in the storage), which leaves out the time between trials.
    """
    from optuna.trial import TrialState

    trials = budget_trials(study, budget)
    numbers, hv = hypervolume_history(study, ref)
    at = {int(n): float(v) for n, v in zip(numbers, hv)}
    if elapsed_attr and trials and all(elapsed_attr in t.system_attrs for t in trials):
        wall = np.maximum.accumulate([float(t.system_attrs[elapsed_attr]) for t in trials])
    else:
        wall = np.cumsum([_seconds(t) for t in trials]) if trials else np.zeros(0)
    evaluated = [i for i, t in enumerate(trials) if spends_budget(t)]
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    feasible = [t for t in done if is_feasible(t)]
    best: dict[str, float | None] = {}
    for target in latency_targets:
        accs = [float(t.user_attrs["accuracy"]) for t in feasible
                if "accuracy" in t.user_attrs and "latency_ms" in t.user_attrs
                and float(t.user_attrs["latency_ms"]) <= target]
        best[f"{target:g}"] = max(accs) if accs else None
    hv_curve = [at[trials[i].number] for i in evaluated]
    return {
        "n_trials": len(evaluated),
        "final_hv": hv_curve[-1] if hv_curve else 0.0,
        "seconds": float(wall[-1]) if len(wall) else 0.0,
        "decision_s": float(sum(t.system_attrs.get(decision_attr, 0.0) for t in trials))
        if decision_attr else None,
        "violation_rate": (1 - len(feasible) / len(done)) if done else None,
        "failed": sum(t.state == TrialState.FAIL for t in trials),
        "repeats_skipped": sum("duplicate of" in str(t.user_attrs.get(SKIPPED, ""))
                               for t in trials),
        "accuracy_evaluations": sum(t.user_attrs.get("accuracy_evaluated") is True
                                    and not t.user_attrs.get("accuracy_cached")
                                    for t in done),
        "accuracy_saved_by_pruning": sum(t.user_attrs.get("accuracy_evaluated") is False
                                         for t in done),
        "accuracy_cached": sum(bool(t.user_attrs.get("accuracy_cached")) for t in done),
        "best_accuracy_under_latency": best,
        "hv": hv_curve,
        "wall": [float(wall[i]) for i in evaluated],
    }


def aggregate(values: Sequence[float], *, seed: int = 0, confidence: float = 0.95,
              min_n: int = MIN_SEEDS) -> dict[str, Any]:
    """Median, range, quartiles, IQR and interquartile mean (``scipy.stats.trim_mean`` at
    25 %) of the given per-seed values, and a percentile-bootstrap confidence interval of the
    IQM when there are at least ``min_n`` of them (``ci`` None otherwise)."""
    from scipy import stats

    x = np.asarray([v for v in values if v is not None], dtype=float)
    if x.size == 0:
        return {"n": 0, "median": None, "min": None, "max": None, "q25": None, "q75": None,
                "iqr": None, "iqm": None, "ci": None}
    q25, med, q75 = np.percentile(x, [25, 50, 75])
    iqm = float(stats.trim_mean(x, 0.25))
    ci = None
    if x.size >= min_n:
        if np.ptp(x) > 0:
            res = stats.bootstrap((x,), lambda s, axis: stats.trim_mean(s, 0.25, axis=axis),
                                  confidence_level=confidence, method="percentile",
                                  n_resamples=2000, rng=np.random.default_rng(seed))
            ci = [float(res.confidence_interval.low), float(res.confidence_interval.high)]
        else:
            ci = [iqm, iqm]
    return {"n": int(x.size), "median": float(med), "min": float(x.min()),
            "max": float(x.max()), "q25": float(q25), "q75": float(q75),
            "iqr": float(q75 - q25), "iqm": iqm, "ci": ci}


def a12(x: Sequence[float], y: Sequence[float]) -> float:
    """Vargha-Delaney A12: the probability that a run of ``x`` beats one of ``y`` (ties count
    half); 0.5 is no effect, 0.56 / 0.64 / 0.71 small / medium / large (Vargha & Delaney
    2000)."""
    a, b = np.asarray(x, float)[:, None], np.asarray(y, float)[None, :]
    return float(((a > b).sum() + 0.5 * (a == b).sum()) / (a.size * b.size))


def pairwise_tests(by_name: Mapping[str, Sequence[float]], *, min_n: int = MIN_SEEDS
                   ) -> list[dict[str, Any]]:
    """Two-sided Mann-Whitney U test of the final hypervolumes of every pair of samplers with
    at least ``min_n`` runs each (seeds are independent runs), its A12 effect size, and
    p-values adjusted over all those pairs (:data:`ADJUSTMENT`)."""
    from scipy import stats

    rows = []
    for a, b in combinations(sorted(by_name), 2):
        x, y = np.asarray(by_name[a], float), np.asarray(by_name[b], float)
        if len(x) < max(min_n, 1) or len(y) < max(min_n, 1):
            continue
        if np.ptp(np.concatenate([x, y])) == 0:
            u, p = len(x) * len(y) / 2, 1.0       # all values tie: no evidence either way
        else:
            res = stats.mannwhitneyu(x, y, alternative="two-sided")
            u, p = float(res.statistic), float(res.pvalue)
        rows.append({"a": a, "b": b, "n_a": len(x), "n_b": len(y), "u": float(u),
                     "p": float(p), "a12": a12(x, y), "median_a": float(np.median(x)),
                     "median_b": float(np.median(y)), "adjustment": ADJUSTMENT})
    if rows:
        adjusted = stats.false_discovery_control([r["p"] for r in rows], method="bh")
        for r, q in zip(rows, np.atleast_1d(adjusted)):
            r["p_adjusted"] = float(q)
    return rows


#: Studentized range q at alpha = 0.05 over sqrt(2), for k = 2..10 samplers (Demšar 2006,
#: Table 5a): the Nemenyi critical difference is q * sqrt(k (k + 1) / (6 N)).
_NEMENYI_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031,
                9: 3.102, 10: 3.164}


def average_ranks(per_problem: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """Average rank of each sampler over problems (rank 1: the highest median hypervolume on a
    problem; ties share the mean rank), only samplers present on every problem. With two or
    more problems and samplers: the Friedman test's p-value, and the Nemenyi critical
    difference at alpha = 0.05 (two samplers whose average ranks differ by less are not told
    apart; None past 10 samplers).

    Args:
        per_problem: problem name -> sampler name -> its median final hypervolume there.
    """
    from scipy import stats

    problems = sorted(per_problem)
    names = sorted(set.intersection(*(set(per_problem[p]) for p in problems))) \
        if problems else []
    if not names:
        return {"problems": problems, "samplers": {}, "friedman_p": None,
                "critical_difference": None}
    table = np.array([[per_problem[p][n] for n in names] for p in problems], dtype=float)
    ranks = np.vstack([stats.rankdata(-row) for row in table])
    out: dict[str, Any] = {"problems": problems,
                           "samplers": {n: float(r) for n, r in zip(names, ranks.mean(0))},
                           "friedman_p": None, "critical_difference": None}
    k, n = len(names), len(problems)
    if k >= 3 and n >= 2:
        out["friedman_p"] = float(stats.friedmanchisquare(*table.T).pvalue)
    if k >= 2 and n >= 2 and k in _NEMENYI_Q05:
        out["critical_difference"] = _NEMENYI_Q05[k] * float(np.sqrt(k * (k + 1) / (6 * n)))
    return out


def evaluations_to_target(hv: Sequence[float], target: float) -> int | None:
    """The first evaluation count (1-based) at which ``hv`` reaches ``target``; None if never."""
    hits = np.flatnonzero(np.asarray(hv, dtype=float) >= target)
    return int(hits[0]) + 1 if hits.size else None


def ecdf(curves: Sequence[Sequence[float]], targets: Sequence[float], budget: int
         ) -> np.ndarray:
    """Fraction of (run, target) pairs reached after k evaluations, k = 1..budget (COCO's
    runtime ECDF, one sampler's runs)."""
    hits = np.zeros(budget)
    pairs = 0
    for hv in curves:
        for target in targets:
            pairs += 1
            k = evaluations_to_target(hv, target)
            if k is not None and k <= budget:
                hits[k - 1:] += 1
    return hits / pairs if pairs else hits


def time_curve(hv: Sequence[float], wall: Sequence[float], grid: np.ndarray) -> np.ndarray:
    """A run's hypervolume at each time of ``grid`` (0 before its first evaluation)."""
    idx = np.searchsorted(np.asarray(wall, dtype=float), grid, side="right") - 1
    values = np.asarray(hv, dtype=float)
    return np.where(idx >= 0, values[np.clip(idx, 0, None)] if len(values) else 0.0, 0.0)


def combined_front(studies: Mapping[str, "optuna.Study"], ref: np.ndarray,
                   budget: int) -> list[tuple[str, "optuna.trial.FrozenTrial"]]:
    """The feasible designs no other run's feasible design dominates, pooled over every run's
    first ``budget`` evaluated trials (``moocore.is_nondominated``), with each one's run
    label; designs not dominating ``ref`` are left out."""
    import moocore
    from optuna.trial import TrialState

    pool: list[tuple[str, "optuna.trial.FrozenTrial"]] = []
    for label, study in studies.items():
        pool += [(label, t) for t in budget_trials(study, budget)
                 if t.state == TrialState.COMPLETE and is_feasible(t)]
    if not pool:
        return []
    directions = next(iter(studies.values())).directions
    points = minimization_matrix([t for _, t in pool], directions)
    inside = np.all(points < ref, axis=1)
    pool = [p for p, ok in zip(pool, inside) if ok]
    if not pool:
        return []
    keep = moocore.is_nondominated(points[inside], keep_weakly=True)
    return [p for p, k in zip(pool, keep) if k]
