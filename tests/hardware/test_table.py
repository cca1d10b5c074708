"""The measured-table cost backend (``table``, ``table-energy``), its space and objective set."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import optuna
import pytest

from moo_cosearch import create_study, load_space, make_objective
from moo_cosearch.cli import main
from moo_cosearch.hardware import backend_metrics, get_backend
from moo_cosearch.hardware.table import DEVICES, TableBackend, device_table
from moo_cosearch.networks.nb201 import arch_codes, arch_ops
from moo_cosearch.space import JointSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SHARED = Path("/work/shared/data")
OBJ = "nb201-cifar100-device-latency"


def _csv_rows(n: int = 400) -> tuple[dict[int, str], list[dict[str, str]]]:
    root = DATA if DATA.is_dir() else SHARED
    if not (root / "nb201_device_latency_cifar100.csv").is_file():
        pytest.skip("shared data directory not available")
    with open(root / "nb201_accuracy.csv", newline="") as fh:
        arch = {int(r["index"]): r["arch_str"] for r in csv.DictReader(fh)}
    with open(root / "nb201_device_latency_cifar100.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    pick = np.random.default_rng(0).choice(len(rows), n, replace=False)
    return arch, [rows[i] for i in pick]


@pytest.fixture(scope="module")
def space() -> JointSpace:
    return load_space("nb201-device")


def _design(arch_str: str, device: str) -> dict:
    return {**{f"edge{i}": op for i, op in enumerate(arch_ops(arch_str))}, "device": device}


@pytest.mark.slow
def test_lookup_equals_the_csv_rows(space):
    arch, rows = _csv_rows()
    designs = [_design(arch[int(r["index"])], f"{r['device']}-{r['framework']}") for r in rows]
    res = get_backend("table")(space, designs)
    assert res.feasible.all() and res.reason == ("",) * len(rows)
    np.testing.assert_array_equal(res.latency_ms, [float(r["lat_ms_median"]) for r in rows])
    np.testing.assert_array_equal(res.extra["latency_var_ms2"],
                                  [float(r["lat_ms_var"] or "nan") for r in rows])
    np.testing.assert_array_equal(res.energy_mj, [float(r["energy_mj"] or "nan") for r in rows])
    assert np.isnan(res.area_mm2).all()
    assert (np.isnan(res.energy_mj) == np.array([r["device"] == "pixel" for r in rows])).all()


def test_table_is_complete_and_indexed_consistently():
    t = device_table()
    assert t.devices == DEVICES
    assert sorted(t.nb201_index.tolist()) == list(range(5 ** 6))
    assert np.isfinite(t.latency_ms).all()
    assert np.isfinite(t.energy_mj[:3]).all() and np.isnan(t.energy_mj[3]).all()
    # code <-> op order: edge e contributes op * 5**e
    assert arch_codes([["skip_connect", "none", "none", "none", "none", "none"]])[0] == 1
    assert arch_codes(np.array([[0, 0, 0, 0, 0, 4]]))[0] == 4 * 5 ** 5


def test_missing_cell_is_infeasible_with_a_reason(space):
    t = device_table()
    lat = np.array(t.latency_ms)
    lat[DEVICES.index("pi5-onnx"), 0] = np.nan                # the all-"none" cell
    holey = TableBackend(table=dataclasses.replace(t, latency_ms=lat))
    none_cell = {f"edge{i}": "none" for i in range(6)}
    res = holey(space, [{**none_cell, "device": "pi5-onnx"}, {**none_cell, "device": "pi5-litert"}])
    assert res.feasible.tolist() == [False, True]
    assert "no measurement" in res.reason[0] and "pi5-onnx" in res.reason[0]
    assert math.isnan(res.latency_ms[0]) and res.reason[1] == ""


def test_unknown_device_and_wrong_space_are_clear_errors(space):
    other = JointSpace.from_dict({**space.to_dict(), "params": [
        *[p for p in space.to_dict()["params"] if p["name"] != "device"],
        {"name": "device", "group": "has", "choices": ["pi5-litert", "jetson-trt"]}]})
    d = {f"edge{i}": "nor_conv_3x3" for i in range(6)}
    with pytest.raises(ValueError, match=r"device must be one of .*got 'jetson-trt'"):
        get_backend("table")(other, [{**d, "device": "jetson-trt"}])
    with pytest.raises(ValueError, match="device must be one of"):
        TableBackend(device="pi4")
    no_device = JointSpace.from_dict({"name": "x", "network": "nb201", "params": [
        {"name": f"edge{i}", "group": "nas", "choices": ["none", "nor_conv_3x3"]}
        for i in range(6)]})
    with pytest.raises(ValueError, match="needs a 'device' parameter"):
        get_backend("table")(no_device, [d])
    fixed = TableBackend(device="pi5-onnx")(no_device, [d])
    assert fixed.latency_ms[0] == get_backend("table")(space, [{**d, "device": "pi5-onnx"}]
                                                       ).latency_ms[0]
    with pytest.raises(ValueError, match="network 'nb201' only"):
        get_backend("table")(load_space("nahas-mbv2-edge"), [])


def test_energy_backend_metrics_and_rejection(space):
    assert backend_metrics("table") == ("latency_ms",)
    assert backend_metrics("table-energy") == ("latency_ms", "energy_mj")
    d = {f"edge{i}": "avg_pool_3x3" for i in range(6)}
    res = get_backend("table-energy")(space, [{**d, "device": "pi5-torchmobile"}])
    assert res.energy_mj[0] > 0
    with pytest.raises(ValueError, match="measured energy.*got 'pixel-litert'"):
        get_backend("table-energy")(space, [{**d, "device": "pixel-litert"}])


def test_simulate_cli_reaches_the_table(capsys):
    d = {"edge0": "nor_conv_3x3", "edge1": "none", "edge2": "skip_connect",
         "edge3": "nor_conv_1x1", "edge4": "avg_pool_3x3", "edge5": "none",
         "device": "pi5-onnx"}
    assert main(["simulate", "--space", "nb201-device", "--backend", "table", "--params",
                 json.dumps(d)]) == 0
    row = json.loads(capsys.readouterr().out.strip())
    space = load_space("nb201-device")
    assert row["latency_ms"] == get_backend("table")(space, [d]).latency_ms[0] > 0
    assert row["feasible"] is True


def test_study_on_the_device_space(space):
    study = create_study(space, OBJ, sampler="random", seed=0, storage=None)
    objective = make_objective(space, OBJ)
    study.optimize(objective, n_trials=8)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 8
    for t in done:
        d = {k: t.params[k] for k in space.names}
        assert t.values[1] == get_backend("table")(space, [d]).latency_ms[0]
        assert 0 < t.values[0] < 100 and t.user_attrs["accuracy_evaluated"]
