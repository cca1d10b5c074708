"""A space, objective set, backend and accuracy source that do not fit together stop the run
before its first trial: one line, exit status 2, nothing stored."""

from __future__ import annotations

import pytest

from moo_cosearch import load_space, make_objective
from moo_cosearch.cli import main
from moo_cosearch.objectives import ObjectivesError


def test_run_with_a_space_the_objective_set_does_not_fit_fails_up_front(tmp_path, capsys):
    db = tmp_path / "s.db"
    rc = main(["run", "--space", "nahas-mbv2-edge", "--trials", "3", "-q",
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
