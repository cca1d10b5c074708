"""qEHVI / qNEHVI sampler (``create_sampler("qehvi" | "qnehvi")``) and its search-space Encoder.

Optuna's own sampler test suites run on the sampler (with small pools so they stay fast), then
behaviour that is specific to it: the encoding, mixed and categorical-only spaces, constraints,
determinism, resuming from storage, pending trials, a BraninCurrin hypervolume check against
random search, the ``prescreen`` hook and the registry. The sampler is the wiring in
``samplers/_qehvi/_sampler.py`` of the other modules of ``samplers/_qehvi/``.

The machine these run on has 2 cores shared with benchmarks: torch runs single-threaded here
(much faster for these tiny GPs under contention) and nothing asserts a timing.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings

import moocore
import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.testing.pytest_samplers import (BasicSamplerTestCase, MultiObjectiveSamplerTestCase,
                                            RelativeSamplerTestCase, _create_new_trial)
from optuna.trial import TrialState

import moo_cosearch
from moo_cosearch.samplers import create_sampler
from moo_cosearch.samplers._qehvi._encoding import Encoder
from moo_cosearch.samplers._qehvi._pool import candidate_pool
from moo_cosearch.samplers._qehvi._sampler import QEHVISampler

optuna.logging.set_verbosity(optuna.logging.WARNING)

# warning filters (Optuna's ExperimentalWarning, gpytorch's jitter and jit.script notices) and
# torch on one thread (tests/conftest.py) are set once for the whole run

PARAMS_KEY = "moo_cosearch:qehvi_params"  # system attr holding a model proposal
SMALL = dict(n_candidates=256, n_rescore=16, mc_samples=16)  # fast pools for the Optuna suites


def small(seed: int | None = 0, n_startup_trials: int = 2, **kw) -> QEHVISampler:
    return QEHVISampler(seed=seed, n_startup_trials=n_startup_trials, **{**SMALL, **kw})


def in_distribution(dist, value) -> bool:
    return dist._contains(dist.to_internal_repr(value))


def model_based(trial) -> bool:
    return PARAMS_KEY in trial.system_attrs


def hypervolume(values: np.ndarray, ref: np.ndarray) -> float:
    inside = values[np.all(values < ref, axis=1)]
    return float(moocore.hypervolume(inside, ref=ref)) if len(inside) else 0.0


# ---- 1. Optuna's sampler suites --------------------------------------------------------------
def _same_parametrization(parent):
    """Decorator: give an overriding test the parent's pytest marks (its parametrization)."""

    def deco(f):
        f.pytestmark = list(getattr(parent, "pytestmark", []))
        return f

    return deco


def _assert_empty_during_startup(factory, search_space) -> None:
    """Why the relative cases are overridden: one told trial < n_startup_trials (2) -> {}."""
    study = optuna.create_study(sampler=factory())
    trial = study.ask(search_space)
    study.tell(trial, 0.0)
    assert study.sampler.sample_relative(study, _create_new_trial(study), search_space) == {}


def _one_startup_trial():
    return small(n_startup_trials=1)


@pytest.mark.slow
class TestQEHVIOptunaSuites(BasicSamplerTestCase, RelativeSamplerTestCase,
                            MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: small()

    # Overrides. Optuna's three sample_relative_* cases tell ONE trial and then index the dict
    # returned by sample_relative. QEHVISampler returns {} on purpose until n_startup_trials
    # (here 2) trials are complete (random start-up), so the inherited bodies would raise
    # KeyError. Each override checks exactly that start-up behaviour, then runs the inherited
    # body with a one-trial start-up, so that every sample_relative call in it is model-based
    # (qLogEI: these cases are single-objective).
    @_same_parametrization(RelativeSamplerTestCase.test_sample_relative_numerical)
    def test_sample_relative_numerical(self, sampler, x_distribution, y_distribution):
        _assert_empty_during_startup(sampler, {"x": x_distribution, "y": y_distribution})
        super().test_sample_relative_numerical(_one_startup_trial, x_distribution,
                                               y_distribution)

    def test_sample_relative_categorical(self, sampler):
        _assert_empty_during_startup(sampler, {"x": CategoricalDistribution([1, 10, 100])})
        super().test_sample_relative_categorical(_one_startup_trial)

    @_same_parametrization(RelativeSamplerTestCase.test_sample_relative_mixed)
    def test_sample_relative_mixed(self, sampler, x_distribution):
        _assert_empty_during_startup(sampler, {"x": x_distribution})
        super().test_sample_relative_mixed(_one_startup_trial, x_distribution)


class TestQNEHVIOptunaSuites(MultiObjectiveSamplerTestCase):
    """The lighter subset for the noisy variant (same code apart from the acquisition)."""

    @pytest.fixture
    def sampler(self):
        return lambda: create_sampler("qnehvi", seed=0, n_startup_trials=2, **SMALL)

    def test_is_noisy(self, sampler):
        assert sampler()._noisy is True
        assert create_sampler("qehvi", seed=0)._noisy is False


def test_relative_search_space_drops_single_value_distributions():
    study = optuna.create_study(sampler=small())
    dists = {"a": FloatDistribution(0, 1), "b": CategoricalDistribution(["only"]),
             "c": IntDistribution(2, 2)}
    study.tell(study.ask(dists), 1.0)
    space = study.sampler.infer_relative_search_space(study, _create_new_trial(study))
    assert set(space) == {"a"}


# ---- 2. Encoder ------------------------------------------------------------------------------
SPACE = {
    "cat": CategoricalDistribution(["a", "b", "c"]),  # names: one-hot, 3 columns
    "grid": CategoricalDistribution([1, 2, 4, 8]),  # numbers: ordinal, 1 column
    "lr": FloatDistribution(1e-3, 1.0, log=True),
    "n": IntDistribution(0, 10, step=2),
    "xy": CategoricalDistribution(["x", "y"]),  # two names: 1 column
}


def _design(**over):
    return {**{"cat": "b", "grid": 4, "lr": 1e-2, "n": 4, "xy": "y"}, **over}


def test_encoder_layout_and_hand_checked_values():
    enc = Encoder(SPACE)
    assert [(b.name, b.kind, b.start, b.width) for b in enc.blocks] == [
        ("cat", "onehot", 0, 3), ("grid", "ordinal", 3, 1), ("lr", "float", 4, 1),
        ("n", "grid", 5, 1), ("xy", "ordinal", 6, 1)]
    assert enc.dim == 7
    row = enc.encode([_design()])
    assert row.shape == (1, 7)
    # cat=b -> 0 1 0; grid=4 is index 2 of 4 -> 2/3; lr=1e-2 is 1/3 of the way from 1e-3 to 1
    # in log space; n=4 on 0..10 step 2 -> 0.4; xy=y -> 1
    np.testing.assert_allclose(row[0], [0, 1, 0, 2 / 3, 1 / 3, 0.4, 1.0], atol=1e-12)
    np.testing.assert_allclose(enc.encode([_design(cat="a", grid=1, lr=1e-3, n=0, xy="x")])[0],
                               [1, 0, 0, 0, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(enc.encode([_design(cat="c", grid=8, lr=1.0, n=10)])[0],
                               [0, 0, 1, 1, 1, 1, 1], atol=1e-12)


def test_encoder_ordered_flags_override_inference():
    enc = Encoder(SPACE, ordered={"grid": False})
    grid = next(b for b in enc.blocks if b.name == "grid")
    assert (grid.kind, grid.width) == ("onehot", 4)
    assert enc.dim == 10
    np.testing.assert_array_equal(enc.encode([_design(grid=4)])[0, grid.start:grid.start + 4],
                                  [0, 0, 1, 0])
    # and the other way round: names declared ordered become one ordinal column
    enc2 = Encoder(SPACE, ordered={"cat": True})
    cat = next(b for b in enc2.blocks if b.name == "cat")
    assert (cat.kind, cat.width) == ("ordinal", 1)
    assert enc2.encode([_design(cat="b")])[0, cat.start] == pytest.approx(0.5)


def _assert_valid_rows(enc: Encoder, X: np.ndarray) -> list[dict]:
    assert X.shape[1] == enc.dim
    assert np.all((X >= 0) & (X <= 1))
    np.testing.assert_allclose(enc.snap(X), X, atol=1e-12)  # on the grid already
    designs = [enc.decode(r) for r in X]
    for d in designs:
        for name, dist in SPACE.items():
            assert in_distribution(dist, d[name]), (name, d[name])
    for b in enc.blocks:
        if b.kind == "onehot":
            np.testing.assert_array_equal(X[:, b.start:b.start + b.width].sum(axis=1), 1)
    return designs


def test_encoder_round_trip():
    enc = Encoder(SPACE)
    rng = np.random.default_rng(0)
    designs = [enc.decode(r) for r in enc.random(200, rng)]
    X = enc.encode(designs)
    back = [enc.decode(r) for r in X]
    for d, b in zip(designs, back):
        assert b.keys() == d.keys()
        for name in ("cat", "grid", "n", "xy"):
            assert b[name] == d[name] and type(b[name]) is type(d[name])
        assert b["lr"] == pytest.approx(d["lr"], rel=1e-12)
        assert type(b["n"]) is int and type(b["lr"]) is float
    np.testing.assert_allclose(enc.encode(back), X, atol=1e-12)


def test_encoder_snap_puts_rows_on_the_grid():
    enc = Encoder(SPACE)
    rng = np.random.default_rng(1)
    raw = rng.uniform(-0.2, 1.2, size=(300, enc.dim))
    X = enc.snap(raw)
    designs = _assert_valid_rows(enc, X)
    np.testing.assert_allclose(enc.encode(designs), X, atol=1e-12)  # decode(snap) re-encodes
    np.testing.assert_array_equal(enc.snap(X), X)  # idempotent
    # a hand-checked one: ordinal 0.4 of 4 levels -> nearest level 1/3; int 0.33 of 6 -> 0.4
    row = np.array([[0.2, 0.9, 0.1, 0.4, 0.5, 0.33, 0.7]])
    np.testing.assert_allclose(enc.snap(row)[0], [0, 1, 0, 1 / 3, 0.5, 0.4, 1.0])


def test_encoder_random_mutate_crossover_are_valid():
    enc = Encoder(SPACE)
    rng = np.random.default_rng(2)
    R = enc.random(300, rng)
    _assert_valid_rows(enc, R)
    parents = R[:5]
    M = enc.mutate(parents, 300, rng)
    _assert_valid_rows(enc, M)  # discrete blocks resampled on their grid, floats within [0, 1]
    assert len(np.unique(M[:, 4])) > 100  # floats move (5 parents, 300 children)
    C = enc.crossover(parents, 300, rng)
    _assert_valid_rows(enc, C)
    # uniform sampling covers every level
    assert {d["cat"] for d in (enc.decode(r) for r in R)} == {"a", "b", "c"}
    assert {d["grid"] for d in (enc.decode(r) for r in R)} == {1, 2, 4, 8}
    assert {d["n"] for d in (enc.decode(r) for r in R)} == {0, 2, 4, 6, 8, 10}


def test_encoder_crossover_takes_each_block_from_a_parent():
    enc = Encoder(SPACE)
    p = enc.encode([_design(cat="a", grid=1, lr=1e-3, n=0, xy="x")])[0]
    q = enc.encode([_design(cat="c", grid=8, lr=1.0, n=10, xy="y")])[0]
    C = enc.crossover(np.stack([p, q]), 400, np.random.default_rng(3))
    mixed = 0
    for child in C:
        sources = set()
        for b in enc.blocks:
            cols = slice(b.start, b.start + b.width)
            from_p = np.array_equal(child[cols], p[cols])
            from_q = np.array_equal(child[cols], q[cols])
            assert from_p or from_q, (b.name, child)
            sources.add("p" if from_p else "q")
        mixed += len(sources) == 2
    assert mixed > 100  # blocks really are mixed, not whole parents copied


def test_encoder_mutate_moves_floats_by_small_gaussian_steps():
    enc = Encoder({"x": FloatDistribution(0, 1)})
    M = enc.mutate(np.array([[0.5]]), 200, np.random.default_rng(4), sigma=0.1)
    assert np.all(M != 0.5)
    assert 0.05 < np.std(M - 0.5) < 0.2


def test_encoder_mutate_child_differs_from_parent():
    enc = Encoder({"a": CategoricalDistribution(["x", "y"]), "b": IntDistribution(0, 2)})
    parent = enc.encode([{"a": "x", "b": 1}])
    children = enc.mutate(parent, 100, np.random.default_rng(0))
    same = np.all(children == parent, axis=1)
    assert not same.any(), f"{int(same.sum())} of 100 children are copies of their parent"


def test_encoder_neighbours_are_one_discrete_step_away():
    enc = Encoder(SPACE)
    x = enc.encode([_design()])[0]  # cat=b, grid=4, lr=1e-2, n=4, xy=y
    got = [enc.decode(r) for r in enc.neighbours(x)]
    assert all(d["lr"] == pytest.approx(1e-2) for d in got)
    changed = [{k: v for k, v in d.items() if k != "lr" and v != _design()[k]} for d in got]
    # cat (one-hot) to each other name; grid and n one level down and up; xy (2 names,
    # one column) to its other end; the float never
    assert sorted(map(str, changed)) == sorted(map(str, [
        {"cat": "a"}, {"cat": "c"}, {"grid": 2}, {"grid": 8}, {"n": 2}, {"n": 6},
        {"xy": "x"}]))
    ends = enc.encode([_design(grid=1, n=10, xy="x")])[0]
    changed = [{k: v for k, v in enc.decode(r).items()
                if k != "lr" and v != _design(grid=1, n=10, xy="x")[k]}
               for r in enc.neighbours(ends)]
    assert {"grid": 2} in changed and {"n": 8} in changed and {"xy": "y"} in changed
    assert len(changed) == 5  # at the ends of grid and n only one neighbour each


def test_local_search_climbs_to_the_acquisition_optimum_and_avoids_seen_designs():
    import torch

    from moo_cosearch.samplers._qehvi._local import local_search
    from moo_cosearch.samplers._qehvi._pool import row_keys

    space = {f"p{i}": IntDistribution(0, 6) for i in range(5)}
    enc = Encoder(space)
    target = enc.encode([{f"p{i}": 3 for i in range(5)}])[0]

    def acq(X):  # (n, 1, d) -> (n,): a separable bowl, best at p_i = 3
        return -((X[:, 0, :] - torch.as_tensor(target)) ** 2).sum(-1)

    start = torch.as_tensor(enc.encode([{f"p{i}": 0 for i in range(5)}]))
    v0 = acq(start.unsqueeze(1))
    # 15 single steps reach the optimum; with the optimum itself already evaluated, the
    # search stops next to it instead
    moved, val = local_search(enc, start, v0, acq, set(), 20, prescore=lambda r: acq(r[:, None]))
    assert enc.decode(moved[0].numpy()) == {f"p{i}": 3 for i in range(5)}
    assert float(val[0]) == pytest.approx(0.0)
    seen = row_keys(target[None])
    moved, val = local_search(enc, start, v0, acq, seen, 20, prescore=lambda r: acq(r[:, None]))
    assert moved[0].numpy().tobytes() not in seen
    assert sum(abs(v - 3) for v in enc.decode(moved[0].numpy()).values()) == 1
    # a budget of 4 moves goes 4 steps, each improving
    moved, val = local_search(enc, start, v0, acq, set(), 4, prescore=lambda r: acq(r[:, None]))
    assert sum(enc.decode(moved[0].numpy()).values()) == 4 and float(val[0]) > float(v0[0])


def test_encoder_pools_are_reproducible():
    enc = Encoder(SPACE)

    def pools(seed):
        rng = np.random.default_rng(seed)
        R = enc.random(50, rng)
        return R, enc.mutate(R[:4], 50, rng), enc.crossover(R[:4], 50, rng)

    for a, b in zip(pools(7), pools(7)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(pools(7)[0], pools(8)[0])


# ---- 3. mixed spaces, 2 objectives with mixed directions -------------------------------------
def mixed_objective(trial):
    x = trial.suggest_float("x", -2.0, 2.0)
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    n = trial.suggest_int("n", 0, 20, step=4)
    w = trial.suggest_int("w", 1, 64, log=True)
    op = trial.suggest_categorical("op", ["conv", "pool", "skip"])
    pe = trial.suggest_categorical("pe", [1, 2, 4, 8])
    acc = (-x * x + {"conv": 1.0, "pool": 0.5, "skip": 0.0}[op] + 0.02 * n
           + 0.1 * math.log(lr) / 9 + 0.1 * math.log2(w))
    cost = (x - 1.0) ** 2 + 0.05 * n + 0.02 * w + 1.0 / pe
    return acc, cost  # maximise acc, minimise cost


MIXED_SPACE = {"x": FloatDistribution(-2.0, 2.0), "lr": FloatDistribution(1e-4, 1.0, log=True),
               "n": IntDistribution(0, 20, step=4), "w": IntDistribution(1, 64, log=True),
               "op": CategoricalDistribution(["conv", "pool", "skip"]),
               "pe": CategoricalDistribution([1, 2, 4, 8])}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["qehvi", "qnehvi"])
def test_mixed_space_two_objectives(name):
    sampler = create_sampler(name, seed=0, n_startup_trials=5, n_candidates=512, n_rescore=32,
                             mc_samples=32)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(mixed_objective, n_trials=20)
    trials = study.trials
    assert len(trials) == 20 and all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        assert t.distributions == MIXED_SPACE
        for k, v in t.params.items():
            assert in_distribution(MIXED_SPACE[k], v), (t.number, k, v)
            if isinstance(MIXED_SPACE[k], IntDistribution):
                assert type(v) is int
            elif isinstance(MIXED_SPACE[k], FloatDistribution):
                assert type(v) is float
    # random start-up first, then every trial from the model, whose proposals were kept
    # (a proposal off its distribution would be silently replaced by a random value)
    assert [model_based(t) for t in trials] == [False] * 5 + [True] * 15
    for t in trials[5:]:
        assert json.loads(t.system_attrs[PARAMS_KEY]) == t.params
    assert {"fit_s", "pool_s", "score_s"} <= set(sampler.last_timing)
    # the model's trials add to the random start-up's front
    F = np.array([[-a, c] for a, c in (t.values for t in trials)])
    ref = F.max(axis=0) + 1.0
    assert hypervolume(F, ref) > hypervolume(F[:5], ref)


@pytest.mark.slow
def test_stepped_float_proposals_are_on_the_grid_and_kept():
    def objective(trial):
        x = trial.suggest_float("x", -10, 10, step=0.5)
        y = trial.suggest_float("y", 0, 1)
        return x * x + y, (x - 2) ** 2 + 1 - y

    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=small(n_startup_trials=3))
    study.optimize(objective, n_trials=6)
    for t in study.trials[3:]:
        proposed = json.loads(t.system_attrs[PARAMS_KEY])
        assert in_distribution(FloatDistribution(-10, 10, step=0.5), proposed["x"]), proposed
        assert proposed == t.params


# ---- 4. categorical-only joint space ---------------------------------------------------------
@pytest.fixture(scope="module")
def nb201_study():
    space = moo_cosearch.load_space("nb201-edge")
    objective = moo_cosearch.make_objective(space, "nb201-cifar10-latency-area")
    # a sampler instance: its ordered flags are given here (create_study passes them to a
    # sampler it makes by name)
    sampler = create_sampler("qehvi", seed=0, n_startup_trials=8, n_candidates=512,
                             n_rescore=32, mc_samples=32,
                             ordered={p.name: p.ordered for p in space.params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = moo_cosearch.create_study(space, "nb201-cifar10-latency-area", sampler=sampler,
                                          storage=None)
        study.optimize(objective, n_trials=16)
    return space, study


@pytest.mark.slow
def test_categorical_joint_space_proposes_new_designs(nb201_study):
    space, study = nb201_study
    trials = study.trials
    assert len(trials) == 16 and all(t.state == TrialState.COMPLETE for t in trials)
    assert [model_based(t) for t in trials] == [False] * 8 + [True] * 8
    designs = [tuple(sorted(t.params.items())) for t in trials]
    for i in range(8, 16):  # the pool excludes every design already evaluated
        assert designs[i] not in designs[:i], f"trial {i} repeats an earlier design"
    dists = space.distributions
    for t in trials:
        assert set(t.params) == set(dists)
        assert all(v in dists[k].choices for k, v in t.params.items())
    assert len(study.directions) == 3 and study.best_trials


def test_categorical_joint_space_ordered_flags(nb201_study):
    space, study = nb201_study
    flags = study.sampler._ordered
    assert flags["pes_x"] is True and flags["local_memory_mb"] is True
    assert all(flags[f"edge{i}"] is False for i in range(6))
    kinds = {b.name: (b.kind, b.width) for b in study.sampler._encoder(space.distributions).blocks}
    assert kinds["edge0"] == ("onehot", 5) and kinds["pes_x"] == ("ordinal", 1)
    # the flags come from the constructor only: none given, none used (inference)
    assert small()._ordered is None


NUMERIC_GRID = {"x": CategoricalDistribution([1, 2, 4, 8]), "y": FloatDistribution(0, 1)}


def _block(sampler, name):
    return next(b for b in sampler._encoder(NUMERIC_GRID).blocks if b.name == name)


def test_ordered_false_makes_a_numeric_categorical_one_hot():
    block = _block(small(ordered={"x": False}), "x")
    assert (block.kind, block.width) == ("onehot", 4)


def test_ordered_none_infers_an_ordinal_numeric_categorical():
    block = _block(small(ordered=None), "x")
    assert (block.kind, block.width) == ("ordinal", 1)
    # flags naming other parameters leave x to inference too
    assert _block(small(ordered={"z": False}), "x").kind == "ordinal"


@pytest.mark.slow
def test_ordered_flags_reach_the_model_encoding(monkeypatch):
    """Through a whole study: the encoder the sampler proposes with has x one-hot."""
    encoders = []
    sampler = small(n_startup_trials=3, ordered={"x": False})
    make = sampler._encoder

    def spy(search_space):
        encoders.append(make(search_space))
        return encoders[-1]

    def objective(trial):
        x = trial.suggest_categorical("x", [1, 2, 4, 8])
        y = trial.suggest_float("y", 0, 1)
        return x + y, 1.0 / x + (1 - y) ** 2

    monkeypatch.setattr(sampler, "_encoder", spy)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=5)
    assert len(encoders) == 2 and all(model_based(t) for t in study.trials[3:])
    assert all(next(b for b in e.blocks if b.name == "x").kind == "onehot" for e in encoders)


# ---- 5. constraints --------------------------------------------------------------------------
DISK_R = 0.2


def disk_objective(trial):
    x = trial.suggest_float("x", 0, 1)
    y = trial.suggest_float("y", 0, 1)
    trial.set_constraint("disk", (x - 0.7) ** 2 + (y - 0.3) ** 2 - DISK_R ** 2)  # ~13% feasible
    return x + y, (1 - x) ** 2 + y


@pytest.mark.slow
def test_constraints_steer_towards_the_feasible_region():
    # seed 0: none of the 10 random start-up trials is feasible
    sampler = QEHVISampler(seed=0, n_startup_trials=10, n_candidates=512, n_rescore=32,
                           mc_samples=32)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(disk_objective, n_trials=25)
    c = np.array([t.constraints["disk"] for t in study.trials])
    assert not any(model_based(t) for t in study.trials[:10])
    assert all(model_based(t) for t in study.trials[10:])
    assert (c <= 0).any(), "no feasible trial found"
    best = study.best_trials
    assert best and all(t.constraints["disk"] <= 0 for t in best)
    # Model-proposed designs hug the feasible disk (they press on its boundary, where the
    # hypervolume improves): their mean violation is far below the random start-up's. Checked
    # over seeds 0-15: model <= 0.03, start-up >= 0.10.
    assert c[10:].mean() < 0.5 * c[:10].mean()


def test_reference_point_is_below_the_feasible_nadir():
    # maximisation form; the last row is infeasible, the third feasible but dominated
    Y = np.array([[1.0, 4.0], [3.0, 2.0], [0.5, 0.5], [10.0, 10.0]])
    ref = QEHVISampler()._ref_point(Y, np.array([True, True, True, False]))
    # nadir of all feasible rows (0.5, 0.5), dominated ones included (not the front's (1, 2),
    # which shrinks with the front), minus 10% of the range of all observations (9.5, 9.5)
    np.testing.assert_allclose(ref, [0.5 - 0.95, 0.5 - 0.95])


def test_reference_point_keeps_a_margin_with_one_feasible_point():
    # a single feasible point has no range: 10% of all observations' range (4, 2) instead
    Y = np.array([[1.0, 2.0], [5.0, 0.0], [3.0, 1.0]])
    ref = QEHVISampler()._ref_point(Y, np.array([True, False, False]))
    np.testing.assert_allclose(ref, [1.0 - 0.4, 2.0 - 0.2])


@pytest.mark.slow
def test_user_reference_point_in_the_objectives_directions():
    sampler = QEHVISampler(reference_point=[0.0, 0.2])  # maximise accuracy, minimise latency
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)),
                   n_trials=12)
    np.testing.assert_allclose(sampler._ref_point(np.zeros((1, 2)), np.ones(1, dtype=bool)),
                               [0.0, -0.2])


# ---- 6. determinism --------------------------------------------------------------------------
def cat_objective(trial):
    a = trial.suggest_categorical("a", ["p", "q", "r", "s"])
    b = trial.suggest_categorical("b", [1, 2, 4, 8])
    c = trial.suggest_categorical("c", ["u", "v", "w"])
    d = trial.suggest_int("d", 0, 6)
    f1 = {"p": 0.0, "q": 1.0, "r": 2.0, "s": 0.5}[a] + b / 8 + d / 6
    f2 = {"u": 0.0, "v": 0.7, "w": 1.5}[c] + 1.0 / b + (6 - d) / 6
    return f1, f2


def _params_sequence(objective, directions, seed):
    sampler = small(seed=seed, n_startup_trials=5, n_candidates=256)
    study = optuna.create_study(directions=directions, sampler=sampler)
    study.optimize(objective, n_trials=15)
    assert sum(model_based(t) for t in study.trials) == 10
    return [t.params for t in study.trials]


@pytest.mark.slow
@pytest.mark.parametrize("objective,directions", [
    (cat_objective, ["minimize", "minimize"]), (mixed_objective, ["maximize", "minimize"])],
    ids=["categorical", "mixed"])
def test_same_seed_same_study_other_seed_other_study(objective, directions):
    first = _params_sequence(objective, directions, 0)
    assert _params_sequence(objective, directions, 0) == first
    other = _params_sequence(objective, directions, 1)
    assert other[:5] != first[:5] and other[5:] != first[5:]


# ---- 7. resuming from storage ----------------------------------------------------------------
@pytest.mark.slow
def test_resume_random_study_from_sqlite(tmp_path):
    storage = f"sqlite:///{tmp_path / 'resume.db'}"
    study = optuna.create_study(storage=storage, study_name="resume",
                                directions=["maximize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(mixed_objective, n_trials=12)

    sampler = small(seed=0, n_startup_trials=10, n_candidates=512, n_rescore=32)
    n_train = []
    propose = sampler._propose

    def spy(study, done, running, search_space):
        n_train.append(len(done))
        return propose(study, done, running, search_space)

    sampler._propose = spy
    resumed = optuna.load_study(study_name="resume", storage=storage, sampler=sampler)
    resumed.optimize(mixed_objective, n_trials=3)

    trials = optuna.load_study(study_name="resume", storage=storage).trials
    assert len(trials) == 15 and all(t.state == TrialState.COMPLETE for t in trials)
    assert not any(model_based(t) for t in trials[:12])
    assert all(model_based(t) for t in trials[12:])  # the first new trial is already model-based
    assert n_train == [12, 13, 14]  # trained on the stored trials
    for t in trials[12:]:
        assert json.loads(t.system_attrs[PARAMS_KEY]) == t.params
        assert all(in_distribution(MIXED_SPACE[k], v) for k, v in t.params.items())


# ---- 8. pending (RUNNING) trials -------------------------------------------------------------
TINY = {"a": CategoricalDistribution(["p", "q", "r"]), "b": IntDistribution(0, 2)}  # 9 designs


def _suggest_tiny(trial):
    trial.suggest_categorical("a", ["p", "q", "r"])
    trial.suggest_int("b", 0, 2)


def _tiny_values(params):
    a = {"p": 0.0, "q": 1.0, "r": 2.0}[params["a"]]
    return a + params["b"], (2 - a) + (2 - params["b"]) ** 2


@pytest.mark.parametrize("noisy", [False, True], ids=["qehvi", "qnehvi"])
def test_running_trials_are_not_proposed_again(noisy):
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=small(n_startup_trials=3, noisy=noisy))
    for _ in range(3):
        t = study.ask(TINY)
        study.tell(t, _tiny_values(t.params))
    evaluated = {tuple(sorted(t.params.items())) for t in study.trials}
    # three workers ask before any of them tells; each suggests its whole design
    running = []
    for _ in range(3):
        trial = study.ask()
        _suggest_tiny(trial)
        running.append(trial)
    frozen = {t.number: t for t in study.get_trials(states=(TrialState.RUNNING,))}
    assert len(frozen) == 3 and all(model_based(t) for t in frozen.values())
    designs = [tuple(sorted(t.params.items())) for t in running]
    assert len(set(designs)) == 3, designs  # pending designs are excluded from the pool
    assert not set(designs) & evaluated
    for t in running:
        study.tell(t, _tiny_values(t.params))


@pytest.mark.slow
def test_running_trials_of_another_worker_on_sqlite_are_pending(tmp_path):
    """Two workers, each with its own storage object (optuna's cached RDB storage) and the same
    seed: the second sees the first's RUNNING trial and its proposal, so it proposes another
    design (with the same data and random state it would otherwise propose the same)."""
    storage = f"sqlite:///{tmp_path / 'workers.db'}"
    study = optuna.create_study(storage=storage, study_name="w",
                                directions=["minimize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(3):
        t = study.ask(TINY)
        study.tell(t, _tiny_values(t.params))
    workers = [optuna.load_study(study_name="w", storage=storage,
                                 sampler=small(seed=0, n_startup_trials=3)) for _ in range(2)]
    seen_running = []
    propose = workers[1].sampler._propose

    def spy(study, done, running, search_space):
        seen_running.append([t.number for t in running])
        return propose(study, done, running, search_space)

    workers[1].sampler._propose = spy
    first = workers[0].ask()
    _suggest_tiny(first)  # proposed by the model, still RUNNING
    second = workers[1].ask()
    _suggest_tiny(second)
    assert seen_running == [[first.number]]
    assert model_based(study.trials[second.number])
    assert first.params != second.params


@pytest.mark.slow
def test_evaluated_designs_are_not_proposed_again():
    """A 9-design space is exhausted in 9 trials: the pool never offers an evaluated design."""
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=small(n_startup_trials=3))
    for _ in range(9):
        t = study.ask(TINY)
        study.tell(t, _tiny_values(t.params))
    designs = [tuple(sorted(t.params.items())) for t in study.trials]
    # (the random start-up may repeat itself; the model never does)
    for i in range(3, 9):
        assert designs[i] not in designs[:i], f"trial {i} repeats {designs[i]}"


@pytest.mark.slow
def test_hyperparameters_refit_every_trial_early_then_every_k(monkeypatch):
    from moo_cosearch.samplers._qehvi import _gpfit

    sizes = []
    real = _gpfit.fit_gp_hypers

    def counting(X, *a, **k):
        sizes.append(len(X))
        return real(X, *a, **k)

    monkeypatch.setattr(_gpfit, "fit_gp_hypers", counting)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=small(
        n_startup_trials=3, refit_all_below=6, refit_every=3))
    for i in range(12):
        t = study.ask()
        x, y = t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)
        study.tell(t, (x + y, (1 - x) ** 2 + y))
    # trials 3..11 see 3..11 observations: a fit at each below 6, then every third trial
    # counted from the last fit (at 5 observations)
    assert sizes == [3, 4, 5, 8, 11], sizes


@pytest.mark.slow
def test_refined_float_designs_are_not_proposed_again():
    """Gradient refinement drives ZDT1's distance variables onto the bound 0, where designs
    repeat easily; an evaluated design (deterministic objectives) is never proposed again."""
    def zdt1(x):
        g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
        return x[0], g * (1 - math.sqrt(x[0] / g))

    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=small(n_startup_trials=5, reference_point=[0.0, 1.2]))
    for _ in range(25):
        t = study.ask()
        x = [t.suggest_float(f"x{i}", 0, 1) for i in range(4)]
        study.tell(t, zdt1(x))
    designs = [tuple(t.params[f"x{i}"] for i in range(4)) for t in study.trials]
    assert len(set(designs[5:])) == 20, designs


def test_pool_excludes_evaluated_and_pending_designs():
    enc = Encoder(TINY)
    grid = [{"a": a, "b": b} for a in ("p", "q", "r") for b in (0, 1, 2)]
    X = enc.encode(grid[:5])
    pending = enc.encode(grid[5:7])
    Y = np.random.default_rng(0).normal(size=(5, 2))
    seen = {r.tobytes() for r in np.concatenate([X, pending])}
    pool = candidate_pool(enc, X, Y, np.ones(5, dtype=bool), seen, 256,
                          np.random.default_rng(0))
    # 256 candidates over 9 designs cover all; only the 2 neither evaluated nor pending remain
    assert sorted(map(tuple, pool.tolist())) == sorted(map(tuple, enc.encode(grid[7:]).tolist()))


# ---- 9. hypervolume on BraninCurrin ----------------------------------------------------------
@pytest.mark.slow
def test_branin_currin_hypervolume_beats_random():
    import torch
    from botorch.test_functions.multi_objective import BraninCurrin

    problem = BraninCurrin(negate=False)  # minimisation, ref_point in minimisation form
    ref = problem.ref_point.numpy()
    np.testing.assert_allclose(ref, [18.0, 6.0])

    def objective(trial):
        x = torch.tensor([[trial.suggest_float("x0", 0, 1), trial.suggest_float("x1", 0, 1)]],
                         dtype=torch.float64)
        return tuple(float(v) for v in problem(x)[0])

    def hv_fraction(sampler):
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        study.optimize(objective, n_trials=30)
        return hypervolume(np.array([t.values for t in study.trials]), ref) / problem.max_hv

    qehvi = hv_fraction(QEHVISampler(seed=0, n_startup_trials=10))
    random = hv_fraction(optuna.samplers.RandomSampler(seed=0))
    # seen with seeds 0-6: qehvi 0.87 0.86 0.79 0.86 0.84 0.89 0.85 (of max_hv);
    # random 0.11 0.02 0.00 0.00 0.53 0.12 0.20
    assert qehvi >= 0.7
    assert qehvi > random + 0.2


# ---- 10. prescreen ---------------------------------------------------------------------------
BONUS = {"a": 0.0, "b": 1.0, "c": 0.6, "d": 0.1}  # "b" and "c" are the attractive ops
REJECTED = ("b", "c")  # the prescreen drops half of the designs


def prescreen_objective(with_float: bool):
    def objective(trial):
        if with_float:
            x = trial.suggest_float("x", 0, 1)
        else:
            x = trial.suggest_int("x", 0, 10) / 10
        op = trial.suggest_categorical("op", list(BONUS))
        k = trial.suggest_int("k", 0, 3)
        return x + BONUS[op] + 0.1 * k, (1 - x) ** 2 + 0.5 * BONUS[op] + 0.1 * (3 - k)

    return objective


def _prescreen_study(with_float: bool):
    calls = []

    def prescreen(designs):
        calls.append(designs)
        return np.array([d["op"] not in REJECTED for d in designs])

    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=small(n_startup_trials=5, prescreen=prescreen))
    study.optimize(prescreen_objective(with_float), n_trials=15)
    return study, calls


@pytest.mark.slow
def test_prescreen_is_honoured_in_discrete_spaces():
    study, calls = _prescreen_study(with_float=False)
    # consulted once per model-based trial for the pool, then at most once per local-search
    # move (4), always with whole designs
    assert 10 <= len(calls) <= 10 * (1 + 4)
    assert all(d.keys() == {"x", "op", "k"} for c in calls for d in c)
    assert all(model_based(t) for t in study.trials[5:])
    assert [t.number for t in study.trials[5:] if t.params["op"] in REJECTED] == []
    assert any(t.params["op"] in REJECTED for t in study.trials[:5])  # random start-up is not


@pytest.mark.slow
def test_prescreen_is_honoured_with_float_parameters():
    study, calls = _prescreen_study(with_float=True)
    # once per model trial for the pool and once for the refined candidates, and at most once
    # per local-search move (4) of the categorical parameter
    assert 10 * 2 <= len(calls) <= 10 * (2 + 4)
    rejected = [t.number for t in study.trials[5:] if t.params["op"] in REJECTED]
    assert not rejected, f"model proposed rejected designs in trials {rejected}"


# ---- 11. reseed_rng and the registry ---------------------------------------------------------
@pytest.mark.slow
def test_reseed_rng_keeps_working():
    sampler = small(seed=0, n_startup_trials=3)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(cat_objective, n_trials=4)
    before = sampler._rng.bit_generator.state
    sampler.reseed_rng()
    assert sampler._rng.bit_generator.state != before
    study.optimize(cat_objective, n_trials=3)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert all(model_based(t) for t in study.trials[3:])
    for t in study.trials:
        assert all(in_distribution(t.distributions[k], v) for k, v in t.params.items())


@pytest.mark.parametrize("name", ["qehvi", "qnehvi"])
def test_create_sampler_builds_and_rejects_bad_options(name):
    sampler = create_sampler(name, seed=3, n_startup_trials=4)
    assert isinstance(sampler, QEHVISampler)
    assert sampler._seed == 3 and sampler._n_startup == 4
    with pytest.raises(ValueError) as e:
        create_sampler(name, bogus=1)
    assert f"bad option for sampler {name!r}" in str(e.value)
    assert "bogus" in str(e.value)


@pytest.mark.integration
def test_a_stale_botorch_kernel_lock_does_not_hang_the_study(tmp_path):
    """BoTorch >= 0.18 JIT-compiles a C++ kernel under a lock file; a process killed while
    compiling leaves the lock, and every later qLogEHVI/qLogNEHVI would wait on it forever. Our
    acquisition stays on BoTorch's pure-PyTorch path unless the user opts in."""
    (tmp_path / "ext" / "logei_fused_ext").mkdir(parents=True)  # torch's build folder for it
    (tmp_path / "ext" / "logei_fused_ext" / "lock").touch()  # left by a killed compile
    env = {k: v for k, v in os.environ.items() if k != "MOO_COSEARCH_BOTORCH_FUSED_KERNEL"}
    env["TORCH_EXTENSIONS_DIR"] = str(tmp_path / "ext")
    code = (
        "import optuna\n"
        "from moo_cosearch import create_study, load_objectives, load_space, make_objective\n"
        "sp, ob = load_space('nb201-edge'), load_objectives('nb201-cifar10-latency-area')\n"
        "for noisy in (False, True):\n"
        "    st = create_study(sp, ob, sampler='qnehvi' if noisy else 'qehvi', seed=0,\n"
        "                      storage=None, sampler_options={'n_startup_trials': 3})\n"
        "    st.optimize(make_objective(sp, ob), n_trials=5)\n"
        "    print(sum(t.state.name == 'COMPLETE' for t in st.trials))\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["5", "5"]
