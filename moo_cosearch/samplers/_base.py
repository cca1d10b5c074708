"""What our relative samplers share: the Optuna plumbing around their own proposals."""

from __future__ import annotations

import threading
from typing import Any, Sequence

from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

__all__ = ["RelativeSampler"]


class RelativeSampler(BaseSampler):
    """A sampler that proposes whole designs in ``sample_relative`` over the intersection
    search space (single-valued distributions left out) and leaves the rest (trial 0, before
    the space is known; parameters outside it) to an independent sampler. ``_lock`` serialises
    proposals of one process (``n_jobs > 1``); a pickled copy gets its own lock.

    Args:
        independent: the sampler for everything outside the relative search space.
    """

    def __init__(self, independent: BaseSampler) -> None:
        self._independent = independent
        self._search_space = IntersectionSearchSpace()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]  # a lock does not pickle; each copy gets its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def infer_relative_search_space(self, study: Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {name: dist for name, dist in self._search_space.calculate(study).items()
                if not dist.single()}

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._independent.sample_independent(study, trial, param_name,
                                                    param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._independent.after_trial(study, trial, state, values)
