"""The analysis floor: its public names, feasibility, the verify_pareto compatibility shim, and a
user's own space file reaching a model-based sampler through create_study."""

from __future__ import annotations

import importlib
from pathlib import Path

import optuna
import pytest

import moo_cosearch
from moo_cosearch import analysis, create_study, load_space, make_objective
from moo_cosearch.analysis import is_feasible, pareto_trials

optuna.logging.set_verbosity(optuna.logging.WARNING)
ROOT = Path(__file__).resolve().parents[2]
OBJ = "nb201-cifar10-latency-area"


def test_public_names_and_homes():
    for name in analysis.__all__:
        assert callable(getattr(analysis, name)), name
    assert moo_cosearch.pareto_trials is analysis.pareto_trials
    study = importlib.import_module("moo_cosearch.study")
    assert set(study.__all__) == {"DEFAULT_STORAGE", "Joined", "MAX_STUDY_NAME", "PRUNERS",
                                  "check_study_name", "create_study", "default_study_name",
                                  "join_study", "make_pruner", "worker_seed"}
    for name in ("pareto_trials", "hypervolume_history", "reference_point",
                 "minimization_matrix", "_is_feasible", "_complete_feasible"):
        assert not hasattr(study, name), name
    for old in ("moo_cosearch.report", "moo_cosearch.plots"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(old)


def test_is_feasible():
    def trial(constraints):
        return optuna.trial.create_trial(values=[1.0], constraints=constraints)

    assert is_feasible(trial({"area": -1.0, "latency": 0.0}))
    assert not is_feasible(trial({"area": -1.0, "latency": 0.5}))
    assert is_feasible(trial(None))


def test_verify_pareto_lives_on_the_analysis_floor_only():
    surrogate = importlib.import_module("moo_cosearch.surrogate")
    assert "verify_pareto" not in surrogate.__all__
    with pytest.raises(AttributeError):
        surrogate.verify_pareto  # noqa: B018   the deprecated shim (an arrow up) is gone
    from moo_cosearch.analysis import verify_pareto

    assert verify_pareto is analysis.verify_pareto


def test_verify_pareto_on_an_empty_study():
    space = load_space("nb201-edge")
    study = create_study(space, OBJ, sampler="random", storage=None)
    rep = analysis.verify_pareto(study, "edge", space)
    assert rep == {"n": 0, "rows": [], "metrics": {}, "feasibility_disagreements": 0,
                   "errors": 0}


def _own_space(tmp_path: Path) -> Path:
    """nb201-edge under another name, with pes_x declared unordered (one-hot)."""
    text = (ROOT / "spaces" / "nb201-edge.toml").read_text()
    text = text.replace('name = "nb201-edge"', 'name = "my-nb201-edge"', 1)
    old = 'name = "pes_x"'
    assert text.count(old) == 1
    text = text.replace(old, old + "\nordered = false")
    path = tmp_path / "my-space.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_own_space_file_ordered_flags_reach_qehvi(tmp_path):
    space = load_space(str(_own_space(tmp_path)))
    assert space.name == "my-nb201-edge"
    flags = {p.name: p.ordered for p in space.params if not p.fixed}
    assert flags["pes_x"] is False and flags["pes_y"] is True and flags["edge0"] is False
    study = create_study(space, OBJ, sampler="qehvi", seed=0, storage=None,
                         sampler_options={"n_startup_trials": 4, "n_candidates": 256})
    assert study.sampler._ordered == flags
    # the objective set's reference point still comes along
    assert list(study.sampler._reference_point) == [0.0, 0.2, 147.84144530285715]
    # options given by the caller win
    mine = create_study(space, OBJ, sampler="qehvi", seed=0, storage=None,
                        sampler_options={"ordered": {"pes_x": True}})
    assert mine.sampler._ordered == {"pes_x": True}
    # samplers that take no study options get none
    create_study(space, OBJ, sampler="random", seed=0, storage=None)

    study.optimize(make_objective(space, OBJ), n_trials=12)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 12
    assert all(space.validate(t.params) for t in done)
    assert pareto_trials(study)
