"""OptunaHub-style benchmark problems: every built-in objective set with its space, the
BaseProblem/ConstrainedMixin interface, a plain Optuna study on one, and bad names."""

from __future__ import annotations

import optuna
import pytest

from moo_cosearch import load_space, make_objective
from moo_cosearch.problems.hub import Problem, list_problems, load_problem
from moo_cosearch.objectives import list_objectives, load_objectives

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_every_objective_set_is_a_problem_on_its_space():
    names = list_problems()
    assert sorted(names) == sorted(f"{load_objectives(o).space}/{o}" for o in list_objectives())
    # a pair no set names, but that fits: NASAIC's cost-only set on another workload
    assert load_problem("nasaic-w1/nasaic-cost").name == "nasaic-w1/nasaic-cost"


def test_interface_and_values_on_the_baseline():
    problem = load_problem("nb201-edge/nb201-cifar10-latency-area")
    space = load_space("nb201-edge")
    assert problem.search_space == space.distributions_for("categorical")
    assert [d.name for d in problem.directions] == ["MAXIMIZE", "MINIMIZE", "MINIMIZE"]
    assert problem.reference_point == [0.0, 0.2, pytest.approx(147.84144530285715)]
    params = {k: v for k, v in space.baseline.items() if k in problem.search_space}
    acc, latency, area = problem.evaluate(params)
    assert acc == pytest.approx(94.37, abs=0.01)     # best NB201 cell, CIFAR-10 (the paper)
    assert (latency, area) == make_objective(space, problem.objectives).evaluate(
        space.baseline).values[1:]
    # feasible hardware; area exactly the limit (the baseline's): 0; latency well inside
    feasible, over_area, over_latency = problem.evaluate_constraints(params)
    assert (feasible, over_area) == (0.0, pytest.approx(0.0, abs=1e-12))
    assert over_latency == pytest.approx((latency - 0.2) / 0.2)
    assert problem.constraint_names == ["feasible", "area_mm2<=147.841", "latency_ms<=0.2"]
    assert load_problem("nb201-cifar10-latency-area").name == problem.name   # its own space


def test_a_plain_optuna_study_on_a_problem():
    problem = Problem("nb201-edge", "nb201-nahas-reward-soft")      # single objective
    study = optuna.create_study(directions=problem.directions,
                                sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(problem, n_trials=15)
    t = study.trials[0]
    assert set(t.constraints) == set(problem.constraint_names)
    assert t.value == problem.evaluate(t.params)
    assert list(t.constraints.values()) == problem.constraints_func(t)
    assert "latency_ms" in t.user_attrs and len(study.trials) == 15
    assert study.metric_names == ["reward"]          # named by the problem, not "Objective 0"


@pytest.mark.parametrize("name, rule", [
    ("nope", "nope"),
    ("nb201-edge/nope", "nope"),
    ("nope/nb201-cifar10-latency-area", "nope"),
    ("nahas-mbv2-edge/nb201-cifar10-latency-area", "fails on a sample design"),
    ("", "a problem is"),
])
def test_bad_problem_names(name, rule):
    with pytest.raises(ValueError, match=rule) as e:
        load_problem(name)
    assert "\n" not in str(e.value)


def test_evaluate_refuses_off_grid_designs():
    problem = load_problem("nb201-edge/nb201-cifar10-latency-area")
    params = {k: v for k, v in load_space("nb201-edge").baseline.items()
              if k in problem.search_space}
    with pytest.raises(ValueError, match="pes_x must be one of"):
        problem.evaluate({**params, "pes_x": 3})
