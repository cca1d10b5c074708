"""What a study shows its user: objective names in Optuna, optuna-dashboard with feasibility,
the terminal report (every column, reference point in the objectives' own units, the best
design of a single-objective study) and the figures (infeasible designs apart, Optuna's
hypervolume and best-value curves)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from wsgiref.util import setup_testing_defaults

import matplotlib
import numpy as np
import optuna
import pytest

from moo_cosearch import analysis, create_study, load_objectives, load_space, make_objective
from moo_cosearch.analysis import hypervolume_history, reference_point, write_report

matplotlib.use("Agg")
optuna.logging.set_verbosity(optuna.logging.WARNING)
OBJ = "nb201-cifar10-latency-area"
REWARD = "nb201-nahas-reward-soft"
NAMES = ["accuracy", "latency_ms", "area_mm2"]


@pytest.fixture(scope="module")
def space():
    return load_space("nb201-edge")


@pytest.fixture(scope="module")
def run(space):
    """40 random trials of the three-objective set: feasible ones, and designs over a hard
    limit whose accuracy was never evaluated."""
    study = create_study(space, OBJ, sampler="random", seed=0, storage=None)
    study.optimize(make_objective(space, OBJ), n_trials=40)
    skipped = [t for t in study.trials if t.user_attrs.get("accuracy_evaluated") is False]
    assert skipped and len(skipped) < 40
    return study


@pytest.fixture(scope="module")
def reward_run(space):
    study = create_study(space, REWARD, sampler="random", seed=0, storage=None)
    study.optimize(make_objective(space, REWARD), n_trials=15)
    return study


@pytest.fixture
def figures(monkeypatch):
    """The figures our plot functions close, kept open for inspection."""
    import matplotlib.pyplot as plt

    close, kept = plt.close, []
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    yield kept
    for fig in kept:
        close(fig)


# ---- 1. objective names reach Optuna ----------------------------------------------------------

@pytest.mark.slow
def test_metric_names_reach_optuna_on_create_and_resume(tmp_path, space):
    url = f"sqlite:///{tmp_path}/s.db"
    study = create_study(space, OBJ, sampler="random", storage=url, study_name="a")
    assert study.metric_names == NAMES
    assert create_study(space, OBJ, sampler="random", storage=url,
                        study_name="a").metric_names == NAMES
    assert optuna.load_study(study_name="a", storage=url).metric_names == NAMES
    assert create_study(space, REWARD, storage=None).metric_names == ["reward"]
    # a study made before the names reached Optuna gets them when resumed
    old = optuna.create_study(storage=url, study_name="old",
                              directions=["maximize", "minimize", "minimize"])
    for key, value in {"space": space.name, "space_hash": space.definition_hash,
                       "objectives": OBJ, "metrics": NAMES}.items():
        old.set_user_attr(key, value)
    assert old.metric_names is None
    create_study(space, OBJ, storage=url, study_name="old")
    assert optuna.load_study(study_name="old", storage=url).metric_names == NAMES


# ---- 2. optuna-dashboard shows which designs are feasible -------------------------------------

def _constrained_study(url: str, space) -> optuna.Study:
    """Trials as our objective records them (per-name constraints, Optuna 5's way): two
    feasible Pareto designs, one dominated feasible design, and two infeasible designs that
    no trial dominates (accuracy not evaluated: 0)."""
    study = create_study(space, OBJ, sampler="random", storage=url, study_name="dash")
    rows = [((92.0, 0.10, 50.0), 0.0, -0.5), ((90.0, 0.05, 30.0), 0.0, -0.75),
            ((0.0, 0.001, 500.0), 2.4, -0.995), ((0.0, 0.5, 1.0), -0.99, 1.5),
            ((89.0, 0.15, 60.0), 0.0, -0.25)]
    for values, area, latency in rows:
        feasible = area <= 0 and latency <= 0
        study.add_trial(optuna.trial.create_trial(
            values=list(values),
            constraints={"feasible": 0.0, "area_mm2<=147.8": area, "latency_ms<=0.2": latency},
            user_attrs={"latency_ms": values[1], "area_mm2": values[2],
                        "accuracy_evaluated": feasible}))
    return study


def _get(app, path: str) -> dict:
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(PATH_INFO=path, REQUEST_METHOD="GET", QUERY_STRING="")
    status: list[str] = []
    body = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
    assert status[0].startswith("200"), (status, body[:300])
    return json.loads(body)


@pytest.mark.slow
def test_dashboard_shows_infeasible_designs_as_infeasible_and_never_best(tmp_path, space):
    pytest.importorskip("optuna_dashboard")
    dashboard_app = analysis.dashboard_app

    url = f"sqlite:///{tmp_path}/d.db"
    study = _constrained_study(url, space)
    assert {t.number for t in study.best_trials} == {0, 1}     # Optuna: feasible only
    app = dashboard_app(url)
    studies = _get(app, "/api/studies")["study_summaries"]
    study_id = next(s["study_id"] for s in studies if s["study_name"] == "dash")
    detail = _get(app, f"/api/studies/{study_id}")
    # what the dashboard lists as best, and what its plots colour as (in)feasible
    assert sorted(t["number"] for t in detail["best_trials"]) == [0, 1]
    shown = {t["number"]: t["constraints"] for t in detail["trials"]}
    assert {n for n, c in shown.items() if c and all(v <= 0 for v in c)} == {0, 1, 4}
    assert {n for n, c in shown.items() if any(v > 0 for v in c)} == {2, 3}
    assert detail["objective_names"] == NAMES
    # the dashboard's own best-trials function, as the app uses it
    from optuna_dashboard import _app

    best = _app.get_pareto_front_trials(trials=study.trials, directions=study.directions)
    assert sorted(t.number for t in best) == [0, 1]
    # a read view: nothing written to the study
    assert all("constraints" not in t.system_attrs for t in
               optuna.load_study(study_name="dash", storage=url).trials)


def test_dashboard_best_single_objective_trial_is_feasible(tmp_path, space):
    pytest.importorskip("optuna_dashboard")
    dashboard_app, dashboard_storage = analysis.dashboard_app, analysis.dashboard_storage

    url = f"sqlite:///{tmp_path}/r.db"
    study = create_study(space, REWARD, storage=url, study_name="r")
    for value, c in [(90.0, 0.0), (120.0, 1.0), (100.0, 0.0)]:   # the highest is infeasible
        study.add_trial(optuna.trial.create_trial(value=value, constraints={"feasible": c}))
    view = dashboard_storage(url)
    assert view.get_best_trial(study._study_id).number == 2
    app = dashboard_app(url)
    sid = next(s["study_id"] for s in _get(app, "/api/studies")["study_summaries"]
               if s["study_name"] == "r")
    assert [t["number"] for t in _get(app, f"/api/studies/{sid}")["best_trials"]] == [2]


@pytest.mark.integration
def test_dashboard_command_and_lazy_import():
    """``python -m moo_cosearch.analysis.dashboard`` runs (no runpy warning: the package does
    not import the module), and importing the package loads neither optuna nor the dashboard."""
    proc = subprocess.run([sys.executable, "-W", "error", "-m", "moo_cosearch.analysis.dashboard",
                           "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "storage" in proc.stdout and "--port" in proc.stdout
    out = subprocess.run([sys.executable, "-c", "import sys, moo_cosearch.analysis; "
                          "print(sorted({'optuna', 'optuna_dashboard'} & set(sys.modules)))"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == "[]"


# ---- 3. the terminal report -------------------------------------------------------------------

@pytest.mark.slow
def test_report_prints_every_column_within_the_width(run, space, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")   # the terminal's width
    written = write_report(run, load_objectives(OBJ), tmp_path)
    text = capsys.readouterr().out
    header_words = set(re.findall(r"[A-Za-z_][\w]*", text))
    for p in space.params:
        if not p.fixed:
            assert p.name in header_words, p.name
    assert "accuracy (%)" in text
    table = text.split("Pareto set:")[1].split("hypervolume")[0]
    assert max(len(line) for line in table.splitlines()) <= 100
    # the csv keeps its columns: trial, objectives, other costs, every parameter
    with written["pareto_csv"].open() as fh:
        header = next(csv.reader(fh))
    assert header[:5] == ["trial", *NAMES, "energy_mj"]
    assert header[5:] == [p.name for p in space.params if not p.fixed]


@pytest.mark.slow
def test_report_says_when_it_shows_fewer_rows(run, tmp_path, capsys):
    write_report(run, load_objectives(OBJ), tmp_path, max_rows=1)
    text = capsys.readouterr().out
    assert "the first 1 here, all in pareto.csv" in text


@pytest.mark.slow
def test_report_reference_point_in_own_directions_and_units(run, tmp_path, capsys):
    write_report(run, load_objectives(OBJ), tmp_path)
    text = capsys.readouterr().out
    assert ("reference point: accuracy (%) >= 0, latency_ms <= 0.2, area_mm2 <= 147.8"
            in text)
    assert "'-0'" not in text and "minimisation form" not in text
    # an objective set without a reference point: coordinates from the trials, marked so
    energy = load_objectives("nb201-cifar10-energy")
    study = create_study(load_space("nb201-edge"), energy, sampler="random", seed=0,
                         storage=None)
    study.optimize(make_objective(load_space("nb201-edge"), energy), n_trials=20)
    write_report(study, energy, tmp_path / "e")
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("hypervolume"))
    assert "(from the trials)" in line and "accuracy (%) >= " in line


def test_single_objective_report_prints_the_best_design(reward_run, tmp_path, capsys):
    written = write_report(reward_run, load_objectives(REWARD), tmp_path)
    text = capsys.readouterr().out
    best = reward_run.best_trial
    assert f"Best design: trial {best.number}, reward " in text
    assert "Pareto set" not in text and "hypervolume" not in text
    for name in ("edge0", "io_bandwidth_gbyte_s", "latency_ms", "accuracy (%)"):
        assert name in text
    assert set(written) == {"best_csv", "best_value"}      # one objective: no Pareto files
    for name in ("hypervolume.png", "pareto_front.png", "pareto.csv"):
        assert not (tmp_path / name).exists(), name
    assert (tmp_path / "best_value.png").stat().st_size > 0
    with (tmp_path / "best.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and rows[0]["trial"] == str(best.number)
    assert {"reward", "accuracy", "latency_ms", "area_mm2", "edge0"} <= set(rows[0])


# ---- 4. figures -------------------------------------------------------------------------------

@pytest.mark.slow
def test_pareto_front_keeps_unevaluated_designs_off_the_accuracy_axis(run, tmp_path, figures):
    analysis.plot_pareto_front(run, tmp_path / "p.png", NAMES)
    fig, = figures
    done = [t for t in run.trials if t.state == optuna.trial.TrialState.COMPLETE]
    skipped = [t for t in done if t.user_attrs.get("accuracy_evaluated") is False]
    evaluated = [t.values[0] for t in done if t.user_attrs.get("accuracy_evaluated")]
    accuracy_axes = [ax for ax in fig.axes if ax.get_ylabel() == "accuracy (%)"]
    assert len(accuracy_axes) == 2
    for ax in accuracy_axes:
        assert ax.get_ylim()[0] > min(evaluated) - 0.2 * (max(evaluated) - min(evaluated))
    strips = [ax for ax in fig.axes if any("not evaluated" in t.get_text() for t in ax.texts)]
    assert len(strips) == 2
    for strip, metric in zip(strips, ["latency_ms", "area_mm2"]):
        xs = np.concatenate([c.get_offsets()[:, 0] for c in strip.collections])
        np.testing.assert_allclose(np.sort(xs), np.sort([t.user_attrs[metric]
                                                          for t in skipped]))
        assert strip.get_xlabel() == metric
    # the cost-vs-cost panel draws them where they belong, no strip
    costs = next(ax for ax in fig.axes if ax.get_ylabel() == "latency_ms")
    drawn = np.concatenate([c.get_offsets() for c in costs.collections])
    for t in skipped:
        assert np.any(np.all(np.isclose(drawn, [t.user_attrs["area_mm2"],
                                                t.user_attrs["latency_ms"]]), axis=1))


def test_hypervolume_figure_is_optunas_curve(run, tmp_path, figures):
    ref = reference_point(run, load_objectives(OBJ))
    analysis.plot_hypervolume_history(run, ref, tmp_path / "hv.png")
    fig, = figures
    ax = fig.axes[0]
    x, y = ax.lines[0].get_xdata(), ax.lines[0].get_ydata()
    numbers, hv = hypervolume_history(run, ref)
    np.testing.assert_array_equal(x, numbers)   # every trial completed
    np.testing.assert_allclose(y, hv, rtol=1e-9, atol=1e-9)
    assert "accuracy (%) >= 0, latency_ms <= 0.2" in ax.get_title()
    assert (tmp_path / "hv.png").stat().st_size > 0
    assert matplotlib.rcParams["axes.facecolor"] == "white"   # Optuna's ggplot style undone


def test_best_value_figure_for_a_single_objective(reward_run, tmp_path, figures):
    analysis.plot_best_value(reward_run, tmp_path / "b.png")
    fig, = figures
    ax = fig.axes[0]
    best_line = next(line for line in ax.lines if line.get_label() == "Best Value")
    values = [t.value for t in reward_run.trials]
    np.testing.assert_allclose(best_line.get_ydata(), np.maximum.accumulate(values))
    assert ax.get_ylabel() == "reward"
