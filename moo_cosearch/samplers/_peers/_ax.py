"""``ax``: Ax's default Bayesian optimisation through its ``Client`` API (ask / tell).

Each proposal builds a fresh ``ax.api.Client``: the search space as Ax parameters
(:mod:`._base`: choices by index, grids by index, ints and floats as ranges with their log
scaling), the objectives as ``"-m0, m1"`` (minimised ones negated), each Optuna constraint
``c`` as the outcome constraint ``c <= 0``, and the study's reference point (when given) as
Ax's objective thresholds. The study's COMPLETE trials are attached and completed, its RUNNING
trials attached and left running (Ax's pending points), and Ax's generation strategy is its
default model-based node alone (``initialization_budget=0``: the start-up designs are ours):
for several objectives qLogNEHVI over a ``SingleTaskGP``, with Ax's mixed / discrete
acquisition optimiser; for one, qLogNEI.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Sequence

from ._base import Observations, PeerParam, PeerSampler

__all__ = ["AxSampler"]


def ax_parameters(params: list[PeerParam]) -> list[Any]:
    """The Ax parameter configs of ``params``."""
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    out: list[Any] = []
    for p in params:
        if p.kind == "choice":
            out.append(ChoiceParameterConfig(p.key, values=list(range(int(p.high) + 1)),
                                             parameter_type="int", is_ordered=p.ordered))
        else:
            bounds = (int(p.low), int(p.high)) if p.kind == "int" else (p.low, p.high)
            out.append(RangeParameterConfig(p.key, bounds=bounds, parameter_type=p.kind,
                                            scaling="log" if p.log else "linear"))
    return out


def ax_goals(maximise: Sequence[bool], n_constraints: int,
             reference_point: Sequence[float] | None) -> tuple[str, list[str]]:
    """Ax's objective string and outcome constraints (see the module docstring)."""
    objective = ", ".join(("" if up else "-") + f"m{j}" for j, up in enumerate(maximise))
    constraints = [f"c{i} <= 0.0" for i in range(n_constraints)]
    if reference_point is not None and len(maximise) > 1:
        constraints += [f"m{j} {'>=' if up else '<='} {float(r)!r}"
                        for j, (up, r) in enumerate(zip(maximise, reference_point))]
    return objective, constraints


class AxSampler(PeerSampler):
    """Ax's default Bayesian optimisation (qLogNEHVI for several objectives) as an Optuna
    sampler; see the module docstring.

    Args:
        seed: the seed of the start-up designs and of Ax (plus the trial number).
        n_startup_trials: random designs before Ax's model takes over (Ax's own default is
            5 to 10 by the number of parameters).
        reference_point: the objectives' reference point (their own units and directions),
            given to Ax as its objective thresholds; None lets Ax infer them.
        ordered: which categoricals are ordered (from the study).
    """

    def __init__(self, seed: int | None = None, n_startup_trials: int = 10,
                 reference_point: list[float] | None = None,
                 ordered: dict[str, bool] | None = None) -> None:
        super().__init__(seed=seed, n_startup_trials=n_startup_trials, ordered=ordered)
        self._reference_point = None if reference_point is None else [
            float(v) for v in reference_point]

    def _propose(self, params: list[PeerParam], obs: Observations, maximise: list[bool],
                 seed: int) -> dict[str, Any]:
        from ax.api.client import Client

        ref = self._reference_point
        if ref is not None and len(ref) != len(maximise):
            raise ValueError(f"reference_point must have one value per objective "
                             f"({len(maximise)}), got {ref}")
        objective, constraints = ax_goals(maximise, len(obs.constraint_names), ref)
        from ax.utils.common.logger import ROOT_STREAM_HANDLER

        level = ROOT_STREAM_HANDLER.level
        ROOT_STREAM_HANDLER.setLevel(logging.WARNING)   # Ax prints every trial at INFO
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # Ax's notes on thresholds and transforms
                client = Client(random_seed=seed)
                client.configure_experiment(parameters=ax_parameters(params))
                client.configure_optimization(objective=objective,
                                              outcome_constraints=constraints or None)
                client.configure_generation_strategy(initialization_budget=0,
                                                     initialize_with_center=False)
                for row, y, c in zip(obs.X, obs.Y, obs.C):
                    index = client.attach_trial(row)
                    data = {f"m{j}": float(v) for j, v in enumerate(y)}
                    data.update({f"c{i}": float(v) for i, v in enumerate(c)})
                    client.complete_trial(index, raw_data=data)
                for row in obs.pending:
                    client.attach_trial(row)
                ((_, proposal),) = client.get_next_trials(max_trials=1).items()
        finally:
            ROOT_STREAM_HANDLER.setLevel(level)
        return dict(proposal)
