"""``smac``: SMAC3's hyperparameter-optimisation facade (random forest, expected improvement,
local and random search of the acquisition) with ParEGO for several objectives, through its
ask / tell interface.

Each proposal builds a fresh facade in a temporary output folder: the search space as a
ConfigSpace (:mod:`._base`: choices by index, ordinal when ordered; grids by index; ints and
floats with their log flag), no initial design (the start-up designs are ours), and the
study's COMPLETE trials told as costs (minimised objectives as they are, maximised ones
negated). SMAC has no constraints: an infeasible trial's cost on every objective is the worst
cost observed plus its summed violation times that objective's observed range (at least 1),
so it ranks below every feasible design and more violation ranks lower. SMAC has no pending
points either: a proposal that repeats a running or evaluated design is asked again (up to
``retries`` times). When SMAC's intensifier finds no configuration at all (``StopIteration``
from ``ask``, seen on BraninCurrin after ~20 trials), the trial gets a random design, as a
start-up trial does, instead of failing the study.
"""

from __future__ import annotations

import tempfile
from typing import Any, Sequence

import numpy as np

from ._base import Observations, PeerParam, PeerSampler

__all__ = ["SMACSampler", "penalised_costs"]


def penalised_costs(Y: np.ndarray, C: np.ndarray, maximise: Sequence[bool]) -> np.ndarray:
    """SMAC's costs (minimised) of the observations: ``Y`` with maximised columns negated,
    infeasible rows (any ``C > 0``) penalised as the module docstring says."""
    cost = np.where(np.asarray(maximise, dtype=bool), -Y, Y).astype(float)
    if C.size == 0 or len(cost) == 0:
        return cost
    violation = np.clip(C, 0.0, None).sum(axis=1)
    bad = violation > 0
    if bad.any():
        worst = cost.max(axis=0)
        span = np.maximum(np.ptp(cost, axis=0), 1.0)
        cost[bad] = worst + violation[bad, None] * span
    return cost


def config_space(params: list[PeerParam], seed: int) -> Any:
    """The ConfigSpace of ``params``."""
    from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer

    cs = ConfigurationSpace(seed=seed)
    for p in params:
        if p.kind == "choice":
            cs.add(Categorical(p.key, list(range(int(p.high) + 1)), ordered=p.ordered))
        elif p.kind == "int":
            cs.add(Integer(p.key, (int(p.low), int(p.high)), log=p.log))
        else:
            cs.add(Float(p.key, (float(p.low), float(p.high)), log=p.log))
    return cs


class SMACSampler(PeerSampler):
    """SMAC3 (random forest; ParEGO for several objectives) as an Optuna sampler; see the
    module docstring.

    Args:
        seed: the seed of the start-up designs and of SMAC (plus the trial number).
        n_startup_trials: random designs before SMAC's model takes over.
        retries: asks per proposal while SMAC repeats a running or evaluated design.
        ordered: which categoricals are ordered (from the study).
    """

    def __init__(self, seed: int | None = None, n_startup_trials: int = 10, retries: int = 5,
                 ordered: dict[str, bool] | None = None) -> None:
        super().__init__(seed=seed, n_startup_trials=n_startup_trials, ordered=ordered)
        if not (isinstance(retries, int) and retries >= 1):
            raise ValueError(f"retries must be an integer >= 1, got {retries!r}")
        self._retries = retries

    def _propose(self, params: list[PeerParam], obs: Observations, maximise: list[bool],
                 seed: int) -> dict[str, Any]:
        from ConfigSpace import Configuration
        from smac import HyperparameterOptimizationFacade as Facade
        from smac import Scenario
        from smac.multi_objective.parego import ParEGO
        from smac.runhistory.dataclasses import TrialInfo, TrialValue

        cs = config_space(params, seed)
        m = len(maximise)
        names = [f"m{j}" for j in range(m)] if m > 1 else "cost"
        costs = penalised_costs(obs.Y, obs.C, maximise)
        seen = {tuple(sorted(row.items())) for row in obs.X + obs.pending}
        with tempfile.TemporaryDirectory(prefix="moo-cosearch-smac-") as out:
            scenario = Scenario(cs, deterministic=True, objectives=names, n_trials=10**9,
                                seed=seed, output_directory=out)
            smac = Facade(scenario, lambda config, seed=0: 0.0,
                          initial_design=Facade.get_initial_design(scenario, n_configs=0),
                          multi_objective_algorithm=ParEGO(scenario) if m > 1 else None,
                          overwrite=True, logging_level=40)
            for row, cost in zip(obs.X, costs):
                value = [float(v) for v in cost] if m > 1 else float(cost[0])
                smac.tell(TrialInfo(config=Configuration(cs, values=row), seed=seed),
                          TrialValue(cost=value))
            for _ in range(self._retries):
                try:
                    config = smac.ask().config
                except StopIteration:      # its intensifier found no configuration to run
                    rng = np.random.default_rng(seed)
                    return {p.key: self._random(p, rng) for p in params}
                row = {p.key: config[p.key] for p in params}
                if tuple(sorted(row.items())) not in seen:
                    break
        return row
