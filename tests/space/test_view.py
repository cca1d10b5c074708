"""Ordered grids in the index view: Optuna sees grid positions, everything else sees values."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution

from moo_cosearch import create_study, load_space, make_objective
from moo_cosearch.analysis import pareto_rows, verify_pareto
from moo_cosearch.objectives import load_objectives
from moo_cosearch.space import SpaceError


def test_distributions_in_both_views():
    space = load_space("nb201-edge")
    idx, cat = space.distributions_for("index"), space.distributions_for("categorical")
    assert idx["pes_x"] == IntDistribution(0, 4) and idx["local_memory_mb"] == IntDistribution(0, 4)
    assert cat["pes_x"] == CategoricalDistribution([1, 2, 4, 6, 8])
    assert idx["edge0"] == cat["edge0"]          # op names stay categorical: no order implied
    assert space.distributions == cat           # the default view
    with pytest.raises(SpaceError, match="view must be one of"):
        space.distributions_for("ordinal")


def test_index_view_study_records_values_and_reports_them():
    space = load_space("nb201-edge")
    objs = load_objectives("nb201-cifar10-latency-area")
    study = create_study(space, objs, sampler="tpe", seed=0, storage=None)
    study.optimize(make_objective(space, objs, view="index"), n_trials=25)
    for t in study.trials:
        design = space.design_of(t)
        assert design == t.user_attrs["design"]
        assert t.params["pes_x"] in range(5)
        assert design["pes_x"] == [1, 2, 4, 6, 8][t.params["pes_x"]]
        assert design["edge0"] == t.params["edge0"]
    rows = pareto_rows(study, objs)
    assert rows and all(r["pes_x"] in (1, 2, 4, 6, 8) for r in rows)
    assert all(r["local_memory_mb"] in (0.5, 1, 2, 3, 4) for r in rows)
    check = verify_pareto(study, "edge", space)
    assert check["errors"] == 0 and check["metrics"]["latency_ms"]["mape_pct"] == pytest.approx(0)


def test_design_of_reads_a_categorical_trial_unchanged():
    space = load_space("nb201-edge")
    study = optuna.create_study()
    study.optimize(lambda t: (space.suggest(t), 0.0)[1], n_trials=3)
    for t in study.trials:
        assert space.design_of(t) == space.validate(t.params)


@pytest.mark.slow
def test_study_records_the_samplers_view_and_the_objective_follows_it(tmp_path):
    """gp prefers grid positions, nsga2 values; a resumed study keeps its view, and asking
    for the other one is refused."""
    from moo_cosearch.samplers import sampler_view

    assert sampler_view("gp") == "index" and sampler_view("nsga2") == "categorical"
    space = load_space("nb201-edge")
    storage = f"sqlite:///{tmp_path / 's.db'}"
    gp = create_study(space, "nb201-cifar10-latency-area", sampler="gp", seed=0,
                      storage=storage, sampler_options={"n_startup_trials": 3})
    assert gp.user_attrs["view"] == "index"
    gp.optimize(make_objective(space, "nb201-cifar10-latency-area"), n_trials=4)
    assert all(isinstance(t.distributions["pes_x"], IntDistribution) for t in gp.trials)
    again = create_study(space, "nb201-cifar10-latency-area", sampler="gp", seed=0,
                         storage=storage, sampler_options={"n_startup_trials": 3})
    assert again.user_attrs["view"] == "index"
    with pytest.raises(ValueError, match="view"):
        create_study(space, "nb201-cifar10-latency-area", sampler="gp", seed=0,
                     storage=storage, view="categorical")
    ns = create_study(space, "nb201-cifar10-latency-area", sampler="nsga2", seed=0, storage=None)
    ns.optimize(make_objective(space, "nb201-cifar10-latency-area"), n_trials=3)
    assert all(isinstance(t.distributions["pes_x"], CategoricalDistribution) for t in ns.trials)
    with pytest.raises(ValueError, match="view must be one of"):
        create_study(space, "nb201-cifar10-latency-area", sampler="nsga2", view="ordinal")
