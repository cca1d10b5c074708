"""qEHVI with several threads of one process (``study.optimize(..., n_jobs=2)``): the sampler
proposes distinct designs, in the model phase and in the random start-up.

The cause of the repeats this guards against: the proposal of a trial becomes visible to the
other workers (a system attr read as a pending point) only once it is written, after
proposing; two threads proposing at the same time both read the trials before either wrote,
and with (nearly) the same data often picked the same design. The sampler now proposes under a
per-sampler lock, and its start-up designs are drawn whole, redrawn while they repeat an
evaluated or pending design, and recorded as pending too."""

from __future__ import annotations

import pickle
import threading
import time

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution

from moo_cosearch import load_space, make_objective
from moo_cosearch.samplers import create_sampler

optuna.logging.set_verbosity(optuna.logging.WARNING)

# every test here runs two threads for seconds
pytestmark = pytest.mark.slow

SPACE = load_space("nb201-edge")
OBJS = "nb201-cifar10-latency-area"
PARAMS_KEY = "moo_cosearch:qehvi_params"


def _key(params) -> tuple:
    return tuple(sorted(params.items()))


def _sampler(seed, **kw):
    options = dict(n_candidates=1024, n_rescore=16, mc_samples=16, n_startup_trials=3)
    return create_sampler("qehvi", seed=seed, **{**options, **kw})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_jobs_twenty_trials_no_repeated_design(seed):
    objective = make_objective(SPACE, OBJS)
    study = optuna.create_study(directions=objective.directions, sampler=_sampler(seed))
    study.optimize(objective, n_trials=20, n_jobs=2)
    trials = study.trials
    assert len(trials) == 20 and all(t.state.name == "COMPLETE" for t in trials)
    designs = [_key(t.params) for t in trials]
    assert len(set(designs)) == 20, [d for d in designs if designs.count(d) > 1]
    assert sum(PARAMS_KEY in t.system_attrs for t in trials) >= 10  # the model did propose


def test_a_thread_proposing_sees_the_proposal_in_flight_of_the_other():
    """Two threads ask at (almost) the same time while the first proposal takes a while: the
    second proposal is made after the first is stored, with it as a pending design."""
    objective = make_objective(SPACE, OBJS)
    sampler = _sampler(0, n_candidates=256)
    study = optuna.create_study(directions=objective.directions, sampler=sampler)
    study.optimize(objective, n_trials=3)  # the start-up
    seen_running: list[int] = []
    propose = sampler._propose

    def slow(study, done, running, search_space):
        seen_running.append(len(running))
        time.sleep(1.0)  # a slow proposal: the other thread asks meanwhile
        return propose(study, done, running, search_space)

    sampler._propose = slow
    asked = {}

    def ask(name):
        trial = study.ask()
        asked[name] = SPACE.suggest(trial)

    threads = [threading.Thread(target=ask, args=(name,)) for name in "ab"]
    threads[0].start()
    time.sleep(0.05)
    threads[1].start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(seen_running) == [0, 1]  # before the fix: [0, 0], neither saw the other
    assert _key(asked["a"]) != _key(asked["b"])


TINY = {"a": CategoricalDistribution(["p", "q", "r"]), "b": IntDistribution(0, 2)}  # 9 designs


@pytest.mark.parametrize("seed", [0, 1])
def test_startup_designs_do_not_repeat(seed):
    """Nine random start-up trials in a nine-design space cover it (independent uniform draws
    would repeat with probability 1 - 9!/9**9 > 99.9%)."""
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=_sampler(seed, n_startup_trials=20))
    for _ in range(9):
        t = study.ask(TINY)
        study.tell(t, (t.params["b"], -t.params["b"]))
    designs = [_key(t.params) for t in study.trials]
    assert len(set(designs)) == 9, designs
    assert not any(PARAMS_KEY in t.system_attrs for t in study.trials)  # all start-up


def test_startup_designs_avoid_running_trials():
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=_sampler(0, n_startup_trials=20))
    t = study.ask(TINY)
    study.tell(t, (0.0, 0.0))
    running = [study.ask(TINY) for _ in range(8)]  # none told: all pending
    designs = [_key(t.params)] + [_key(r.params) for r in running]
    assert len(set(designs)) == 9, designs


def test_sampler_pickles_with_a_fresh_lock():
    sampler = _sampler(0)
    copy = pickle.loads(pickle.dumps(sampler))
    assert copy._lock is not sampler._lock
    assert copy._lock.acquire(blocking=False)
    copy._lock.release()
