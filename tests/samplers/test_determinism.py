"""Same seed, one worker: identical trials, for every registered sampler."""

from __future__ import annotations

import optuna
import pytest

from moo_cosearch import create_study, load_space, make_objective
from moo_cosearch.samplers import list_samplers

_FAST = {"qehvi": {"n_startup_trials": 4}, "qnehvi": {"n_startup_trials": 4}}


def _params(name: str, seed: int) -> list[dict]:
    space = load_space("nb201-edge")
    study = create_study(space, "nb201-cifar10-latency-area", sampler=name, seed=seed,
                         storage=None, sampler_options=_FAST.get(name))
    study.optimize(make_objective(space, "nb201-cifar10-latency-area"), n_trials=8)
    return [t.params for t in study.trials]


#: the qEHVI pair fits a GP every trial: seconds each, so they run with the slow tests
_SLOW = {"qehvi", "qnehvi"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in _SLOW else n
                                  for n in sorted(list_samplers())])
def test_same_seed_same_trials(name):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    first = _params(name, seed=3)
    assert len(first) >= 8
    assert _params(name, seed=3) == first
