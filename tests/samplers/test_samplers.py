"""Sampler registry: names, options, study options, determinism, constraints, a brute-forced
Pareto front, and the samplers package's import boundary."""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
import warnings
from pathlib import Path

import moocore
import numpy as np
import optuna
import pytest

from moo_cosearch import samplers as samplers_mod
from moo_cosearch.samplers import _registry
from moo_cosearch.samplers import (create_sampler, list_samplers, register_sampler,
                                  sampler_study_options)
from moo_cosearch.space import JointSpace, Param, load_space

optuna.logging.set_verbosity(optuna.logging.WARNING)

BUILTIN = ["gp", "nsga2", "nsga3", "random", "tpe"]
#: Optuna's GPSampler fits a GP every trial: seconds per study, so it runs with the slow tests
_BUILTIN_GP_SLOW = [pytest.param(n, marks=pytest.mark.slow) if n == "gp" else n for n in BUILTIN]
GRID5 = (0, 1, 2, 3, 4)


@pytest.fixture(autouse=True)
def _quiet_experimental_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the registry, restored after the test."""
    list_samplers()                      # the families register on the first look
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    return _registry._REGISTRY


# ---- registry ---------------------------------------------------------------------------------
def test_list_samplers_names_and_descriptions():
    known = list_samplers()
    assert set(BUILTIN) <= set(known)
    assert list(known) == sorted(known)
    assert all(isinstance(d, str) and d for d in known.values())
    assert "NSGA-II" in known["nsga2"]


@pytest.mark.parametrize("name,cls", [
    ("random", optuna.samplers.RandomSampler),
    ("tpe", optuna.samplers.TPESampler),
    ("nsga2", optuna.samplers.NSGAIISampler),
    ("nsga3", optuna.samplers.NSGAIIISampler),
    ("gp", optuna.samplers.GPSampler),
])
def test_create_sampler_builds_optuna_samplers(name, cls):
    sampler = create_sampler(name, seed=0)
    assert isinstance(sampler, optuna.samplers.BaseSampler)
    assert type(sampler) is cls


def test_unknown_sampler_lists_known_names():
    with pytest.raises(ValueError) as e:
        create_sampler("cmaes-ish", seed=0)
    msg = str(e.value)
    assert msg.startswith("sampler must be one of [")
    assert msg.endswith("got 'cmaes-ish'")
    for name in BUILTIN:
        assert repr(name) in msg


@pytest.mark.parametrize("typo, meant", [("nsgaii", "nsga2"), ("NSGA-III", "nsga3"),
                                         ("tpee", "tpe"), ("qehv", "qehvi")])
def test_a_mistyped_sampler_name_suggests_the_closest(typo, meant):
    with pytest.raises(ValueError, match=f"got '{typo}'; did you mean '{meant}'\\?$"):
        create_sampler(typo)


@pytest.mark.parametrize("name", BUILTIN)
def test_bad_option_names_the_sampler(name):
    with pytest.raises(ValueError) as e:
        create_sampler(name, seed=0, populaton_size=8)          # misspelt on purpose
    msg = str(e.value)
    assert msg.startswith(f"bad option for sampler {name!r}: ")
    assert "populaton_size" in msg


def test_bad_option_value_is_a_value_error():
    with pytest.raises(ValueError, match="population_size"):
        create_sampler("nsga2", seed=0, population_size=1)


def test_nsga2_population_size_passes_through():
    sampler = create_sampler("nsga2", seed=0, population_size=8)
    assert sampler.population_size == 8
    space = load_space("nb201-edge")

    def objective(trial):
        d = space.suggest(trial)
        return float(d["pes_x"]), float(d["pes_y"])

    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=24)
    generations = [t.system_attrs["NSGAIISampler:generation"] for t in study.trials]
    assert generations == [0] * 8 + [1] * 8 + [2] * 8


def test_nsga2_default_population_is_optunas():
    assert create_sampler("nsga2", seed=0).population_size == 50
    assert create_sampler("nsga3", seed=0, population_size=12).population_size == 12


def test_tpe_is_multivariate_by_default_and_overridable():
    assert create_sampler("tpe", seed=0)._multivariate is True
    assert create_sampler("tpe", seed=0, multivariate=False)._multivariate is False
    assert create_sampler("tpe", seed=0, n_startup_trials=3)._n_startup_trials == 3


def test_gp_options_pass_through():
    assert create_sampler("gp", seed=0, n_startup_trials=4)._n_startup_trials == 4


def test_register_sampler(registry):
    made = []

    def factory(seed=None, **options):
        made.append((seed, options))
        return optuna.samplers.RandomSampler(seed=seed)

    register_sampler("my-random", factory, "a test sampler")
    assert list_samplers()["my-random"] == "a test sampler"
    sampler = create_sampler("my-random", seed=5, flavour="plain")
    assert isinstance(sampler, optuna.samplers.RandomSampler)
    assert made == [(5, {"flavour": "plain"})]
    register_sampler("strict", lambda seed=None: optuna.samplers.RandomSampler(seed=seed))
    with pytest.raises(ValueError, match="bad option for sampler 'strict'"):
        create_sampler("strict", seed=0, extra=1)


def test_register_sampler_cleanup_leaves_builtins():
    # runs after test_register_sampler: the fixture restored the original registry
    assert "my-random" not in list_samplers()
    assert set(list_samplers()) >= set(BUILTIN)


# ---- options a sampler takes from the study ---------------------------------------------------
def test_sampler_study_options():
    assert sampler_study_options("qehvi") == {"reference_point", "ordered"}
    assert sampler_study_options("qnehvi") == {"reference_point", "ordered"}
    assert isinstance(sampler_study_options("qehvi"), frozenset)
    for name in BUILTIN:
        assert sampler_study_options(name) == frozenset()


def test_sampler_study_options_of_an_unknown_name_lists_known_names():
    with pytest.raises(ValueError) as e:
        sampler_study_options("cmaes-ish")
    msg = str(e.value)
    assert msg.startswith("sampler must be one of [") and msg.endswith("got 'cmaes-ish'")
    for name in BUILTIN + ["qehvi", "qnehvi"]:
        assert repr(name) in msg


def test_register_sampler_with_study_options(registry):
    factory = lambda seed=None, **options: optuna.samplers.RandomSampler(seed=seed)  # noqa: E731
    register_sampler("ref-only", factory, "takes a reference point",
                     study_options=("reference_point",))
    assert sampler_study_options("ref-only") == {"reference_point"}
    register_sampler("plain", factory)
    assert sampler_study_options("plain") == frozenset()
    with pytest.raises(ValueError, match=r"study options must be among .*got \['colour'\]"):
        register_sampler("bad", factory, study_options=("colour",))
    assert "bad" not in list_samplers()


# ---- the samplers package's import boundary ----------------------------------------------------
SAMPLERS_DIR = Path(samplers_mod.__file__).parent
UPPER_FLOORS = ("moo_cosearch.space", "moo_cosearch.study", "moo_cosearch.objectives")


def _forbidden_imports(package_dir: Path, package: str = "moo_cosearch.samplers") -> list[str]:
    """Imports (anywhere in a module, function-level included) of moo_cosearch outside the
    samplers package, of its upper floors, or of a private optuna module or name."""
    bad = []
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir).with_suffix("").parts
        here = package.split(".") + list(rel[:-1])  # the package the module is in
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here[:len(here) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                imported = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for name in imported:
                where = f"{path.name}:{node.lineno} imports {name}"
                if name.startswith("moo_cosearch") and not (
                        name == package or name.startswith(package + ".")):
                    bad.append(f"{where} (outside {package})")
                if any(name == u or name.startswith(u + ".") for u in UPPER_FLOORS):
                    bad.append(f"{where} (upper floor)")
                if name.split(".")[0] == "optuna" and any(
                        seg.startswith("_") for seg in name.split(".")):
                    bad.append(f"{where} (private optuna)")
    return bad


def test_samplers_import_nothing_above_them_nor_optuna_privates():
    assert _forbidden_imports(SAMPLERS_DIR) == []


def test_import_boundary_check_catches_the_old_violations(tmp_path):
    """The check above would fail on the pre-split _botorch.py (private optuna helper and a
    function-level import of the joint space)."""
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "_old.py").write_text(
        "from optuna.study._multi_objective import _is_pareto_front\n"
        "def flags():\n"
        "    from ..space import SpaceError, load_space\n"
        "    from .. import objectives\n"
        "    import moo_cosearch.study\n"
        "    from optuna.study import _optimize\n")
    found = _forbidden_imports(tmp_path)
    assert "_old.py:1 imports optuna.study._multi_objective (private optuna)" in found
    assert "_old.py:3 imports moo_cosearch.space (upper floor)" in found
    assert "_old.py:4 imports moo_cosearch.objectives (upper floor)" in found
    assert "_old.py:5 imports moo_cosearch.study (upper floor)" in found
    assert "_old.py:6 imports optuna.study._optimize (private optuna)" in found


@pytest.mark.integration
def test_importing_the_registry_leaves_torch_unloaded():
    code = ("import sys, moo_cosearch.samplers as s\n"
            "s.create_sampler('qehvi', seed=0)\n"
            "print(sorted(m for m in ('torch', 'botorch', 'gpytorch', 'scipy') "
            "if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


# ---- determinism ------------------------------------------------------------------------------
NB201 = load_space("nb201-edge")
OP_WEIGHT = {"none": 0, "skip_connect": 1, "nor_conv_1x1": 2, "nor_conv_3x3": 3,
             "avg_pool_3x3": 1}


def _nb201_objective(trial):
    d = NB201.suggest(trial)
    work = sum(OP_WEIGHT[d[f"edge{i}"]] for i in range(6))
    pes = d["pes_x"] * d["pes_y"]
    latency = work * 100.0 / (pes * d["compute_lanes"]) + 1.0 / d["io_bandwidth_gbyte_s"]
    error = 20.0 - work + 0.01 * d["local_memory_mb"]
    return latency, error


SETTINGS = {
    "random": ({}, 20),
    "tpe": ({"n_startup_trials": 5}, 15),
    "nsga2": ({"population_size": 6}, 18),
    "nsga3": ({"population_size": 6}, 18),
    "gp": ({"n_startup_trials": 3}, 6),     # 3 GP-driven trials keep this fast
}


def _run(name, seed):
    options, n_trials = SETTINGS[name]
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=create_sampler(name, seed=seed, **options))
    study.optimize(_nb201_objective, n_trials=n_trials)
    assert len(study.trials) == n_trials
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    return [t.params for t in study.trials]


@pytest.mark.parametrize("name", _BUILTIN_GP_SLOW)
def test_same_seed_same_study(name):
    a, b = _run(name, seed=11), _run(name, seed=11)
    assert a == b
    for params in a:
        assert NB201.validate(params) == params
    # the model-based samplers do act after their start-up phase: not a constant sequence
    assert len({tuple(p.values()) for p in a}) > 1


@pytest.mark.parametrize("name", _BUILTIN_GP_SLOW)
def test_different_seed_different_study(name):
    assert _run(name, seed=11) != _run(name, seed=12)


# ---- constraints ------------------------------------------------------------------------------
CSPACE = JointSpace("constrained", [
    Param("mode", ("turbo", "safe"), "has", False),
    Param("x", GRID5, "nas", True),
    Param("y", GRID5, "has", True),
])


def _constrained_objective(trial):
    d = CSPACE.suggest(trial)
    turbo = d["mode"] == "turbo"
    # turbo designs look better on both objectives but break the power budget
    trial.set_constraint("power", 1.0 if turbo else -1.0)
    bonus = 3.0 if turbo else 0.0
    return d["x"] + d["y"] ** 2 / 4 - bonus, (4 - d["x"]) ** 2 / 4 + (4 - d["y"]) - bonus


def _non_dominated(values):
    v = np.asarray(values, dtype=float)
    return [i for i in range(len(v))
            if not any(np.all(v[j] <= v[i]) and np.any(v[j] < v[i]) for j in range(len(v)))]


def test_nsga2_best_trials_are_feasible():
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=create_sampler("nsga2", seed=0, population_size=10))
    study.optimize(_constrained_objective, n_trials=60)
    trials = study.trials
    assert {t.params["mode"] for t in trials} == {"turbo", "safe"}
    best = study.best_trials
    assert best
    assert all(t.params["mode"] == "safe" and t.constraints == {"power": -1.0} for t in best)
    # without the constraint the front would be made of infeasible turbo designs
    unconstrained = [trials[i] for i in _non_dominated([t.values for t in trials])]
    assert any(t.params["mode"] == "turbo" for t in unconstrained)
    # and the reported front is exactly the non-dominated set of the feasible trials
    feasible = [t for t in trials if t.params["mode"] == "safe"]
    expected = {feasible[i].number for i in _non_dominated([t.values for t in feasible])}
    assert {t.number for t in best} == expected


# ---- a brute-forced Pareto front --------------------------------------------------------------
TINY = JointSpace("tiny", [Param(n, GRID5, "nas", True) for n in ("x", "y", "z")])


def _tiny_f(x, y, z):
    # Pareto set: z = 2 (any x, y); front: (s, 12 - s) for s = x + y in 0..8
    return float(x + y + (z - 2) ** 2), float(12 - x - y + (z - 2) ** 2)


ALL_DESIGNS = list(itertools.product(GRID5, GRID5, GRID5))
ALL_F = np.array([_tiny_f(*d) for d in ALL_DESIGNS])
REF = ALL_F.max(axis=0) + 1.0          # (13, 17)


def test_brute_force_front_by_hand():
    assert len(ALL_DESIGNS) == TINY.cardinality == 125
    nd = _non_dominated(ALL_F)
    assert sorted(ALL_DESIGNS[i] for i in nd) == sorted(
        (x, y, 2) for x in GRID5 for y in GRID5)
    front = np.unique(ALL_F[nd], axis=0)
    np.testing.assert_array_equal(front, [[s, 12 - s] for s in range(9)])
    np.testing.assert_array_equal(REF, [13.0, 17.0])
    # staircase by hand: sum_{s=0..7} 1 * (5 + s) + (13 - 8) * (17 - 4) = 68 + 65
    assert moocore.hypervolume(front, ref=REF) == pytest.approx(133.0)


def test_nsga2_recovers_the_brute_force_front():
    front = ALL_F[_non_dominated(ALL_F)]
    hv_true = moocore.hypervolume(front, ref=REF)

    def objective(trial):
        return _tiny_f(**TINY.suggest(trial))

    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=create_sampler("nsga2", seed=0, population_size=20))
    study.optimize(objective, n_trials=200)
    best = study.best_trials
    found = np.array([t.values for t in best])
    for t in best:                       # the values really are the objective of the params
        assert tuple(t.values) == _tiny_f(**t.params)
    assert moocore.hypervolume(found, ref=REF) >= 0.9 * hv_true
    # every reported trial is non-dominated in the full enumeration, not just among the trials
    for f in found:
        dominated = np.all(ALL_F <= f, axis=1) & np.any(ALL_F < f, axis=1)
        assert not dominated.any(), f
