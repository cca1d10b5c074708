"""Studies (storage, resume, Pareto set, hypervolume) and the moo-cosearch CLI end to end."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import moocore
import numpy as np
import optuna
import pytest

from moo_cosearch import create_study, load_space, make_objective, pareto_trials
from moo_cosearch.analysis import hypervolume_history, minimization_matrix, reference_point
from moo_cosearch.cli import main
from moo_cosearch.hardware.edge import BASELINE

optuna.logging.set_verbosity(optuna.logging.WARNING)
OBJ = "nb201-cifar10-latency-area"
MBV2_BASELINE = {**{f"b{i}_kernel": 3 for i in range(17)},
                 **{f"b{i}_expansion": 6 for i in range(1, 17)}, **BASELINE}


@pytest.fixture(scope="module")
def space():
    return load_space("nb201-edge")


@pytest.mark.slow
def test_create_study_sqlite_resume_and_mismatch(tmp_path, space):
    url = f"sqlite:///{tmp_path}/sub/s.db"
    study = create_study(space, OBJ, sampler="random", seed=1, storage=url)
    assert isinstance(study, optuna.Study)
    assert study.study_name == "nb201-edge--nb201-cifar10-latency-area--random--seed1"
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE", "MINIMIZE"]
    study.optimize(make_objective(space, OBJ), n_trials=6)
    again = create_study(space, OBJ, sampler="random", seed=1, storage=url)
    assert len(again.trials) == 6
    again.optimize(make_objective(space, OBJ), n_trials=4)
    assert len(create_study(space, OBJ, sampler="random", seed=1, storage=url).trials) == 10
    with pytest.raises(ValueError, match="was made with objectives"):
        create_study(space, "nb201-cifar10-energy", storage=url, study_name=study.study_name)


def test_same_seed_same_study(space):
    def params(seed):
        study = create_study(space, OBJ, sampler="nsga2", seed=seed, storage=None,
                             sampler_options={"population_size": 8})
        study.optimize(make_objective(space, OBJ), n_trials=20)
        return [t.params for t in study.trials]

    assert params(3) == params(3)
    assert params(3) != params(4)


def test_pareto_set_and_hypervolume_against_brute_force(space):
    study = create_study(space, OBJ, sampler="random", seed=0, storage=None)
    study.optimize(make_objective(space, OBJ), n_trials=80)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    feas = [t for t in done if all(v <= 0 for v in t.constraints.values())]
    front = pareto_trials(study)
    assert front and all(t in feas for t in front)
    f = minimization_matrix(feas, study.directions)
    # brute force: a feasible trial is on the front iff no feasible trial dominates it
    dominated = [bool(np.any(np.all(f <= p, axis=1) & np.any(f < p, axis=1))) for p in f]
    assert {t.number for t, d in zip(feas, dominated) if not d} == {t.number for t in front}
    ref = reference_point(study)
    numbers, hv = hypervolume_history(study, ref)
    assert list(numbers) == list(range(80))
    assert np.all(np.diff(hv) >= -1e-9)
    assert hv[-1] == pytest.approx(moocore.hypervolume(minimization_matrix(front,
                                                                          study.directions),
                                                       ref=ref))
    # the objective set's reference point is used where given
    from moo_cosearch import load_objectives

    np.testing.assert_allclose(reference_point(study, load_objectives(OBJ)),
                               [0.0, 0.2, 147.84144530285715])


@pytest.mark.slow
def test_cli_run_writes_outputs_and_resumes(tmp_path, capsys):
    db = tmp_path / "runs" / "cli.db"
    out = tmp_path / "out"
    argv = ["run", "--trials", "16", "--storage", f"sqlite:///{db}", "--out", str(out),
            "-o", "population_size=8", "-q"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Pareto set:" in text and "hypervolume" in text
    for name in ("pareto.csv", "pareto_front.png", "hypervolume.png"):
        assert (out / name).stat().st_size > 0
    rows = list(csv.DictReader((out / "pareto.csv").open()))
    assert rows and {"trial", "accuracy", "latency_ms", "area_mm2", "edge0", "pes_x"} <= set(rows[0])
    assert main(argv) == 0
    assert "resuming with 16 trials" in capsys.readouterr().out
    study = optuna.load_study(study_name="nb201-edge--nb201-cifar10-latency-area--nsga2--seed0",
                              storage=f"sqlite:///{db}")
    assert sum("skipped" not in t.user_attrs for t in study.trials) == 32   # evaluated


@pytest.mark.slow
def test_cli_reward_run(tmp_path, capsys):
    argv = ["run", "--objectives", "nb201-nahas-reward-hard", "--sampler", "tpe", "--trials",
            "12", "--storage", f"sqlite:///{tmp_path}/r.db", "--out", str(tmp_path / "o"), "-q"]
    assert main(argv) == 0
    assert (tmp_path / "o" / "best_value.png").exists() and (tmp_path / "o" / "best.csv").exists()
    assert not (tmp_path / "o" / "pareto_front.png").exists()       # one objective: no front


def test_cli_simulate_baseline_mobilenetv2(capsys):
    assert main(["simulate", "--space", "nahas-mbv2-edge", "--params",
                 json.dumps(MBV2_BASELINE)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["feasible"] is True and row["reason"] == ""
    # 300.8 M MACs at the 26.2 TOPS peak take at least 2 * 300.8e6 / 26.2e12 s = 0.023 ms
    assert 0.023 < row["latency_ms"] < 1.0
    assert row["area_mm2"] == pytest.approx(147.84144530285715)


def test_cli_simulate_stdin_with_bad_lines(monkeypatch, capsys):
    good = json.dumps(MBV2_BASELINE)
    off = json.dumps({**MBV2_BASELINE, "io_bandwidth_gbyte_s": 7})
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO(
        "\n".join([good, "{not json", off, "[1, 2]", good]) + "\n"))
    assert main(["simulate", "--space", "nahas-mbv2-edge"]) == 1
    captured = capsys.readouterr()
    lines = [json.loads(x) for x in captured.out.splitlines()]
    assert len(lines) == 5
    assert lines[0] == lines[4] and lines[0]["feasible"] is True
    assert lines[1]["error"].startswith("line 2: malformed JSON")
    assert lines[2]["error"] == ("line 3: io_bandwidth_gbyte_s must be one of "
                                 "[5, 10, 15, 20, 25], got 7")
    assert "expected a JSON object" in lines[3]["error"]
    assert captured.err.count("\n") == 3


@pytest.mark.parametrize("argv, message", [
    (["simulate", "--space", "nope", "--params", "{}"], "unknown space 'nope'"),
    (["run", "--space", "nope", "--trials", "1"], "unknown space 'nope'"),
    (["run", "--objectives", "nope", "--trials", "1"], "unknown objective set 'nope'"),
    (["run", "--sampler", "nope", "--trials", "1", "--storage", "sqlite:///:memory:"],
     "sampler must be one of"),
    (["run", "--trials", "0"], "--trials: must be an integer >= 1, got 0"),
])
def test_cli_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


@pytest.mark.integration
def test_cli_spaces_and_help():
    out = subprocess.run([sys.executable, "-m", "moo_cosearch.cli", "spaces"], check=True,
                         capture_output=True, text=True).stdout
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == sorted(names)
    assert {"nahas-effnetb0-edge", "nahas-mbv2-edge", "nb201-edge"} <= set(names)
    for line in out.splitlines()[1:]:
        name, nas, has, card = line.split()[:4]
        assert float(card) == pytest.approx(load_space(name).cardinality, rel=1e-3)
        space = load_space(name)
        assert int(has) == sum(1 for p in space.params if p.group == "has" and not p.fixed)
        assert space.accelerator != "edge" or int(has) == 7
    # NAHAS S1: 3^17 * 2^16 network choices x 5*5*4*4*5*5*5 accelerators
    assert load_space("nahas-mbv2-edge").cardinality == 3 ** 17 * 2 ** 16 * 50000
    help_text = subprocess.run([sys.executable, "-m", "moo_cosearch.cli", "run", "--help"],
                               check=True, capture_output=True, text=True).stdout
    assert "--storage" in help_text and "--study-name" in help_text


def test_qehvi_gets_the_objective_sets_reference_point(space):
    study = create_study(space, OBJ, sampler="qehvi", seed=0, storage=None)
    np.testing.assert_allclose(study.sampler._reference_point, [0.0, 0.2, 147.84144530285715])
    mine = create_study(space, OBJ, sampler="qehvi", seed=0, storage=None,
                        sampler_options={"reference_point": [50.0, 1.0, 200.0]})
    np.testing.assert_allclose(mine.sampler._reference_point, [50.0, 1.0, 200.0])
    # an objective set without a reference point leaves the sampler's heuristic in place
    assert create_study(space, "nb201-cifar10-energy", sampler="qehvi",
                        storage=None).sampler._reference_point is None
