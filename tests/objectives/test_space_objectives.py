"""Every built-in space has an objective set with an accuracy source, which runs."""

from __future__ import annotations

import pytest

from moo_cosearch.cli import main
from moo_cosearch.objectives import DEFAULT_FOR_SPACE, list_objectives, load_objectives
from moo_cosearch.space import list_spaces


def test_every_built_in_space_has_an_accuracy_objective_set():
    assert set(DEFAULT_FOR_SPACE) == set(list_spaces())
    for space, name in DEFAULT_FOR_SPACE.items():
        assert name in list_objectives()
        o = load_objectives(name)
        assert o.space == space and o.needs_accuracy and "accuracy" in o.metric_names


def test_nasaic_sets_weigh_both_tasks():
    for w in (1, 2, 3):
        o = load_objectives(f"nasaic-w{w}-proxy-multitask")
        assert o.accuracy["source"] == "multitask" and o.accuracy["weights"] == [0.5, 0.5]


@pytest.mark.slow
@pytest.mark.parametrize("space", ["nb201-edge", "nahas-mbv2-edge"])
def test_run_space_alone_searches_accuracy(space, tmp_path, capsys):
    rc = main(["run", "--space", space, "--trials", "3", "-q", "--storage", "memory",
               "--out", str(tmp_path / "out"), "--show", "1"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert DEFAULT_FOR_SPACE[space] in out


@pytest.mark.slow
def test_accuracy_flag_swaps_the_source(tmp_path, capsys):
    rc = main(["run", "--space", "nb201-edge", "--accuracy", "proxy:synflow", "--trials", "2",
               "-q", "--storage", "memory", "--out", str(tmp_path / "out"), "--show", "1"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "nb201-cifar10-latency-area--acc-proxy-synflow" in out


def test_a_folder_named_like_a_built_in_does_not_shadow_it(tmp_path, monkeypatch):
    """(`compare --out nb201-edge` makes such a folder in the working directory)."""
    from moo_cosearch.space import load_space

    monkeypatch.chdir(tmp_path)
    (tmp_path / "nb201-edge").mkdir()
    (tmp_path / "nb201-cifar10-latency-area").mkdir()
    assert load_space("nb201-edge").name == "nb201-edge"
    assert load_objectives("nb201-cifar10-latency-area").space == "nb201-edge"
