"""The population path: ask × n, one cost-model call, tell × n."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from moo_cosearch import load_space, make_objective
from moo_cosearch.hardware import get_backend

OBJ = "nb201-cifar10-latency-area"


class CountingEdge:
    """The edge backend, counting its calls and the designs per call."""

    def __init__(self, fail_on=None):
        self.inner = get_backend("edge")
        self.name, self.metrics, self.slow = "edge", self.inner.metrics, False
        self.batches = []
        self.fail_on = fail_on

    def __call__(self, space, designs):
        self.batches.append(len(designs))
        if self.fail_on is not None and any(d["pes_x"] == self.fail_on for d in designs):
            raise RuntimeError("simulator crashed")
        return self.inner(space, designs)

    def reference(self, metric):
        return self.inner.reference(metric)


def test_a_generation_is_priced_in_one_call_and_matches_the_one_trial_path():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = load_space("nb201-edge")
    backend = CountingEdge()
    objective = make_objective(space, OBJ, cost=backend)
    study = optuna.create_study(directions=objective.directions,
                                sampler=optuna.samplers.NSGAIISampler(seed=0,
                                                                      population_size=10))
    told = objective.run_batch(study, 10)
    assert backend.batches == [10] and len(told) == 10
    single = make_objective(space, OBJ)
    for t in told:
        assert t.state == TrialState.COMPLETE
        ev = single.evaluate(t.params)
        assert list(ev.values) == pytest.approx(t.values, rel=1e-12)
        assert ev.constraints == pytest.approx(t.constraints, rel=1e-12)


def test_repeats_in_a_batch_are_pruned_and_failures_fail_alone():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = load_space("nb201-edge")
    backend = CountingEdge(fail_on=8)
    objective = make_objective(space, OBJ, cost=backend)
    study = optuna.create_study(directions=objective.directions)
    design = {**space.sample(1, seed=1)[0], "pes_x": 2}
    study.enqueue_trial(design)
    study.enqueue_trial(design)               # the same design twice in one batch
    study.enqueue_trial({**design, "pes_x": 8})
    told = objective.run_batch(study, 3)
    states = [t.state for t in told]
    assert states.count(TrialState.PRUNED) == 1
    assert [t for t in told if t.state == TrialState.PRUNED][0].user_attrs["skipped"] \
        .startswith("duplicate of trial")
    failed = [t for t in told if t.state == TrialState.FAIL]
    ok = [t for t in told if t.state == TrialState.COMPLETE]
    assert len(failed) == 1 and failed[0].params["pes_x"] == 8
    assert "simulator crashed" in failed[0].user_attrs["error"]
    assert len(ok) == 1 and ok[0].params == design


@pytest.mark.slow
def test_batch_trials_get_heartbeats(tmp_path):
    """As study.optimize beats for its trial, run_batch beats for every trial it asked, so a
    killed batch worker's trials go stale and are retried (none RUNNING forever)."""
    import sqlite3

    from moo_cosearch.storage import open_storage

    db = tmp_path / "s.db"
    objective = make_objective(load_space("nb201-edge"), OBJ)
    study = optuna.create_study(storage=open_storage(f"sqlite:///{db}", heartbeat=30),
                                directions=objective.directions)
    told = objective.run_batch(study, 4)
    evaluated = {t.number for t in told if t.state != TrialState.PRUNED}
    with sqlite3.connect(db) as con:
        beating = {row[0] for row in con.execute(
            "SELECT t.number FROM trial_heartbeats h JOIN trials t USING (trial_id)")}
    con.close()
    assert evaluated and evaluated <= beating, (evaluated, beating)


@pytest.mark.slow
def test_a_trial_asked_by_a_worker_killed_before_its_first_beat_is_failed(tmp_path):
    """A batch worker killed between study.ask and the first heartbeat leaves a RUNNING trial
    with nothing on it that never goes stale: past the grace it is failed (and retried);
    a trial with parameters or attributes is a live worker's and stays RUNNING."""
    import optuna

    from moo_cosearch.workers._worker import _fail_never_begun

    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/s.db")
    bare = study.ask()
    live = study.ask()
    live.suggest_int("x", 0, 3)
    tagged = study.ask()
    tagged.set_user_attr("run_tag", "w1")
    assert not _fail_never_begun(study, grace_s=3600)             # not past the grace yet
    assert _fail_never_begun(study, grace_s=0)
    states = {t.number: t.state.name for t in study.get_trials()}
    assert states == {bare.number: "FAIL", live.number: "RUNNING", tagged.number: "RUNNING"}
    assert not _fail_never_begun(study, grace_s=0)                # nothing left to fail
