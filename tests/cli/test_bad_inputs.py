"""Every kind of bad input a careful user tried ends in one clear line and a non-zero exit
before anything is stored, or in a FAIL trial that leaves the study going; never a traceback,
a hang, or a study quietly full of failures.

Each case runs the real command line in-process (``main(argv)``) and checks: the exit status,
one line on stderr containing the rule that was broken, and that no database was created.
"""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import optuna
import pytest

from moo_cosearch.cli import main

_SPACE_OK = '''
name = "tiny"
network = "nb201"
accelerator = "edge"
{extra}
[[params]]
name = "edge{{i}}"
i = [0, 5]
group = "nas"
choices = ["none", "skip_connect", "nor_conv_3x3"]

[[params]]
name = "pes_x"
group = "has"
choices = [1, 2, 4]
{param}
'''

_EDGE = (Path(__file__).parents[2] / "spaces" / "nb201-edge.toml").read_text()

# (id, space TOML text, expected fragment of the one-line error)
SPACES = [
    ("malformed-toml", "name = 'x\n[[params]", "malformed TOML"),
    ("no-name", "[[params]]\nname = 'a'\ngroup = 'nas'\nchoices = [1]", "needs a string 'name'"),
    ("no-params", "name = 'x'", "non-empty [[params]]"),
    ("unknown-top-key", "name = 'x'\ncolour = 'red'\n[[params]]\nname='a'\ngroup='nas'\n"
                        "choices=[1, 2]", "unknown top-level keys ['colour']"),
    ("unknown-param-key", "name='x'\n[[params]]\nname='a'\ngroup='nas'\nchoices=[1, 2]\n"
                          "step=3", "unknown keys ['step']"),
    ("empty-choices", "name='x'\n[[params]]\nname='a'\ngroup='nas'\nchoices=[]",
     "choices must not be empty"),
    ("mixed-choices", "name='x'\n[[params]]\nname='a'\ngroup='nas'\nchoices=[16, '32', 64]",
     "all numbers or all strings"),
    ("bool-choice", "name='x'\n[[params]]\nname='a'\ngroup='nas'\nchoices=[true, false]",
     "numbers or strings"),
    ("nan-choice", "name='x'\n[[params]]\nname='a'\ngroup='nas'\nchoices=[1.0, nan]",
     "must be finite"),
    ("duplicate-choice", "name='x'\n[[params]]\nname='a'\ngroup='nas'\nchoices=[2, 2.0]",
     "must be distinct"),
    ("duplicate-name", "name='x'\n[[params]]\nname='a'\ngroup='nas'\nchoices=[1, 2]\n"
                       "[[params]]\nname='a'\ngroup='has'\nchoices=[1, 2]", "must be unique"),
    ("reversed-range", "name='x'\n[[params]]\nname='a{i}'\ni=[5, 0]\ngroup='nas'\n"
                       "choices=[1, 2]", "must give 1 to"),
    ("huge-range", "name='x'\n[[params]]\nname='a{i}'\ni=[0, 5000000]\ngroup='nas'\n"
                   "choices=[1, 2]", "must give 1 to 10000 parameters"),
    ("range-without-i", "name='x'\n[[params]]\nname='a'\ni=[0, 3]\ngroup='nas'\n"
                        "choices=[1, 2]", "must contain '{i}'"),
    ("too-many-choices", "name='x'\n[[params]]\nname='a'\ngroup='has'\nchoices=["
                         + ", ".join(str(i) for i in range(200_000)) + "]",
     "at most 10000 choices"),
    ("bad-group", "name='x'\n[[params]]\nname='a'\ngroup='sw'\nchoices=[1, 2]",
     "group must be one of"),
    ("ordered-strings", "name='x'\n[[params]]\nname='a'\ngroup='nas'\nchoices=['p', 'q']\n"
                        "ordered=true", "needs numeric choices"),
    ("choices-and-fixed", "name='x'\n[[params]]\nname='a'\ngroup='nas'\nchoices=[1, 2]\n"
                          "fixed=1", "exactly one of 'choices' or 'fixed'"),
    ("baseline-unknown", _SPACE_OK.format(extra="", param="[baseline]\nfoo = 1"),
     "names unknown parameters ['foo']"),
    ("baseline-off-grid", _SPACE_OK.format(extra="", param="[baseline]\npes_x = 3"),
     "pes_x must be one of [1, 2, 4], got 3"),
    ("no-pes-y", _SPACE_OK.format(extra="", param=""), "needs"),
    ("nothing-to-search", "name='x'\n[[params]]\nname='a'\ngroup='nas'\nfixed=1\n[[params]]\n"
                          "name='b'\ngroup='has'\nchoices=[4]", "two or more choices to search"),
    ("fractional-pes", _EDGE.replace("choices = [1, 2, 4, 6, 8]", "choices = [1, 2.5, 4, 6, 8]",
                                     1), "pes_x counts hardware units and must take whole "
                                         "values, got [2.5]"),
    ("fractional-lanes", _EDGE.replace("choices = [1, 2, 4, 8]", "choices = [1.5, 2, 4, 8]", 1),
     "compute_lanes counts hardware units and must take whole values, got [1.5]"),
    ("unknown-accelerator", _EDGE.replace('accelerator = "edge"', 'accelerator = "edgy"', 1),
     "space.toml: accelerator must be one of"),
]


@pytest.mark.parametrize("text, fragment", [s[1:] for s in SPACES], ids=[s[0] for s in SPACES])
def test_bad_space_files(tmp_path, capsys, text, fragment):
    path = tmp_path / "space.toml"
    path.write_text(text)
    db = tmp_path / "s.db"
    rc = main(["run", "--space", str(path), "--trials", "2", "-q",
               "--storage", f"sqlite:///{db}", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and fragment in err, err
    assert not db.exists()


_OBJ_HEAD = 'name = "o"\nspace = "nb201-edge"\ncost = "edge"\n'
_OBJ_TAIL = '[[objectives]]\nmetric = "accuracy"\ndirection = "maximize"\n'
OBJECTIVES = [
    ("malformed", "name = \n", "malformed TOML"),
    ("unknown-key", _OBJ_HEAD + "colour = 1\n" + _OBJ_TAIL, "unknown keys ['colour']"),
    ("unknown-metric", _OBJ_HEAD + '[[objectives]]\nmetric = "speed"\ndirection = "minimize"\n',
     "objective metric must be one of"),
    ("bad-direction", _OBJ_HEAD + '[[objectives]]\nmetric = "latency_ms"\ndirection = "down"\n',
     "direction of latency_ms must be one of"),
    ("key-after-table", _OBJ_HEAD + _OBJ_TAIL + 'reference_point = "zero"\n',
     "an objective is {metric, direction}"),
    ("reference-point-string", 'reference_point = "zero"\n' + _OBJ_HEAD + _OBJ_TAIL,
     "reference_point must be a table"),
    ("reference-point-nan", _OBJ_HEAD + _OBJ_TAIL + "[reference_point]\naccuracy = nan\n",
     "reference_point must be a table of objective = finite number"),
    ("reference-point-key", _OBJ_HEAD + _OBJ_TAIL + "[reference_point]\narea_mm2 = 1\n",
     "reference_point keys must be objectives"),
    ("constraint-no-limit", _OBJ_HEAD + _OBJ_TAIL + '[[constraints]]\nmetric = "area_mm2"\n',
     "a constraint is {metric, max} or {metric, min}"),
    ("constraint-both", _OBJ_HEAD + _OBJ_TAIL + '[[constraints]]\nmetric = "area_mm2"\n'
                                                "max = 1\nmin = 0\n", "{metric, max}"),
    ("constraint-zero", _OBJ_HEAD + _OBJ_TAIL + '[[constraints]]\nmetric = "area_mm2"\n'
                                                "max = 0\n", "finite non-zero number"),
    ("unknown-source", 'accuracy = { source = "oracle" }\n' + _OBJ_HEAD + _OBJ_TAIL,
     "accuracy source must be one of"),
    ("unknown-source-option", 'accuracy = { source = "nb201", epochs = 5 }\n' + _OBJ_HEAD
     + _OBJ_TAIL, "takes options"),
    ("bad-accuracy-range", 'accuracy = { source = "nb201", range = [100, 0] }\n' + _OBJ_HEAD
     + _OBJ_TAIL, "accuracy range must be [low, high]"),
    ("unknown-cost", 'name = "o"\ncost = "quantum"\n' + _OBJ_TAIL, "quantum"),
    ("reward-not-table", 'name = "o"\nreward = 3\n', "[reward] must be a table"),
    ("objectives-and-reward", _OBJ_HEAD + "[reward]\nlatency_ms = 1\n" + _OBJ_TAIL,
     "exactly one of [[objectives]] or [reward]"),
    ("bad-function", 'accuracy = { source = "callable", function = "nope" }\n' + _OBJ_HEAD
     + _OBJ_TAIL, "must be 'package.module:name'"),
    ("unknown-space", _OBJ_HEAD.replace('"nb201-edge"', '"nb210-edge"') + _OBJ_TAIL,
     "objectives.toml: space = 'nb210-edge': unknown space 'nb210-edge'"),
    ("latency-limit-below-zero", _OBJ_HEAD + _OBJ_TAIL + '[[constraints]]\nmetric = '
     '"latency_ms"\nmax = -0.2\n', "constraints[0] max of latency_ms must be a limit some "
     "design can meet (latency_ms is >= 0), got -0.2"),
    ("area-limit-below-zero", _OBJ_HEAD + _OBJ_TAIL + '[[constraints]]\nmetric = "area_mm2"\n'
     "max = 1\n[[constraints]]\nmetric = \"area_mm2\"\nmax = -3\n", "constraints[1] max of "
     "area_mm2"),
    ("accuracy-floor-above-range", _OBJ_HEAD + _OBJ_TAIL + '[[constraints]]\nmetric = '
     '"accuracy"\nmin = 150\n', "min of accuracy must be a limit some design can meet "
     "(accuracy is in [0, 100] (the accuracy source's range)), got 150"),
    ("accuracy-ceiling-below-range", _OBJ_HEAD + _OBJ_TAIL + '[[constraints]]\nmetric = '
     '"accuracy"\nmax = -5\n', "max of accuracy must be a limit some design can meet"),
    ("same-metric-twice", _OBJ_HEAD + _OBJ_TAIL + _OBJ_TAIL,
     "objectives[1]: each metric may be one objective, got accuracy twice"),
    ("same-metric-both-ways", _OBJ_HEAD + '[[objectives]]\nmetric = "latency_ms"\ndirection = '
     '"minimize"\n[[objectives]]\nmetric = "latency_ms"\ndirection = "maximize"\n',
     "got latency_ms twice"),
    ("reference-point-above-range", _OBJ_HEAD + _OBJ_TAIL + "[reference_point]\naccuracy = 200\n",
     "reference_point.accuracy must lie in the metric's range (accuracy is in [0, 100]"),
    ("reference-point-below-zero", _OBJ_HEAD + _OBJ_TAIL + '[[objectives]]\nmetric = '
     '"latency_ms"\ndirection = "minimize"\n[reference_point]\nlatency_ms = -1\n',
     "reference_point.latency_ms must lie in the metric's range (latency_ms is >= 0), got -1"),
]


@pytest.mark.parametrize("text, fragment", [s[1:] for s in OBJECTIVES],
                         ids=[s[0] for s in OBJECTIVES])
def test_bad_objective_sets(tmp_path, capsys, text, fragment):
    path = tmp_path / "objectives.toml"
    path.write_text(text)
    db = tmp_path / "s.db"
    rc = main(["run", "--objectives", str(path), "--trials", "2", "-q",
               "--storage", f"sqlite:///{db}", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and fragment in err, err
    assert not db.exists()


RUN_OPTIONS = [
    ("trials-0", ["--trials", "0"], "--trials: must be an integer >= 1"),
    ("trials-text", ["--trials", "many"], "invalid positive_int value"),
    ("budget-0", ["--budget", "0"], "--budget: must be an integer >= 1"),
    ("workers-0", ["--workers", "0"], "--workers: must be an integer >= 1"),
    ("show-0", ["--show", "0"], "--show: must be an integer >= 1"),
    ("unknown-sampler", ["--sampler", "annealing"], "sampler must be one of"),
    ("option-no-equals", ["-o", "population_size"], "sampler options are KEY=VALUE"),
    ("option-float-for-int", ["-o", "population_size=2.5"], "population_size must be int"),
    ("option-seed", ["-o", "seed=5"], "give the seed as seed="),
    ("option-unknown", ["-o", "temperature=3"], "takes options"),
    ("tpe-option-text", ["--sampler", "tpe", "-o", "n_startup_trials=abc"],
     "n_startup_trials must be int"),
    ("bad-view", ["--view", "sideways"], "invalid choice: 'sideways'"),
    ("unknown-backend", ["--backend", "quantum"], "quantum"),
    ("missing-surrogate", ["--backend", "surrogate:/nonexistent/model.pt"], "model.pt"),
    ("heartbeat-negative", ["--heartbeat", "-1"],
     "heartbeat must be a finite number of seconds > 0"),
    ("space-objectives-misfit", ["--space", "nahas-mbv2-edge", "--objectives",
                                 "nb201-cifar10-latency-area"], "nb201"),
    ("unknown-space", ["--space", "nope"], "unknown space 'nope'"),
    ("unknown-objectives", ["--objectives", "nope"], "unknown objective set 'nope'"),
    ("unknown-command-flag", ["--colour", "red"], "unrecognized arguments: --colour red"),
    ("qehvi-n-candidates-0", ["--sampler", "qehvi", "-o", "n_candidates=0"],
     "option n_candidates must be >= 1, got 0"),
    ("qehvi-mc-samples-0", ["--sampler", "qehvi", "-o", "mc_samples=0"],
     "option mc_samples must be >= 1, got 0"),
    ("qehvi-reference-point-length", ["--sampler", "qehvi", "-o", "reference_point=[1, 2]"],
     "option reference_point must be a list of 3 finite numbers, one per objective"),
    ("qehvi-reference-point-text", ["--sampler", "qehvi", "-o", "reference_point=zero"],
     "option reference_point must be a list of 3 finite numbers"),
    ("tpe-n-ei-candidates-0", ["--sampler", "tpe", "-o", "n_ei_candidates=0"],
     "option n_ei_candidates must be >= 1, got 0"),
    ("tpe-startup-negative", ["--sampler", "tpe", "-o", "n_startup_trials=-1"],
     "option n_startup_trials must be >= 0, got -1"),
    ("population-size-1", ["-o", "population_size=1"], "option population_size must be >= 2"),
    ("crossover-prob-above-1", ["-o", "crossover_prob=1.5"],
     "option crossover_prob must be in [0, 1], got 1.5"),
    ("mutation-prob-nan", ["-o", "mutation_prob=NaN"], "option mutation_prob must be in [0, 1], "
                                                      "got nan"),
    ("study-name-too-long", ["--study-name", "s" * 513],
     "study name must be at most 512 characters (the storages' limit), got 513"),
    ("study-name-empty", ["--study-name", ""], "study name must be a non-empty string"),
    ("pruner-multi-objective", ["--pruner", "median"], "--pruner median needs a single-objective "
     "set whose accuracy source reports each epoch (train, nb201-mf) and --batch 1; objective "
     "set 'nb201-cifar10-latency-area' has 3 objectives"),
]


@pytest.mark.parametrize("args, fragment", [s[1:] for s in RUN_OPTIONS],
                         ids=[s[0] for s in RUN_OPTIONS])
def test_bad_run_options(tmp_path, capsys, args, fragment):
    db = tmp_path / "s.db"
    rc = main(["run", "--trials", "2", "-q", "--storage", f"sqlite:///{db}",
               "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and fragment in err, err
    assert not db.exists()


def _storages(tmp_path: Path) -> list[tuple[str, str, str]]:
    folder = tmp_path / "folder.db"
    folder.mkdir()
    text = tmp_path / "notes.db"
    text.write_text("these are my notes, not a database\n")
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(b"SQLite format 3\x00" + b"\x00" * 40)
    return [
        ("unknown-scheme", "quantum://host/db", "unknown database scheme"),
        ("not-a-url", "results.db", "is not a URL"),
        ("folder", f"sqlite:///{folder}", "is a folder, not an SQLite file"),
        ("not-sqlite", f"sqlite:///{text}", "is not an SQLite database"),
        ("truncated", f"sqlite:///{truncated}", f"storage sqlite:///{truncated}:"),
        ("unreachable", "postgresql://user:secret@127.0.0.1:1/db", "127.0.0.1"),
        ("no-driver", "mysql+nosuchdriver://u@h/db", "storage mysql+nosuchdriver://u@h/db:"),
        ("journal-folder", f"journal:{folder}", "journal:PATH needs a file path"),
        ("bad-sqlite-path", "sqlite:////proc/no/such/dir/s.db", "cannot make"),
    ]


def test_bad_storages_are_one_line_naming_the_url(tmp_path, capsys):
    for name, url, fragment in _storages(tmp_path):
        rc = main(["run", "--trials", "1", "-q", "--storage", url,
                   "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1 and fragment in err, (name, err)
        assert "secret" not in err, "passwords never reach the terminal"


def test_simulate_streams_and_keeps_good_lines(monkeypatch, capsys):
    good = {"edge0": "none", "edge1": "none", "edge2": "none", "edge3": "none",
            "edge4": "none", "edge5": "none", "pes_x": 4, "pes_y": 4, "simd_units": 64,
            "compute_lanes": 4, "register_file_kb": 32, "local_memory_mb": 2,
            "io_bandwidth_gbyte_s": 10}
    lines = [json.dumps(good),
             '{"edge0": 1' + "0" * 5000 + "}",            # beyond Python's digit limit
             "[" * 100_000 + "]" * 100_000,               # nested too deeply
             "{not json",
             "[1, 2]",
             json.dumps({**good, "pes_x": 3}),            # off the grid
             json.dumps({**good, "colour": 1}),           # unknown parameter
             json.dumps({k: v for k, v in good.items() if k != "pes_y"}),   # missing
             json.dumps(good)]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["simulate", "--space", "nb201-edge"]) == 1
    captured = capsys.readouterr()
    out = [json.loads(x) for x in captured.out.splitlines()]
    assert len(out) == len(lines)
    assert out[0] == out[-1] and out[0]["feasible"] is True
    assert all("error" in row for row in out[1:-1])
    assert "digits" in out[1]["error"] and "nested too deeply" in out[2]["error"]
    assert captured.err.count("\n") == len(lines) - 2


@pytest.mark.integration
def test_simulate_answers_each_line_before_stdin_closes(tmp_path):
    import subprocess

    proc = subprocess.Popen([sys.executable, "-m", "moo_cosearch.cli", "simulate", "--space",
                             "nb201-edge"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        proc.stdin.write("{}\n")
        proc.stdin.flush()
        first = proc.stdout.readline()           # answered while stdin is still open
        assert "missing parameter" in json.loads(first)["error"]
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


class _Constant:
    def __init__(self, value):
        self.value = value

    def __call__(self, design):
        return self.value


@pytest.mark.parametrize("value, fragment", [
    (-50.0, "outside the declared range [0, 100]"),
    (1e308, "outside the declared range"),
    (True, "not a number"),
    ("93.1", "not a number"),
    (math.nan, "outside the declared range"),
    (None, "not a number"),
])
def test_accuracy_values_outside_the_range_fail_the_trial(value, fragment):
    from moo_cosearch import load_space, make_objective

    space = load_space("nb201-edge")
    objective = make_objective(space, "nb201-cifar10-latency-area", accuracy=_Constant(value))
    objective.gate = None
    study = optuna.create_study(directions=objective.directions)
    study.optimize(objective, n_trials=40)
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    evaluated = [t for t in study.trials if t.user_attrs.get("accuracy_evaluated")]
    assert failed and not evaluated      # every design that reached accuracy failed
    assert all(fragment in t.user_attrs["error"] for t in failed)
    assert len(study.trials) == 40       # the study went on


@pytest.mark.parametrize("args, fragment", [
    (["--epochs", "0"], "--epochs: must be an integer >= 1"),
    (["--ensemble", "0"], "--ensemble: must be an integer >= 1"),
    (["--hidden", "64", "0"], "--hidden: must be an integer >= 1"),
    (["--lr", "0"], "--lr: must be a number > 0"),
    (["--dropout", "1.5"], "--dropout: must be in [0, 1)"),
    (["--batch-size", "-3"], "--batch-size: must be an integer >= 1"),
    (["--max-minutes", "nan"], "--max-minutes: must be a number > 0"),
    ([], "no sample file"),
])
def test_bad_train_surrogate_options(tmp_path, capsys, args, fragment):
    rc = main(["train-surrogate", "--samples", str(tmp_path / "missing.npz"),
               "--out", str(tmp_path / "m.pt"), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and fragment in err, err
    assert not (tmp_path / "m.pt").exists()


def test_corrupt_sample_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "samples.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    rc = main(["train-surrogate", "--samples", str(bad), "--out", str(tmp_path / "m.pt")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err


def test_verify_never_creates_a_database(tmp_path, capsys):
    db = tmp_path / "missing.db"
    assert main(["verify", "--storage", f"sqlite:///{db}", "--study-name", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not db.exists()


@pytest.mark.slow
def test_stored_studies_of_another_kind_are_refused_and_kept(tmp_path, capsys):
    db = tmp_path / "s.db"
    url = f"sqlite:///{db}"
    foreign = optuna.create_study(study_name="shared", storage=url)
    foreign.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    rc = main(["run", "--study-name", "shared", "--storage", url, "--trials", "2", "-q",
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "not made by moo-cosearch" in err and len(err.splitlines()) == 1
    assert len(optuna.load_study(study_name="shared", storage=url).trials) == 3

    assert main(["run", "--study-name", "mine", "--storage", url, "--trials", "3", "-q",
                 "--out", str(tmp_path / "o")]) == 0
    capsys.readouterr()
    rc = main(["run", "--study-name", "mine", "--storage", url, "--trials", "2", "-q",
               "--objectives", "nb201-cifar10-energy", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "was made with objectives" in err and len(err.splitlines()) == 1
    trials = optuna.load_study(study_name="mine", storage=url).trials
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) == 3


def test_names_with_paths_stay_in_the_runs_folder(tmp_path, monkeypatch, capsys):
    work = tmp_path / "a" / "b" / "c" / "work"       # ../../../ still lands in tmp_path
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    text = (Path(__file__).parents[2] / "spaces" / "nb201-edge.toml").read_text()
    space = work / "evil.toml"
    space.write_text(text.replace('name = "nb201-edge"', 'name = "../../../evil"', 1))
    assert main(["run", "--space", str(space), "--objectives", "nb201-cifar10-energy",
                 "--trials", "2", "-q", "--storage", "memory"]) == 0, capsys.readouterr().err
    assert main(["run", "--study-name", "../../escape", "--trials", "2", "-q", "--storage",
                 "memory"]) == 0, capsys.readouterr().err
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "evil.toml"]
    assert written and all((work / "runs") in p.parents for p in written), written


# (sampler, option, value) that type-check but break a declared bound: refused when the
# sampler is made, not when its model first runs mid-study
_BOUND_CASES = [
    ("tpe", "n_ei_candidates", 0), ("tpe", "n_ei_candidates", -3), ("tpe", "n_startup_trials", -1),
    ("tpe", "prior_weight", 0.0), ("tpe", "prior_weight", float("nan")),
    ("nsga2", "population_size", 1), ("nsga2", "population_size", 0),
    ("nsga2", "mutation_prob", -0.1), ("nsga2", "mutation_prob", 1.01),
    ("nsga2", "crossover_prob", 1.5), ("nsga2", "crossover_prob", float("inf")),
    ("nsga2", "swapping_prob", -1), ("nsga3", "population_size", 1),
    ("nsga3", "dividing_parameter", 0), ("gp", "n_startup_trials", -5),
    ("qehvi", "n_candidates", 0), ("qehvi", "n_rescore", 0), ("qehvi", "mc_samples", 0),
    ("qehvi", "refit_every", 0), ("qehvi", "torch_threads", 0), ("qehvi", "startup_tries", 0),
    ("qehvi", "refit_all_below", -1), ("qehvi", "n_refine", -1),
    ("qehvi", "n_startup_trials", -1), ("qnehvi", "n_candidates", 0),
    ("qnehvi", "mc_samples", -8),
]


@pytest.mark.parametrize("sampler, option, value", _BOUND_CASES,
                         ids=[f"{s}-{o}-{v}" for s, o, v in _BOUND_CASES])
def test_sampler_options_out_of_bounds_are_refused_when_made(sampler, option, value):
    from moo_cosearch.samplers import create_sampler

    with pytest.raises(ValueError, match=rf"bad option for sampler '{sampler}': option "
                                         rf"{option} must be (>=|>|in) .*, got {value!r}"):
        create_sampler(sampler, seed=0, **{option: value})
