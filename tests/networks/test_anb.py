"""Accel-NASBench MnasNet family (``anb-mnas``): the layer list reproduces the table's MACs and
params for every row, the torch module counts as the layer list does."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from moo_cosearch.networks import build_network, network_matrix, summarize
from moo_cosearch.networks.anb import EFFNET_B0, anb_mnas, thop_counts
from moo_cosearch.networks.layers import layer_matrix

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "accel_nasbench_mnas.csv"
FIELDS = {"e": "expansion", "k": "kernel", "l": "layers", "se": "se"}


def _rows() -> list[dict[str, str]]:
    if not SHARED.exists():
        pytest.skip("../shared/data/accel_nasbench_mnas.csv not beside the checkout")
    with SHARED.open() as f:
        return list(csv.DictReader(f))


def _design(row: dict[str, str]) -> dict[str, int]:
    return {f"b{i}_{long}": int(row[f"b{i}_{short}"]) for i in range(7)
            for short, long in FIELDS.items()}


@pytest.mark.slow
def test_every_row_matches_the_tables_macs_and_params():
    rows = _rows()
    assert len(rows) == 5138
    ops_err, par_err, mac_err = [], [], []
    for row in rows:
        layers = build_network("anb-mnas", _design(row))
        ops, params = thop_counts(layers)
        macs, weights = summarize(layers)
        ops_err.append(ops / 1e6 / float(row["macs_m"]) - 1)
        par_err.append(params / 1e6 / float(row["params_m"]) - 1)
        mac_err.append(macs / 1e6 / float(row["macs_m"]) - 1)
    ops_err, par_err = np.abs(ops_err), np.abs(par_err)
    # the bar: within 5 % for >= 95 % of rows; measured: every row to float precision
    assert (ops_err < 0.05).mean() >= 0.95 and (par_err < 0.05).mean() >= 0.95
    assert ops_err.max() < 1e-6 and par_err.max() < 1e-6
    # conv/fc MACs alone (the cost models' count) sit below thop's, which adds batch norm
    assert -0.15 < min(mac_err) and max(mac_err) < -0.03


def test_effnet_b0_is_the_default_and_counts_as_torchvision():
    layers = build_network("anb-mnas", {})
    assert layers == tuple(anb_mnas(*(EFFNET_B0[f] for f in ("expansion", "kernel", "layers",
                                                               "se"))))
    macs, weights = summarize(layers)
    # torchvision's efficientnet_b0: 5,288,548 parameters (BN included), ~0.39 GMACs
    assert thop_counts(layers)[1] == 5_288_548
    assert 380e6 < macs < 400e6


def test_matrix_equals_layer_list():
    rng = np.random.default_rng(0)
    for _ in range(20):
        d = {f"b{i}_expansion": int(rng.choice([1, 4, 6])) for i in range(7)}
        d |= {f"b{i}_kernel": int(rng.choice([3, 5])) for i in range(7)}
        d |= {f"b{i}_layers": int(rng.integers(1, 5 if i == 5 else 4)) for i in range(7)}
        d |= {f"b{i}_se": int(rng.integers(0, 2)) for i in range(7)}
        np.testing.assert_array_equal(network_matrix("anb-mnas", d),
                                      layer_matrix(build_network("anb-mnas", d)))


@pytest.mark.parametrize("bad, msg", [({"b0_expansion": 3}, "b0_expansion must be one of"),
                                      ({"b2_layers": 4}, "b2_layers must be one of"),
                                      ({"b6_se": 2}, "b6_se must be one of"),
                                      ({"b1_kernel": 7}, "b1_kernel must be one of")])
def test_off_grid_values_are_refused(bad, msg):
    with pytest.raises(ValueError, match=msg):
        build_network("anb-mnas", bad)
    assert build_network("anb-mnas", {"b5_layers": 4})   # stage 5 alone allows 4 blocks


@pytest.mark.slow
def test_torch_module_counts_as_the_layer_list():
    torch = pytest.importorskip("torch")
    from moo_cosearch.models import build_model, count_macs, count_weights, model_layers
    rows = _rows()
    for row in (rows[0], rows[3], rows[1000]):
        design = _design(row)
        model = build_model("anb-mnas", design, resolution=64)
        layers = model_layers("anb-mnas", design, resolution=64)
        assert count_macs(model, 64) == summarize(layers)[0]
        assert count_weights(model) == summarize(layers)[1]
        # everything torch counts, batch norm included, is the table's params_m
        full = sum(p.numel() for p in build_model("anb-mnas", design).parameters())
        assert full == pytest.approx(float(row["params_m"]) * 1e6, abs=1)
        with torch.no_grad():
            assert model.eval()(torch.zeros(2, 3, 64, 64)).shape == (2, 1000)


def test_spaces_and_their_default_objective_sets():
    from moo_cosearch.objectives import load_objectives
    from moo_cosearch.objectives._set import default_objectives
    from moo_cosearch.space import load_space
    for name in ("anb-mnas-edge", "anb-mnas-zcu102-measured"):
        space = load_space(name)
        assert space.network == "anb-mnas"
        b = space.baseline
        assert build_network("anb-mnas", b) == build_network("anb-mnas", {})   # EfficientNet-B0
        obj = load_objectives(default_objectives(name))
        assert obj.space == name and obj.accuracy["source"] == "predictor"


def test_latency_limit_binds_on_the_edge_space():
    from moo_cosearch.hardware import get_backend
    from moo_cosearch.objectives import load_objectives
    from moo_cosearch.space import load_space
    space = load_space("anb-mnas-edge")
    limit = [c.max for c in load_objectives("anb-mnas-top1-latency-area").constraints
             if c.metric == "latency_ms"][0]
    edge = get_backend("edge")
    big = dict(space.baseline, **{f"b{i}_{f}": v for i in range(7)
                                  for f, v in (("expansion", 6), ("kernel", 5), ("se", 1))},
               **{f"b{i}_layers": 3 for i in range(7)})
    big["b5_layers"] = 4
    assert edge.evaluate(space, [space.baseline]).latency_ms[0] > limit   # B0 breaks it
    assert edge.evaluate(space, [big]).latency_ms[0] > limit


@pytest.mark.slow
def test_measured_zcu102_backend_predicts_the_table():
    from moo_cosearch.hardware import get_backend
    from moo_cosearch.space import load_space
    rows = [r for r in _rows() if r["latency_zcu102_ms"] not in ("", None)]   # 2 unmeasured
    space = load_space("anb-mnas-zcu102-measured")
    designs = [_design(r) for r in rows[:200]]
    lat = get_backend("anb-zcu102").evaluate(space, designs).latency_ms
    y = np.array([float(r["latency_zcu102_ms"]) for r in rows[:200]])
    assert np.median(np.abs(lat / y - 1)) < 0.1        # rows it was fitted on
