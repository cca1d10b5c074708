"""The external peers ``ax`` (Ax) and ``smac`` (SMAC3), extra ``peers``.

Without the extra: both are registered and refuse to be made in one line naming the extra; the
shared parts (the peers' view of a search space, the study's trials as their data, SMAC's
constraint penalty, Ax's goals) are checked by hand. With it (``pytest.importorskip`` per
peer): Optuna's sampler suites, each peer's model on every kind of distribution under a
constraint, a proposal rebuilt from the storage alone (resume, other workers), and the CLI.

Optuna's suites run with ``n_startup_trials=100``: their studies stay in the random start-up,
so they check the Optuna plumbing (types, bounds, fixed and conditional parameters, NaN values,
``n_jobs=2``), not the peers' models, which take seconds (SMAC) to tens of seconds (Ax) per
proposal on a loaded two-core machine; ``test_model_*`` drives the models instead.
Exclusions: none.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.testing.pytest_samplers import (BasicSamplerTestCase, MultiObjectiveSamplerTestCase,
                                            RelativeSamplerTestCase)
from optuna.trial import TrialState

from moo_cosearch.samplers import (MissingDependencyError, create_sampler, list_samplers,
                                   sampler_study_options)
from moo_cosearch.samplers._peers._ax import ax_goals
from moo_cosearch.samplers._peers._base import PARAMS_KEY, observations, peer_params
from moo_cosearch.samplers._peers._smac import penalised_costs

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {"a": CategoricalDistribution(["x", "y", "z"]),
         "b": FloatDistribution(1e-3, 1.0, log=True),
         "c": IntDistribution(0, 8, step=2),
         "d": FloatDistribution(0.0, 1.0, step=0.25),
         "e": IntDistribution(1, 64, log=True),
         "f": FloatDistribution(-1.0, 1.0),
         "g": CategoricalDistribution([1, 2, 4])}


def objective(trial: optuna.Trial) -> tuple[float, float]:
    p = {name: trial._suggest(name, dist) for name, dist in SPACE.items()}
    trial.set_constraint("limit", p["c"] - 6.5)               # c = 8 is infeasible
    return p["b"] + p["c"] + p["e"] / 64, p["d"] - (p["a"] == "x") + p["f"] + p["g"]


# ---- without the extra --------------------------------------------------------------------------
def test_registered_with_study_options_and_the_penalty_stated():
    names = list_samplers()
    assert {"ax", "smac"} <= set(names)
    assert "penalty" in names["smac"] and "outcome constraints" in names["ax"]
    assert sampler_study_options("ax") == {"reference_point", "ordered"}
    assert sampler_study_options("smac") == {"ordered"}


@pytest.mark.parametrize("name", ["ax", "smac"])
def test_missing_extra_is_one_line_naming_it(name, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda mod, *a: None if mod == name else real(mod, *a))
    with pytest.raises(MissingDependencyError, match=r"moo-cosearch\[peers\]") as e:
        create_sampler(name, seed=0)
    assert "\n" not in str(e.value)


def test_peer_params_round_trip_every_kind():
    params = peer_params(SPACE, ordered={"a": False})
    assert [p.key for p in params] == [f"x{i}" for i in range(7)]
    kinds = {p.name: (p.kind, p.low, p.high, p.log, p.grid) for p in params}
    assert kinds["c"] == ("int", 0, 4, False, True)              # 0, 2, ..., 8 by index
    assert kinds["d"] == ("int", 0, 4, False, True)
    assert kinds["e"] == ("int", 1, 64, True, False)
    assert kinds["b"][0] == "float" and kinds["b"][3]
    assert [p.ordered for p in params if p.kind == "choice"] == [False, True]
    design = {"a": "z", "b": 0.02, "c": 6, "d": 0.75, "e": 9, "f": -0.5, "g": 4}
    for p in params:
        back = p.decode(p.encode(design[p.name]))
        assert back == design[p.name] and type(back) is type(design[p.name])
    by = {p.name: p for p in params}
    assert by["c"].decode(9.7) == 8 and by["e"].decode(0.2) == 1 and by["f"].decode(3.0) == 1.0


def test_observations_keep_finite_covered_trials_and_pending_designs():
    from optuna.trial import create_trial

    study = optuna.create_study(directions=["minimize", "maximize"])
    space = {"a": SPACE["a"], "c": SPACE["c"]}
    for a, c, state, values in [("x", 2, TrialState.COMPLETE, [1.0, 2.0]),
                                ("y", 4, TrialState.FAIL, None),
                                ("z", 8, TrialState.COMPLETE, [3.0, 0.0])]:
        study.add_trial(create_trial(state=state, values=values, params={"a": a, "c": c},
                                     distributions=space, constraints={"limit": c - 6.5}))
    # a running trial with ``a`` suggested and the rest in the stored proposal
    study.add_trial(create_trial(state=TrialState.RUNNING, params={"a": "z"},
                                 distributions={"a": space["a"]},
                                 system_attrs={PARAMS_KEY: json.dumps({"a": "y", "c": 4})}))
    params = peer_params(space)
    obs = observations(params, study.trials, 2, number=99)
    assert obs.X == [{"x0": 0, "x1": 1}, {"x0": 2, "x1": 4}]
    np.testing.assert_array_equal(obs.Y, [[1.0, 2.0], [3.0, 0.0]])
    assert obs.constraint_names == ["limit"]
    np.testing.assert_array_equal(obs.C, [[-4.5], [1.5]])
    assert obs.pending == [{"x0": 2, "x1": 2}]        # the suggested value wins
    assert observations(params, study.trials, 2, number=3).pending == []


def test_smac_penalty_ranks_infeasible_below_every_feasible_design():
    Y = np.array([[1.0, 5.0], [2.0, 9.0], [0.5, 1.0], [0.1, 10.0]])
    C = np.array([[-1.0], [0.0], [0.5], [2.0]])
    cost = penalised_costs(Y, C, [False, True])               # minimise, maximise
    np.testing.assert_array_equal(cost[:2], [[1.0, -5.0], [2.0, -9.0]])
    assert np.all(cost[2:] > cost[:2].max(axis=0))             # on every objective
    assert np.all(cost[3] > cost[2])                           # more violation ranks lower
    np.testing.assert_array_equal(penalised_costs(Y, np.zeros((4, 0)), [False, False]), Y)


def test_ax_goals_directions_constraints_and_thresholds():
    assert ax_goals([False, True], 2, None) == ("-m0, m1", ["c0 <= 0.0", "c1 <= 0.0"])
    assert ax_goals([False, True], 0, [5.0, 70.0]) == ("-m0, m1",
                                                       ["m0 <= 5.0", "m1 >= 70.0"])
    assert ax_goals([True], 0, [1.0]) == ("m0", [])            # one objective: no threshold


@pytest.mark.parametrize("name, options, message", [
    ("ax", {"n_startup_trials": 0}, "n_startup_trials must be an integer >= 1"),
    ("smac", {"retries": 0}, "retries must be an integer >= 1"),
    ("smac", {"reference_point": [1.0, 2.0]}, "takes options"),
])
def test_bad_options_fail_at_construction(name, options, message):
    pytest.importorskip(name)
    with pytest.raises(ValueError, match=message):
        create_sampler(name, seed=0, **options)


# ---- with the extra: Optuna's suites ------------------------------------------------------------
class _Suites(BasicSamplerTestCase, RelativeSamplerTestCase, MultiObjectiveSamplerTestCase):
    NAME = ""

    @pytest.fixture
    def sampler(self):
        pytest.importorskip(self.NAME)
        return lambda: create_sampler(self.NAME, seed=0, n_startup_trials=100)


class TestAxOptunaSuites(_Suites):
    NAME = "ax"


class TestSMACOptunaSuites(_Suites):
    NAME = "smac"


# ---- with the extra: the models -----------------------------------------------------------------
def run_model(name: str, n_startup: int, n_model: int, storage=None, **options):
    pytest.importorskip(name)
    study = optuna.create_study(directions=["minimize", "maximize"], storage=storage,
                                sampler=create_sampler(name, seed=0,
                                                       n_startup_trials=n_startup, **options))
    study.optimize(objective, n_trials=1 + n_startup + n_model)
    return study


def check_designs(study):
    for t in study.trials:
        assert t.state == TrialState.COMPLETE
        for name, dist in SPACE.items():
            v = t.params[name]
            assert dist._contains(dist.to_internal_repr(v)), (name, v)
            assert type(v) is type(dist.choices[0] if name in "ag" else dist.low)


@pytest.mark.slow
def test_model_smac_every_kind_under_a_constraint(tmp_path):
    db = f"sqlite:///{tmp_path}/s.db"
    study = run_model("smac", 3, 2, storage=db)
    check_designs(study)
    designs = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(designs)) == len(designs)
    # resume / another worker: a fresh sampler on the stored study proposes the same design as
    # another fresh one (the state is the trials), and stores it for the other workers
    again = optuna.load_study(study_name=study.study_name, storage=db,
                              sampler=create_sampler("smac", seed=0, n_startup_trials=3))
    again.ask().suggest_categorical("a", SPACE["a"].choices)    # proposes the whole design
    running = again.trials[-1]
    stored = json.loads(running.system_attrs[PARAMS_KEY])
    fresh = create_sampler("smac", seed=0, n_startup_trials=3)
    assert fresh.sample_relative(again, running, SPACE) == stored


def test_smac_with_nothing_left_to_propose_gives_a_random_design(monkeypatch):
    """SMAC's ``ask`` raises StopIteration when its intensifier finds no configuration (seen on
    BraninCurrin): the trial gets a random design instead of failing."""
    smac = pytest.importorskip("smac")

    def exhausted(self, *args, **kwargs):
        raise StopIteration

    monkeypatch.setattr(smac.HyperparameterOptimizationFacade, "ask", exhausted)
    study = run_model("smac", 3, 2)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    check_designs(study)


@pytest.mark.slow
def test_model_ax_every_kind_under_a_constraint():
    study = run_model("ax", 3, 1, reference_point=[80.0, -3.0])
    check_designs(study)
    assert PARAMS_KEY in study.trials[-1].system_attrs


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("name", ["smac", "ax"])
def test_cli_run_and_resume(name, tmp_path, capsys):
    pytest.importorskip(name)
    from moo_cosearch.cli import main

    db = f"sqlite:///{tmp_path}/cli.db"
    argv = ["run", "--sampler", name, "--trials", "3", "--storage", db,
            "--out", str(tmp_path / "out"), "-o", "n_startup_trials=2", "-q"]
    assert main(argv) == 0
    assert main(argv) == 0
    assert "resuming with 3 trials" in capsys.readouterr().out
    (study_name,) = optuna.get_all_study_names(db)
    trials = optuna.load_study(study_name=study_name, storage=db).trials
    assert len(trials) == 6 and all(t.state == TrialState.COMPLETE for t in trials)
