"""A space, objective set, backend and accuracy source that do not fit together stop the run
before its first trial: one line, exit status 2, nothing stored."""

from __future__ import annotations

import re

import pytest

from moo_cosearch import load_space, make_objective
from moo_cosearch.cli import main
from moo_cosearch.objectives import ObjectivesError


def test_run_with_a_space_the_objective_set_does_not_fit_fails_up_front(tmp_path, capsys):
    db = tmp_path / "s.db"
    rc = main(["run", "--space", "nahas-mbv2-edge", "--objectives",
               "nb201-cifar10-latency-area", "--trials", "3", "-q",
               "--storage", f"sqlite:///{db}", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "nahas-mbv2-edge" in err and "edge0" in err
    assert not db.exists() and not (tmp_path / "out").exists()


def test_preflight_calls_the_accuracy_source_even_for_a_pruned_design():
    space = load_space("nb201-edge")

    def broken(design):
        raise KeyError("no such architecture")

    objective = make_objective(space, "nb201-cifar10-latency-area", accuracy=broken)
    with pytest.raises(ObjectivesError, match="no such architecture"):
        objective.preflight()
    make_objective(space, "nb201-cifar10-latency-area").preflight(seed=3)   # fits: no error


@pytest.mark.parametrize("sampler, option, rule", [
    ("nsga2", "population_size=2.5", "population_size must be int, got 2.5"),
    ("nsga2", "population_size=true", "population_size must be int, got True"),
    ("nsga2", "populaton_size=40", "takes options .*got 'populaton_size'"),
    ("nsga2", "seed=5", "give the seed as seed="),
    ("tpe", "n_startup_trials=abc", "n_startup_trials must be int, got 'abc'"),
    ("qehvi", "n_candidates=1.5", "n_candidates must be int, got 1.5"),
    ("qehvi", "beta=fast", "beta must be float, got 'fast'"),
])
def test_bad_sampler_options_are_one_line_before_any_trial(tmp_path, capsys, sampler, option,
                                                          rule):
    import re

    db = tmp_path / "s.db"
    rc = main(["run", "--sampler", sampler, "-o", option, "--trials", "2", "-q",
               "--storage", f"sqlite:///{db}", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and re.search(rule, err), err
    assert not db.exists()


def test_check_options_accepts_what_the_constructor_takes():
    from optuna.samplers import NSGAIISampler

    from moo_cosearch.samplers import check_options, create_sampler

    check_options(NSGAIISampler, {"population_size": 20, "mutation_prob": None,
                                           "crossover_prob": 1})     # an int is a float
    assert create_sampler("nsga2", seed=0, population_size=20)._population_size == 20


@pytest.mark.slow
def test_names_never_leave_the_runs_folder(tmp_path, monkeypatch):
    from moo_cosearch.cli import safe_file_name

    escape = safe_file_name("../../../x")      # one name: no separator, no leading dot
    assert re.fullmatch(r"_\.\._\.\._x-[0-9a-f]{8}", escape), escape
    assert re.fullmatch(r"a_b_c_d-[0-9a-f]{8}", safe_file_name("a/b\\c d"))
    assert safe_file_name("nb201-edge--set--nsga2--seed0") == "nb201-edge--set--nsga2--seed0"
    assert safe_file_name("研究-ü") == "研究-ü"                 # letters of any script stay
    names = ["研究-✓-ü", "研究-✗-ü", "研究-_-ü", "a b", "a/b", "a_b", "x" * 300, "x" * 301]
    folders = [safe_file_name(n) for n in names]
    assert len(set(folders)) == len(names), folders         # never one folder for two names
    assert all("/" not in f and len(f.encode()) < 255 for f in folders)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    rc = main(["run", "--trials", "2", "-q", "--study-name", "../../escape",
               "--storage", f"sqlite:///{tmp_path / 's.db'}"])
    assert rc == 0
    assert (tmp_path / "work" / "runs" / safe_file_name("../../escape")).is_dir()
    assert not (tmp_path / "escape").exists()


def test_unwritable_output_folder_and_bad_show_fail_before_any_trial(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    db = tmp_path / "s.db"
    rc = main(["run", "--trials", "2", "-q", "--storage", f"sqlite:///{db}",
               "--out", str(blocker / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "not writable" in err and len(err.splitlines()) == 1
    assert not db.exists()
    assert main(["run", "--show", "0", "--storage", f"sqlite:///{db}"]) == 2
    err = capsys.readouterr().err
    assert "--show: must be an integer >= 1, got 0" in err and len(err.splitlines()) == 1
