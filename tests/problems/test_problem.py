"""``make_problem``: the vectorised pymoo problem of a space + objective set, and the batch
path it stands on (``Objective.evaluate_many``).

Its values equal ``Objective.evaluate`` design by design (maximised objectives negated,
constraints as the Optuna objective records them), pruned designs are pruned the same way, one
cost-model call serves a population, a failing design does not fail the batch, and short pymoo
runs (MixedVariableGA, NSGA2 on the integer encoding) work."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from moo_cosearch import NB201Table, get_backend, load_space, make_objective, make_problem
from moo_cosearch.hardware import CostBackend
from moo_cosearch.networks import network_identity
from moo_cosearch.objectives import Objective, load_objectives

SPACE = load_space("nb201-edge")
OBJS = "nb201-cifar10-latency-area"
SIGN = np.array([-1.0, 1.0, 1.0])  # accuracy maximised; latency, area minimised


@pytest.fixture(scope="module")
def designs():
    return SPACE.sample(300, seed=0)


class Counting(CostBackend):
    """The edge backend, counting calls and batch sizes; optionally failing on a design."""

    def __init__(self, fail_if=None):
        self.inner = get_backend("edge")
        self.name, self.metrics = self.inner.name, self.inner.metrics
        self.batches: list[int] = []
        self.fail_if = fail_if

    def evaluate(self, space, designs):
        self.batches.append(len(designs))
        if self.fail_if is not None and any(self.fail_if(d) for d in designs):
            raise RuntimeError("simulator crashed")
        return self.inner(space, designs)

    def reference(self, metric):
        return self.inner.reference(metric)


class CountingAccuracy:
    def __init__(self):
        self.table = NB201Table("cifar10_test_200ep")
        self.calls = 0

    def __call__(self, design):
        self.calls += 1
        return self.table(design)


def same(a, b) -> bool:
    """Two evaluations agree (a batch and a single call of a vectorised cost model may differ in
    the last bits)."""
    def close(x, y):
        if isinstance(x, float) or isinstance(y, float):
            return x == pytest.approx(y, rel=1e-9, abs=1e-12)
        return x == y

    return (len(a.values) == len(b.values) and all(map(close, a.values, b.values))
            and a.constraints.keys() == b.constraints.keys()
            and all(close(a.constraints[k], b.constraints[k]) for k in a.constraints)
            and a.attrs.keys() == b.attrs.keys()
            and all(close(a.attrs[k], b.attrs[k]) for k in a.attrs))


@pytest.mark.slow
def test_values_and_constraints_equal_objective_evaluate(designs):
    problem = make_problem(SPACE, OBJS)
    objective = make_objective(SPACE, OBJS)
    assert problem.n_obj == 3 and problem.n_var == len(SPACE.params)
    assert problem.constraint_names() == objective.constraint_names()
    assert problem.n_ieq_constr == len(objective.constraint_names()) == 3
    F, G = problem.evaluate(SPACE.indices(designs), return_values_of=["F", "G"])
    assert F.shape == (300, 3) and G.shape == (300, 3)
    pruned = 0
    for i, d in enumerate(designs):
        ev = objective.evaluate(d)
        assert F[i] == pytest.approx(SIGN * np.array(ev.values), rel=1e-9, abs=1e-12)
        assert G[i] == pytest.approx([ev.constraints[n] for n in objective.constraint_names()],
                                     rel=1e-9, abs=1e-12)
        if not ev.attrs["accuracy_evaluated"]:  # pruned: accuracy 0 and a violated constraint
            pruned += 1
            assert F[i, 0] == 0 and G[i].max() > 0
    assert 0 < pruned < len(designs)  # both kinds are in the sample
    assert objective.skipped == problem.objective.skipped == pruned


@pytest.mark.slow
def test_pruned_designs_get_no_accuracy_evaluation(designs):
    acc = CountingAccuracy()
    problem = make_problem(SPACE, OBJS, accuracy=acc)
    ref = make_objective(SPACE, OBJS)
    problem.evaluate(SPACE.indices(designs))
    kept = {network_identity("nb201", d) for d in designs
            if ref.evaluate(d).attrs["accuracy_evaluated"]}
    # once per network (isomorphic cells are one network), never for a pruned design
    assert acc.calls == len(kept)
    assert problem.objective.accuracy.calls == len(kept)


def test_one_cost_call_per_population(designs):
    backend = Counting()
    problem = make_problem(SPACE, OBJS, cost=backend)
    problem.evaluate(SPACE.indices(designs[:50]))
    problem.evaluate(SPACE.indices(designs[50:90]))
    assert backend.batches == [50, 40]


def test_evaluate_many_equals_evaluate_design_by_design(designs):
    for name in (OBJS, "nb201-nahas-reward-hard", "nb201-cifar10-energy"):
        obj = load_objectives(name)
        space = load_space(obj.space) if obj.space else SPACE
        sample = space.sample(60, seed=1)
        one, many = make_objective(space, obj), make_objective(space, obj)
        batch = many.evaluate_many(sample)
        for d, ev in zip(sample, batch):
            assert same(ev, one.evaluate(d)), name
        assert one.skipped == many.skipped


def test_a_failing_design_gets_nan_and_an_error_not_the_batch(designs):
    crash = lambda d: d["pes_x"] == 8  # noqa: E731
    backend = Counting(fail_if=crash)
    objective = Objective(SPACE, load_objectives(OBJS), cost=backend)
    batch = designs[:40] + [{"edge0": "conv_5x5"}]  # the last one is off the grid
    evs = objective.evaluate_many(batch)
    reference = make_objective(SPACE, OBJS)
    n_bad = 0
    for d, ev in zip(batch, evs):
        if "edge1" not in d or crash(d):
            n_bad += 1
            assert all(math.isnan(v) for v in ev.values) and not ev.feasible
            assert set(ev.constraints) == set(objective.constraint_names())
            assert ev.attrs["error"].startswith("RuntimeError: simulator crashed" if "edge1" in d
                                                else "SpaceError")
        else:
            assert same(ev, reference.evaluate(d))
    assert 1 < n_bad < len(batch)
    # one batched call failed, then one call per design isolated the crashing ones
    assert backend.batches == [40] + [1] * 40
    # the single path raises what evaluate_many records
    with pytest.raises(RuntimeError, match="simulator crashed"):
        objective.evaluate(next(d for d in batch[:40] if crash(d)))
    strict = Objective(SPACE, load_objectives(OBJS), cost=Counting(fail_if=crash),
                       catch_errors=False)
    with pytest.raises(RuntimeError, match="simulator crashed"):
        strict.evaluate_many(batch[:40])
    # the pymoo problem: a failed design is infeasible with +inf objectives
    problem = make_problem(SPACE, objective)
    F, G = problem.evaluate(SPACE.indices(designs[:40]), return_values_of=["F", "G"])
    bad = np.array([crash(d) for d in designs[:40]])
    assert np.all(F[bad] == np.inf) and np.all(G[bad] == np.inf)  # +inf: worst for pymoo
    assert np.all(np.isfinite(F[~bad])) and np.all(np.isfinite(G[~bad]))


def test_variables_dicts_and_arrays_decode_to_the_same_designs(designs):
    from pymoo.core.variable import Choice, Integer

    problem = make_problem(SPACE, OBJS)
    assert list(problem.vars) == [p.name for p in SPACE.params]
    for p in SPACE.params:
        var = problem.vars[p.name]
        if p.ordered:
            assert isinstance(var, Integer) and tuple(var.bounds) == (0, len(p.choices) - 1)
        else:
            assert isinstance(var, Choice) and list(var.options) == list(range(len(p.choices)))
    assert problem.xl.tolist() == [0] * 13
    assert problem.xu.tolist() == [len(p.choices) - 1 for p in SPACE.params]
    X = SPACE.indices(designs[:20])
    rows = np.empty(20, dtype=object)
    rows[:] = [{p.name: np.int64(x[j]) for j, p in enumerate(SPACE.params)} for x in X]
    assert problem.designs(X) == designs[:20] == problem.designs(rows)
    assert problem.designs(X + 0.3) == designs[:20]  # rounded onto the grid
    F1 = problem.evaluate(X, return_values_of=["F"])
    F2 = problem.evaluate(rows, return_values_of=["F"])
    assert np.array_equal(F1, F2)
    assert type(pickle.loads(pickle.dumps(problem))).__name__ == "CoSearchProblem"


def _check_result(problem, res):
    assert res.X is not None and len(problem.designs(res.X)) == len(res.F)
    ref = make_objective(SPACE, OBJS)
    for d, f in zip(problem.designs(res.X), np.atleast_2d(res.F)):
        ev = ref.evaluate(d)
        assert ev.feasible  # pymoo's optimum is the feasible non-dominated set
        assert f == pytest.approx(SIGN * np.array(ev.values), rel=1e-9, abs=1e-12)


def test_short_mixed_variable_ga_run():
    from pymoo.algorithms.moo.nsga2 import RankAndCrowding
    from pymoo.core.mixed import MixedVariableGA
    from pymoo.optimize import minimize

    backend = Counting()
    problem = make_problem(SPACE, OBJS, cost=backend)
    res = minimize(problem, MixedVariableGA(pop_size=16, survival=RankAndCrowding()),
                   ("n_gen", 4), seed=0)
    _check_result(problem, res)
    assert len(backend.batches) <= 4 and sum(backend.batches) <= 16 * 4  # one call per population


def test_short_nsga2_run_on_the_integer_encoding():
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.optimize import minimize

    problem = make_problem(SPACE, OBJS)
    res = minimize(problem, NSGA2(pop_size=16, **problem.integer_operators()), ("n_gen", 4),
                   seed=0)
    _check_result(problem, res)
    assert np.issubdtype(np.asarray(res.X).dtype, np.integer)


def test_make_problem_takes_an_objective_and_rejects_mixed_arguments():
    objective = make_objective(SPACE, OBJS)
    problem = make_problem(SPACE, objective)
    assert problem.objective is objective
    with pytest.raises(ValueError, match="not with an Objective"):
        make_problem(SPACE, objective, cost="edge")
    with pytest.raises(ValueError, match="evaluates space"):
        make_problem(load_space("nb201-edge"), objective)


@pytest.mark.filterwarnings("error")
def test_a_run_goes_on_through_failing_designs():
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.optimize import minimize

    crash = lambda d: d["pes_x"] in (4, 8)  # noqa: E731
    problem = make_problem(SPACE, OBJS, cost=Counting(fail_if=crash))
    res = minimize(problem, NSGA2(pop_size=16, **problem.integer_operators()), ("n_gen", 4),
                   seed=0)
    failed = [a for a in res.pop.get("attrs") if "error" in a]
    assert np.all(np.isfinite(res.F)) and not any(crash(d) for d in problem.designs(res.X))
    assert all(a["error"] == "RuntimeError: simulator crashed" for a in failed)
