"""The strategy comparison harness: summary hypervolumes recomputed from the stored studies with
the printed reference point, resume after a kill, workers, the aggregation against hand-worked
numbers, the references against published figures, and bad input."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest

from moo_cosearch.cli._compare import add_parsers
from moo_cosearch.compare._refs import references
from moo_cosearch.compare._run import DECISION_ATTR, ELAPSED_ATTR, run_one
from moo_cosearch.compare._stats import (a12, aggregate, average_ranks, ecdf,
                                         evaluations_to_target, pairwise_tests, time_curve)
from moo_cosearch.compare import compare, rank_folders
from moo_cosearch.workers import RunConfig

optuna.logging.set_verbosity(optuna.logging.WARNING)
OBJ = "nb201-cifar10-latency-area"


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the runs' worker processes too


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="moo-cosearch")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def _pymoo_hv(study: optuna.Study, ref: list[float], first: int | None = None) -> float:
    """Feasible hypervolume by pymoo's indicator (another library than the harness's moocore),
    from the study's stored values and constraints alone (of its ``first`` evaluated trials)."""
    from pymoo.indicators.hv import HV

    signs = np.array([-1.0 if d.name == "MAXIMIZE" else 1.0 for d in study.directions])
    evaluated = [t for t in study.trials if t.state.name in ("COMPLETE", "FAIL")][:first]
    pts = np.array([np.array(t.values) * signs for t in evaluated
                    if t.state.name == "COMPLETE" and all(v <= 0 for v in t.constraints.values())])
    pts = pts[np.all(pts < np.array(ref), axis=1)] if len(pts) else pts
    return float(HV(ref_point=np.array(ref))(pts)) if len(pts) else 0.0


@pytest.mark.slow
def test_summary_hypervolumes_recompute_from_the_stored_studies(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert _cli("compare", "--samplers", "nsga2,random", "--seeds", "2", "--trials", "20",
                "--out", str(out), "--format", "png,svg") == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    # the objective set declares every coordinate: accuracy >= 0, latency <= 0.2, area <= base
    assert summary["reference_point"] == pytest.approx([0.0, 0.2, 147.84144530285715])
    assert str(summary["reference_point"][1]) in printed
    assert summary["directions"] == ["maximize", "minimize", "minimize"]
    assert summary["storage"] == f"journal:{out}/studies.log"
    assert {r["sampler"] for r in summary["runs"]} == {"nsga2", "random"}
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(out / "studies.log")))
    for run in summary["runs"]:
        assert {"sampler", "seed", "study_name", "final_hv", "n_trials", "seconds"} <= set(run)
        study = optuna.load_study(study_name=run["study_name"], storage=storage)
        evaluated = [t for t in study.trials if t.state.name in ("COMPLETE", "FAIL")]
        assert run["n_trials"] == len(evaluated) == 20
        assert run["final_hv"] == pytest.approx(_pymoo_hv(study, summary["reference_point"]),
                                                rel=1e-9)
        assert run["final_hv"] > 0
        # every trial carries the sampler's seconds and the run's clock, which never goes back
        clock = [t.system_attrs[ELAPSED_ATTR] for t in study.trials]
        assert all(0 <= t.system_attrs[DECISION_ATTR] <= c for t, c in
                   zip(study.trials, clock))
        assert clock == sorted(clock) and run["seconds"] == pytest.approx(clock[-1])
    front_hv = summary["combined_front_hv"]
    assert front_hv >= max(r["final_hv"] for r in summary["runs"]) > 0
    for name, s in summary["samplers"].items():
        hv = sorted(r["final_hv"] for r in summary["runs"] if r["sampler"] == name)
        assert s["median_hv"] == pytest.approx(np.mean(hv))        # two seeds
        assert s["iqr"] == pytest.approx((hv[1] - hv[0]) / 2)      # linear quartiles of 2
        assert (s["min_hv"], s["max_hv"]) == pytest.approx((hv[0], hv[1]))
        assert s["median_hv_normalised"] == pytest.approx(np.mean(hv) / front_hv)
        assert s["ci"] is None                                      # 2 seeds: no interval
        assert s["s_per_trial"] > 0
    for f in ("report.md", "runs.csv", "hv_trials.png", "hv_time.png", "ecdf.png",
              "pareto.png", "hv_trials.svg", "hv_time.svg", "ecdf.svg", "pareto.svg"):
        assert (out / f).stat().st_size > 0, f
    # axes in words and units from the objective set, the band named in the legend, the
    # limits drawn (matplotlib writes SVG text as comments of its glyph paths)
    front_svg, curves_svg = (out / "pareto.svg").read_text(), (out / "hv_trials.svg").read_text()
    for text in ("latency (ms)", "area (mm²)", "CIFAR-10 accuracy (%)", "limit on latency"):
        assert f"<!-- {text}" in front_svg, text
    assert "<!-- band: interquartile range over seeds -->" in curves_svg
    assert "<!-- hypervolume (fraction of the combined front) -->" in curves_svg
    with pytest.raises(SystemExit):
        _cli("compare", "--out", str(tmp_path / "x"), "--format", "png,tiff")
    report = (out / "report.md").read_text()
    assert "stock network on NVDLA-like" in report
    # two seeds: medians and ranges, and no interval, p-value or samples-to-match claim
    assert summary["statistics"]["tests"] is False and summary["pairwise"] == []
    assert summary["ecdf"]["to_match"] == {}
    assert "No test: fewer than 5 complete runs" in report and "95 % CI" not in report
    assert "times fewer samples" not in report and "range" in printed
    prov = summary["provenance"]
    assert prov["versions"]["optuna"] == optuna.__version__
    assert prov["sampler_options"] == {"nsga2": {}, "random": {}}
    assert prov["machine"]["cores"] >= 1 and prov["started"] <= prov["finished"]
    assert "## Provenance" in report and prov["space_hash"] in report
    # the same folder with other settings is refused in one line; the same settings resume
    with pytest.raises(ValueError, match=r"other settings \(seeds \[0, 1\] -> \[0, 1, 2\]"):
        compare(["nsga2", "random"], seeds=3, trials=20, out=out, log=None)
    assert _cli("compare", "--samplers", "nsga2,random", "--seeds", "2", "--trials", "20",
                "--out", str(out)) == 0


@pytest.mark.slow
def test_five_seeds_give_tests_effect_sizes_and_samples_to_match(tmp_path):
    out = tmp_path / "cmp5"
    result = compare(["nsga2", "random"], seeds=5, trials=12, out=out, log=None)
    summary = result.summary
    assert summary["statistics"]["tests"] is True
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(out / "studies.log")))
    finals = {n: [r["final_hv"] for r in summary["runs"] if r["sampler"] == n]
              for n in ("nsga2", "random")}
    (t,) = summary["pairwise"]
    x, y = np.array(finals[t["a"]]), np.array(finals[t["b"]])
    wins = (x[:, None] > y[None, :]).sum() + 0.5 * (x[:, None] == y[None, :]).sum()
    assert (t["n_a"], t["n_b"]) == (5, 5) and t["a12"] == pytest.approx(wins / 25)
    assert t["adjustment"].startswith("Benjamini-Hochberg")
    report = (out / "report.md").read_text()
    assert "A12" in report and "Benjamini-Hochberg" in report
    # samples to match, recomputed: the first prefix of A's evaluated trials whose pymoo
    # hypervolume reaches the median final hypervolume of B's runs
    match = summary["ecdf"]["to_match"]
    assert set(match) == {"nsga2", "random"} and "## Evaluations to match" in report
    for a, b in (("nsga2", "random"), ("random", "nsga2")):
        target = float(np.median(finals[b]))
        assert match[a][b]["target_hv"] == pytest.approx(target) and a not in match[a]
        needs = []
        for run in (r for r in summary["runs"] if r["sampler"] == a):
            study = optuna.load_study(study_name=run["study_name"], storage=storage)
            needs.append(next((k for k in range(1, 13) if _pymoo_hv(
                study, summary["reference_point"], first=k) >= target * (1 - 1e-12)), None))
        assert match[a][b]["runs_reached"] == sum(k is not None for k in needs)
        if sum(k is None for k in needs) < 3:
            assert match[a][b]["median_evaluations"] == pytest.approx(np.median(
                [np.inf if k is None else k for k in needs]))


def test_memory_api_returns_the_runs_table_and_wrapping_keeps_the_trials():
    result = compare(["tpe"], seeds=[3], trials=12, storage=None, log=None)
    (row,) = result.runs
    assert row["sampler"] == "tpe" and row["seed"] == 3 and row["complete"]
    assert result.out is None and set(result.studies) == {"tpe/seed3"}
    timed = result.studies["tpe/seed3"]
    # the same seed without the timing wrapper proposes the same designs
    from moo_cosearch import create_study, load_space, make_objective

    space = load_space("nb201-edge")
    untimed = create_study(space, OBJ, sampler="tpe", seed=3, storage=None)
    untimed.optimize(make_objective(space, OBJ), n_trials=len(timed.trials))
    assert [t.params for t in untimed.trials] == [t.params for t in timed.trials]


@pytest.mark.integration
def test_killed_run_resumes_to_the_exact_budget(tmp_path):
    log = tmp_path / "s.log"
    script = ("import optuna; optuna.logging.set_verbosity(optuna.logging.WARNING)\n"
              "from moo_cosearch.compare._run import run_one\n"
              "from moo_cosearch.workers import RunConfig\n"
              f"run_one(RunConfig(sampler='nsga2', seed=0, storage='journal:{log}', "
              "trials=None, budget=100000, study_name='k'), 100000)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ,
                                                                  "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 40
    while time.time() < deadline and (not log.exists() or log.read_bytes().count(b"\n") < 25):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # killed inside an append, the process leaves Optuna's journal lock, which Optuna breaks
    # after its 30 s grace period; only the dead process held it, so the test removes it
    Path(f"{log}.lock").unlink(missing_ok=True)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(log)))
    kept = optuna.load_study(study_name="k", storage=storage).trials
    assert len(kept) >= 5 and all(t.state.is_finished() for t in kept)   # nothing half-written
    # repeats the gate refused (PRUNED, "skipped") are not evaluations: the budget counts the rest
    budget = sum("skipped" not in t.user_attrs for t in kept) + 7
    outcome = run_one(RunConfig(sampler="nsga2", seed=0, storage=f"journal:{log}",
                                trials=None, budget=budget, study_name="k"), budget)
    assert outcome.error is None and outcome.evaluated == budget and outcome.added >= 7
    trials = optuna.load_study(study_name="k", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(log)))).trials
    assert [t.number for t in trials] == list(range(len(trials)))
    assert [t.params for t in trials[:len(kept)]] == [t.params for t in kept]
    designs = [tuple(sorted(t.params.items())) for t in trials if t.state.name == "COMPLETE"]
    assert len(designs) == len(set(designs)) == budget                   # no repeat evaluated
    # resuming a complete run adds nothing
    assert run_one(RunConfig(sampler="nsga2", seed=0, storage=f"journal:{log}", trials=None,
                             budget=budget, study_name="k"), budget).added == 0


@pytest.mark.integration
def test_two_workers_share_one_journal(tmp_path):
    result = compare(["random", "nsga2"], seeds=1, trials=10, workers=2, out=tmp_path,
                     log=None)
    assert [r["n_trials"] for r in result.runs] == [10, 10]
    assert all(r["error"] is None for r in result.runs)


def test_aggregates_against_hand_worked_numbers():
    a = aggregate([1, 2, 3, 4, 5, 6, 7, 8])
    assert a["median"] == 4.5 and a["q25"] == 2.75 and a["q75"] == 6.25 and a["iqr"] == 3.5
    assert a["iqm"] == pytest.approx(4.5)          # mean of the middle half: 3, 4, 5, 6
    assert a["ci"][0] <= 4.5 <= a["ci"][1]
    skewed = aggregate([0, 0, 1, 1, 1, 1, 10, 100])
    assert skewed["iqm"] == pytest.approx(1.0) and skewed["median"] == 1.0
    assert a["min"] == 1 and a["max"] == 8
    # below five seeds: no interval and no test
    assert aggregate([1, 2, 3])["ci"] is None and aggregate([1, 2, 3])["max"] == 3
    assert pairwise_tests({"a": [1, 2, 3], "b": [4, 5, 6]}) == []
    # Mann-Whitney with no overlap, 3 vs 3: U = 0, exact two-sided p = 2 / C(6, 3) = 0.1;
    # A12 = 0 (a never beats b), 0.5 against itself
    (t,) = pairwise_tests({"a": [1, 2, 3], "b": [4, 5, 6]}, min_n=3)
    assert t["u"] == 0 and t["p"] == pytest.approx(0.1) and t["p_adjusted"] == pytest.approx(0.1)
    assert t["a12"] == 0 and a12([1, 2, 3], [1, 2, 3]) == 0.5 and a12([2], [1, 2]) == 0.75
    # Demšar's average ranks: a wins twice, ties b once; b beats c everywhere
    ranks = average_ranks({"p1": {"a": 3, "b": 2, "c": 1}, "p2": {"a": 3, "b": 2, "c": 1},
                           "p3": {"a": 2, "b": 2, "c": 1}})
    assert ranks["samplers"] == pytest.approx({"a": (1 + 1 + 1.5) / 3, "b": (2 + 2 + 1.5) / 3,
                                               "c": 3.0})
    assert ranks["critical_difference"] == pytest.approx(2.343 * np.sqrt(3 * 4 / 18))
    assert 0 < ranks["friedman_p"] < 0.1
    # COCO-style ECDF: one run reaching target 2 at evaluation 2 and target 3 at evaluation 3
    assert evaluations_to_target([1, 2, 3], 2) == 2 and evaluations_to_target([1], 2) is None
    assert ecdf([[1, 2, 3]], [2, 3, 4], 4).tolist() == pytest.approx([0, 1 / 3, 2 / 3, 2 / 3])
    assert time_curve([5, 7], [1.0, 3.0], np.array([0.5, 1.0, 2.9, 3.0])).tolist() == \
        [0, 5, 5, 7]


def test_references_follow_the_published_configurations():
    from moo_cosearch import load_space, make_objective

    space = load_space("nb201-edge")
    objective = make_objective(space, OBJ)
    base, eyeriss, nvdla = references(space, objective)
    # the baseline: the best NAS-Bench-201 cell (94.37 % CIFAR-10 test accuracy in the paper)
    assert base.design == space.baseline and base.values[0] == pytest.approx(94.37, abs=0.01)
    assert base.values == objective.evaluate(space.baseline).values
    # NVDLA nv_full: 2,048 int8 MACs per cycle = PEs x lanes x SIMD units x 4-way MAC
    d = nvdla.design
    assert d["pes_x"] * d["pes_y"] * d["compute_lanes"] * d["simd_units"] * 4 == 2048
    assert d["local_memory_mb"] == 0.5 and not nvdla.snapped           # 512 KB: on the grid
    assert (eyeriss.design["pes_x"], eyeriss.design["pes_y"]) == (8, 8)  # 12 x 14, snapped
    assert eyeriss.snapped["pes_y"] == (14.0, 8)
    # NVDLA-like runs the cell too slowly for the 0.2 ms limit: infeasible, accuracy kept
    assert not nvdla.feasible and nvdla.metrics["latency_ms"] > 0.2
    assert nvdla.metrics["accuracy"] == pytest.approx(base.values[0])


@pytest.mark.parametrize("kwargs, rule", [
    ({"samplers": ["nsga2", "nope"]}, "unknown samplers"),
    ({"samplers": ["nsga2", "nsga2"]}, "each sampler once"),
    ({"seeds": 0}, "seeds must be"),
    ({"trials": 0}, "trials must be"),
    ({"workers": 2, "storage": None}, "several workers need a storage"),
    ({"targets": [0.5, 1.5]}, "targets are fractions"),
    ({"options": {"tpe": {"n_startup_trials": 3}}}, "options given for samplers not compared"),
    ({"options": {"nsga2": {"popsize": 3}}}, "bad option for sampler 'nsga2'"),
    ({"objectives": "nope"}, "nope"),
])
def test_bad_input_is_one_line_before_any_run(tmp_path, kwargs, rule):
    args = {"samplers": ["nsga2"], "seeds": 1, "trials": 5, "out": tmp_path / "o", "log": None}
    args.update(kwargs)
    with pytest.raises(ValueError, match=rule) as e:
        compare(**args)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "o" / "studies.log").exists()


def test_latency_targets_and_a_busy_folder(tmp_path):
    with pytest.raises(ValueError, match="latency targets must be > 0"):
        compare(["nsga2"], seeds=1, trials=5, storage=None, latency_targets=[0.1, -1], log=None)
    from filelock import FileLock

    (tmp_path / "o").mkdir()
    with FileLock(str(tmp_path / "o" / ".compare.lock")):
        with pytest.raises(ValueError, match="another comparison is running"):
            compare(["nsga2"], seeds=1, trials=5, out=tmp_path / "o", log=None)


def test_reference_point_derived_once_from_all_runs():
    # nb201-cifar10-energy declares no reference point: worst feasible value of all runs
    # pushed out by 10 % of the range, per objective, in minimisation form
    result = compare(["random", "nsga2"], seeds=1, trials=15, objectives="nb201-cifar10-energy",
                     storage=None, log=None)
    s = result.summary
    assert s["reference_point_source"] == ["derived from all runs"] * 2
    pts = np.array([[-t.values[0], t.values[1]] for st in result.studies.values()
                    for t in st.trials if t.state.name == "COMPLETE"
                    and all(v <= 0 for v in t.constraints.values())])
    worst, best = pts.max(axis=0), pts.min(axis=0)
    assert s["reference_point"] == pytest.approx(worst + 0.1 * (worst - best))
    for run in result.runs:
        assert run["final_hv"] == pytest.approx(_pymoo_hv(
            result.studies[f"{run['sampler']}/seed{run['seed']}"], s["reference_point"]))


def test_ranks_across_comparison_folders(tmp_path, capsys):
    def folder(name: str, space: str, medians: dict) -> str:
        path = tmp_path / name
        path.mkdir()
        (path / "summary.json").write_text(json.dumps({
            "space": space, "objectives": "o", "samplers": {
                n: {"median_hv": v, "runs": 5} for n, v in medians.items()}}))
        return str(path)

    a = folder("a", "s1", {"x": 3.0, "y": 2.0, "z": 1.0})
    b = folder("b", "s2", {"x": 1.0, "y": 2.0, "z": 3.0, "only-here": 9.0})
    ranks, text = rank_folders([a, b])
    assert ranks["samplers"] == {"x": 2.0, "y": 2.0, "z": 2.0}     # only-here is left out
    assert "| x | 2.00 | 5 |" in text and "Nemenyi" in text
    with pytest.raises(ValueError, match="second comparison of s1/o"):
        rank_folders([a, folder("c", "s1", {"x": 1.0})])
    with pytest.raises(ValueError, match="holds no summary.json"):
        rank_folders([a, str(tmp_path)])
    with pytest.raises(ValueError, match="two or more"):
        rank_folders([a])
