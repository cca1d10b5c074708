"""Objective sets, accuracy sources, early pruning, rewards and failure handling."""

from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path

import numpy as np
import optuna
import pytest

from moo_cosearch import load_objectives, load_space, make_objective
from moo_cosearch.accuracy import CachedAccuracy, NB201Table
from moo_cosearch.networks.nb201 import arch_str as nb201_arch_str
from moo_cosearch.hardware import CostBackend, CostResult, get_backend
from moo_cosearch.hardware.edge import BASELINE, edge_area_mm2
from moo_cosearch.objectives import ObjectivesError, ObjectiveSet

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "nb201_accuracy.csv"
PKG = Path(__file__).resolve().parents[2] / "moo_cosearch" / "data" / "nb201_accuracy.csv.gz"

optuna.logging.set_verbosity(optuna.logging.WARNING)

CELL = ["nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3",
        "skip_connect"]


def nb201_design(edges=CELL, **hw):
    return {**{f"edge{i}": e for i, e in enumerate(edges)}, **BASELINE, **hw}


def read_table(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


# ---- accuracy -------------------------------------------------------------------------------
def test_packaged_table_is_the_shared_data():
    if not SHARED.exists():
        pytest.skip("../shared/data not beside the checkout")
    assert read_table(PKG) == read_table(SHARED)


def test_nb201_lookup_matches_the_csv_row():
    rows = read_table(PKG)
    assert len(rows) == 15625 == len(NB201Table())
    row = next(r for r in rows if r["arch_str"] == nb201_arch_str(CELL))
    for metric in ("cifar10_test_200ep", "cifar100_test_200ep", "imagenet16_test_12ep"):
        assert NB201Table(metric)(nb201_design()) == float(row[metric])
    assert NB201Table().index(nb201_design()) == int(row["index"])
    # the arch string of the first row decodes back to the same edge order
    first = rows[0]["arch_str"]
    ops = [tok.split("~")[0] for tok in first.replace("+", "").split("|") if tok]
    assert nb201_arch_str(ops) == first


def test_nb201_errors():
    with pytest.raises(ValueError, match="metric must be one of .* got 'cifar11'"):
        NB201Table("cifar11")
    with pytest.raises(ValueError, match="missing 'edge5'"):
        NB201Table()({f"edge{i}": "none" for i in range(5)})
    with pytest.raises(ValueError, match="got 'conv_9x9'"):
        nb201_arch_str(["conv_9x9"] * 6)


def test_cached_accuracy_evaluates_each_architecture_once():
    calls = []

    def fn(d):
        calls.append(d["a"])
        return 50.0 + d["a"]

    cached = CachedAccuracy(fn, ["a"])
    assert [cached({"a": 1, "hw": h}) for h in range(5)] == [51.0] * 5
    assert cached({"a": 2, "hw": 0}) == 52.0
    assert calls == [1, 2] and cached.calls == 2
    with pytest.raises(ValueError, match="returned nan .* outside the declared range"):
        CachedAccuracy(lambda d: float("nan"), ["a"])({"a": 1})


# ---- objective sets -------------------------------------------------------------------------
def test_builtin_objective_sets_load():
    o = load_objectives("nb201-cifar10-latency-area")
    assert o.objectives == (("accuracy", "maximize"), ("latency_ms", "minimize"),
                            ("area_mm2", "minimize"))
    assert o.space == "nb201-edge" and o.cost == "edge"
    soft = load_objectives("nb201-nahas-reward-soft")
    assert soft.directions == ["maximize"] and soft.reward.p == soft.reward.q == -0.071
    hard = load_objectives("nb201-nahas-reward-hard")
    assert (hard.reward.p, hard.reward.q) == (0.0, -1.0)


@pytest.mark.parametrize("text, message", [
    ('name = "x"\n[[objectives]]\nmetric = "speed"\ndirection = "minimize"\n',
     "objective metric must be one of .* got 'speed'"),
    ('name = "x"\n[[objectives]]\nmetric = "latency_ms"\ndirection = "down"\n',
     "direction of latency_ms must be one of .* got 'down'"),
    ('name = "x"\n', r"exactly one of \[\[objectives\]\] or \[reward\]"),
    ('name = "x"\ncolour = 1\n[reward]\nlatency_ms = 1\narea_mm2 = 1\n', "unknown keys"),
    ('name = "x"\n[reward]\nlatency_ms = 1\nwidth = 2\n', r"\[reward\] takes"),
    ('name = "x"\n[[objectives]]\nmetric = "accuracy"\ndirection = "maximize"\n'
     '[[constraints]]\nmetric = "area_mm2"\n', "a constraint is"),
    ('name = "x"\n[[objectives]\n', "malformed TOML"),
])
def test_objective_set_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ObjectivesError, match=message):
        load_objectives(path)


def test_unknown_objective_set_lists_builtins():
    with pytest.raises(ObjectivesError, match="nb201-cifar10-latency-area"):
        load_objectives("no-such-set")


# ---- evaluation -----------------------------------------------------------------------------
def test_evaluate_matches_table_and_cost_model():
    space = load_space("nb201-edge")
    obj = make_objective(space, "nb201-cifar10-latency-area")
    design = nb201_design()
    ev = obj.evaluate(design)
    cost = get_backend("edge")(space, [design])
    assert ev.values == (NB201Table()(design), cost.latency_ms[0], cost.area_mm2[0])
    assert ev.attrs["accuracy_evaluated"] is True
    # constraints: feasible (0), area vs the baseline's area, latency vs 0.2 ms, normalised
    base = float(edge_area_mm2(BASELINE))
    assert ev.constraints["feasible"] == 0.0
    assert ev.constraints[f"area_mm2<={base:g}"] == pytest.approx(0.0)  # the baseline itself
    assert ev.constraints["latency_ms<=0.2"] == pytest.approx((cost.latency_ms[0] - 0.2) / 0.2)


def test_over_a_hard_limit_skips_accuracy():
    calls = []

    def acc(d):
        calls.append(d)
        return 90.0

    space = load_space("nb201-edge")
    obj = make_objective(space, "nb201-cifar10-latency-area", accuracy=acc)
    big = nb201_design(pes_x=8, pes_y=8, local_memory_mb=4)  # area far over the baseline's
    ev = obj.evaluate(big)
    assert not calls and obj.skipped == 1
    assert ev.attrs["accuracy_evaluated"] is False and "area_mm2<=" in ev.attrs["skip_reason"]
    assert ev.values[0] == 0.0 and not ev.feasible
    ok = obj.evaluate(nb201_design())
    assert len(calls) == 1 and ok.values[0] == 90.0 and ok.feasible


def test_infeasible_hardware_skips_accuracy():
    # a 7x7 dwconv-free NB201 net cannot fail the RF check; use MobileNetV2 with 7x7 kernels
    # on 128 SIMD units and an 8 KB register file (13056 B needed per lane).
    space = load_space("nahas-mbv2-edge")
    o = ObjectiveSet(name="t", objectives=(("accuracy", "maximize"), ("latency_ms", "minimize")),
                     accuracy={}, cost="edge")
    calls = []
    obj = make_objective(space, o, accuracy=lambda d: calls.append(1) or 70.0)
    design = {**{f"b{i}_kernel": 7 for i in range(17)},
              **{f"b{i}_expansion": 6 for i in range(1, 17)},
              **BASELINE, "simd_units": 128, "register_file_kb": 8}
    ev = obj.evaluate(design)
    assert ev.constraints == {"feasible": 1.0} and not calls
    assert ev.attrs["skip_reason"].startswith("infeasible: layer")
    assert "register file 8 KB" in ev.attrs["skip_reason"]


class FixedCost(CostBackend):
    """A stub backend returning fixed costs, to check the reward arithmetic by hand."""

    name = "fixed"

    def __init__(self, latency_ms, area_mm2, feasible=True, fail=False):
        self.values = (latency_ms, area_mm2, feasible)
        self.fail = fail

    def evaluate(self, space, designs):
        if self.fail:
            raise RuntimeError("simulator crashed")
        lat, area, ok = self.values
        n = len(designs)
        return CostResult(np.full(n, lat), np.full(n, 1.0), np.full(n, area),
                          np.full(n, ok), ("" if ok else "no",) * n)

    def reference(self, metric):
        return 100.0


@pytest.mark.parametrize("name, lat, area, expected", [
    # soft: 90 * (0.1/0.05)^-0.071 * (50/100)^-0.071
    ("nb201-nahas-reward-soft", 0.1, 50.0, 90 * 2 ** -0.071 * 0.5 ** -0.071),
    # hard, within both targets: accuracy itself
    ("nb201-nahas-reward-hard", 0.04, 80.0, 90.0),
    # hard, latency twice the target: 90 * 2^-1 = 45
    ("nb201-nahas-reward-hard", 0.1, 80.0, 45.0),
    # hard, both over: 90 * (0.1/0.05)^-1 * (200/100)^-1 = 22.5
    ("nb201-nahas-reward-hard", 0.1, 200.0, 22.5),
])
def test_nahas_reward_by_hand(name, lat, area, expected):
    obj = make_objective(load_space("nb201-edge"), name, accuracy=lambda d: 90.0,
                         cost=FixedCost(lat, area))
    ev = obj.evaluate(nb201_design())
    assert ev.values == (pytest.approx(expected),)
    assert ev.attrs["accuracy_evaluated"] is True


def test_reward_of_infeasible_hardware_is_zero():
    obj = make_objective(load_space("nb201-edge"), "nb201-nahas-reward-soft",
                         accuracy=lambda d: 90.0, cost=FixedCost(0.01, 1.0, feasible=False))
    ev = obj.evaluate(nb201_design())
    assert ev.values == (0.0,) and ev.constraints == {"feasible": 1.0}


def _run(objective, n, directions):
    study = optuna.create_study(directions=directions,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=n)
    return study


def test_failing_evaluations_fail_trials_and_the_study_goes_on():
    space = load_space("nb201-edge")
    o = load_objectives("nb201-cifar10-latency-area")
    # NaN accuracy from a user callable -> FAIL
    bad_acc = make_objective(space, o, accuracy=lambda d: float("nan"),
                             cost=FixedCost(0.01, 1.0))
    study = _run(bad_acc, 4, o.directions)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 4
    assert "returned nan" in study.trials[0].user_attrs["error"]
    # simulator crash -> FAIL with the message; later trials still run
    crash = make_objective(space, o, cost=FixedCost(0.01, 1.0, fail=True))
    study = _run(crash, 3, o.directions)
    assert all(t.state == optuna.trial.TrialState.FAIL for t in study.trials)
    assert study.trials[-1].user_attrs["error"] == "RuntimeError: simulator crashed"
    # catch_errors=False re-raises
    strict = make_objective(space, o, cost=FixedCost(0.01, 1.0, fail=True), catch_errors=False)
    with pytest.raises(RuntimeError, match="simulator crashed"):
        _run(strict, 1, o.directions)


def test_constraints_reach_optuna():
    space = load_space("nb201-edge")
    o = load_objectives("nb201-cifar10-latency-area")
    study = _run(make_objective(space, o), 30, o.directions)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 30
    for t in done:
        assert set(t.constraints) == {"feasible", *(k for k in t.constraints if "<=" in k)}
        assert len(t.constraints) == 3
        feasible = all(v <= 0 for v in t.constraints.values())
        assert t.user_attrs["accuracy_evaluated"] is feasible
        if feasible:
            assert t.values[0] == NB201Table()(t.params)
        assert math.isfinite(t.user_attrs["energy_mj"])


class _DspBackend(CostBackend):
    """A toy FPGA-like backend: latency plus an ``extra`` metric (DSP count)."""

    name = "toy-dsp"
    metrics = ("latency_ms", "dsp")

    def evaluate(self, space, designs):
        n = len(designs)
        dsp = np.array([float(d["pes_x"] * d["pes_y"]) for d in designs])
        nan = np.full(n, np.nan)
        return CostResult(latency_ms=1.0 / dsp, energy_mj=nan, area_mm2=nan,
                          feasible=np.ones(n, bool), reason=("",) * n, extra={"dsp": dsp})


def test_backend_metrics_from_extra_can_be_objectives_and_constraints(monkeypatch):
    from moo_cosearch.hardware import _registry as hardware
    monkeypatch.setitem(hardware._BACKENDS, "toy-dsp", _DspBackend)
    space = load_space("nb201-edge")
    objs = ObjectiveSet.from_dict({
        "name": "dsp", "cost": "toy-dsp",
        "objectives": [{"metric": "latency_ms", "direction": "minimize"},
                       {"metric": "dsp", "direction": "minimize"}],
        "constraints": [{"metric": "dsp", "max": 16}]})
    obj = make_objective(space, objs)
    design = space.sample(1, seed=0)[0] | {"pes_x": 8, "pes_y": 4}
    ev = obj.evaluate(design)
    assert ev.values == (1 / 32, 32.0)
    assert ev.constraints[obj.constraint_names()[1]] == pytest.approx((32 - 16) / 16)
    with pytest.raises(ObjectivesError, match="objective metric must be one of .* got 'dsp'"):
        ObjectiveSet.from_dict({"name": "x", "cost": "edge",
                                "objectives": [{"metric": "dsp", "direction": "minimize"}]})
    edge_objs = ObjectiveSet.from_dict({
        "name": "e", "objectives": [{"metric": "area_mm2", "direction": "minimize"}]})
    with pytest.raises(ObjectivesError, match=r"gives metrics \['latency_ms', 'dsp'\]"):
        make_objective(space, edge_objs, cost=_DspBackend())
