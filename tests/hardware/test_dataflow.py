"""The dataflow-aware edge model (edge-dataflow): hand-computed mapping cases on tiny layers."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest

from moo_cosearch import create_study, get_backend, load_space, make_objective
from moo_cosearch.networks import Layer, stack_layers
from moo_cosearch.cli import main
from moo_cosearch.hardware import backend_metrics, list_backends
from moo_cosearch.hardware.dataflow import MAPPINGS, dataflow_cost
from moo_cosearch.hardware.edge import (BASELINE, E_DRAM_PJ_PER_BYTE, E_MAC_PJ, MB, edge_area_mm2,
                                        edge_cost, sram_pj_per_byte)

optuna.logging.set_verbosity(optuna.logging.WARNING)

# P = 2*2 = 4 PEs, Ln = 2 lanes, S = 4 SIMD units, RF 1 KB, LM 1 MB, 1000 GB/s (compute-bound)
HW = {"pes_x": 2, "pes_y": 2, "simd_units": 4, "compute_lanes": 2, "register_file_kb": 1,
      "local_memory_mb": 1, "io_bandwidth_gbyte_s": 1000}
# pwconv 8 -> 16 channels on 4x4: K=16, Cg=8, PIX=16, MACs = 16*16*8 = 2048,
# W = 128 B, I = 128 B, O = 256 B
PW = Layer("pwconv", 8, 16, 4, 4, 4, 4)
# conv 3x3 8 -> 16 on 4x4 (stride 1)
C3 = Layer("conv", 8, 16, 4, 4, 4, 4, kernel=3)
IDX = {m: q for q, m in enumerate(MAPPINGS)}


def run(layer, hw=HW, **kw):
    return dataflow_cost(stack_layers([[layer]]), hw, per_layer=True, **kw)


def test_registered_with_edge_parameters_and_metrics():
    assert {"edge-dataflow", "zigzag"} <= set(list_backends())
    m = backend_metrics("edge-dataflow")
    for name in ("latency_ms", "energy_mac_mj", "energy_rf_mj", "energy_lm_mj",
                 "energy_dram_mj", "area_local_memories_mm2"):
        assert name in m


def test_pwconv_cycles_per_mapping_by_hand():
    r = run(PW, layer_by_layer=True)
    # R = ceil(8/4) * 1 = 2 cycles per output
    # os: ceil(16/(4*2)) * ceil(16/4) * 2 = 2*4*2 = 16
    # ws: ceil(16/(4*4)) * ceil(16/2) * 2 = 1*8*2 = 16
    # rs: ceil(1/2) * ceil(4/2) * ceil(4/2) * ceil(16/4) * 2 = 1*2*2*4*2 = 32
    # cp: ceil(16/(4*2*4)) * 16 * 2 = 1*16*2 = 32
    assert r.extra["mapping_cycles"][0, 0].tolist() == [16, 16, 32, 32]
    assert r.extra["mapping_valid"][0, 0].all()


def test_pwconv_traffic_and_choice_by_hand():
    r = run(PW, layer_by_layer=True)
    # RF need = s*4*1 + 4*1 + 4*s = 16+4+16 = 36 B, lane slice 4*8 = 32 B: weights stay in RF.
    # LM bytes = W*copies + I*factor + O:
    #   os: 128*min(4, ceil(16/2)) + 128*ceil(16/4) + 256 = 512 + 512 + 256 = 1280
    #   ws: 128*1 + 128*(min(4, 4)*ceil(16/16)) + 256 = 128 + 512 + 256 = 896
    #   rs: 128*min(2, 4) + 128*4*ceil(1/2) + 256*min(2, 1) = 256 + 512 + 256 = 1024
    #   cp: 128*1 + 128*(min(4, ceil(16/8))*ceil(16/32)) + 256 = 128 + 256 + 256 = 640
    # os and ws tie on 16 cycles; ws has less LM traffic, so ws is chosen.
    assert r.extra["layer_mapping"][0, 0] == "ws"
    assert r.extra["layer_cycles"][0, 0] == 16
    assert r.extra["layer_lm_bytes"][0, 0] == 896
    # layer by layer: DRAM = W + I*n_w + O = 128 + 128*1 + 256 = 512 B for every mapping
    assert r.extra["layer_dram_bytes"][0, 0] == 512
    # latency = max(16 / 0.8e9 s, 512 B / 1e12 B/s) = 20 ns
    assert r.latency_ms[0] == pytest.approx(20e-6)
    assert r.extra["energy_mac_mj"][0] == pytest.approx(2048 * E_MAC_PJ * 1e-9)
    assert r.extra["energy_rf_mj"][0] == pytest.approx(2048 * 2 * sram_pj_per_byte(1024) * 1e-9)
    assert r.extra["energy_lm_mj"][0] == pytest.approx(896 * sram_pj_per_byte(MB) * 1e-9)
    assert r.extra["energy_dram_mj"][0] == pytest.approx(512 * E_DRAM_PJ_PER_BYTE * 1e-9)
    parts = sum(r.extra[k][0] for k in ("energy_mac_mj", "energy_rf_mj", "energy_lm_mj",
                                        "energy_dram_mj"))
    assert r.energy_mj[0] == pytest.approx(parts)
    area = sum(r.extra[k][0] for k in ("area_mac_arrays_mm2", "area_register_files_mm2",
                                       "area_local_memories_mm2"))
    assert r.area_mm2[0] == pytest.approx(area) == pytest.approx(edge_area_mm2(HW))


def test_residency_rules_in_the_default_mode():
    r = run(PW)
    # one-layer network: all weights fit in P*LM/2 (resident, no DRAM); its input (network
    # input) is read and its output (network output) written: 128 + 256 = 384 B
    assert r.extra["layer_dram_bytes"][0, 0] == 384


def test_dram_bound_layer_picks_least_traffic_among_ties():
    r = run(PW, {**HW, "io_bandwidth_gbyte_s": 1}, layer_by_layer=True)
    # every mapping: 512 B / 1e9 B/s = 512 ns > 40 ns compute: all tie, cp has least LM traffic
    assert r.latency_ms[0] == pytest.approx(512e-6)
    assert r.extra["layer_mapping"][0, 0] == "cp"


def test_small_register_file_leaves_only_row_stationary():
    # conv 3x3: os/ws/cp RF need = 4*4*9 + 4*9 + 4*4 = 144+36+16 = 196 B;
    # rs holds one filter row: 4*4*3 + 4*3 + 16 = 48+12+16 = 76 B. RF = 0.1 KB = 102.4 B.
    r = run(C3, {**HW, "register_file_kb": 0.1})
    assert r.extra["mapping_valid"][0, 0].tolist() == [False, False, True, False]
    assert r.extra["layer_mapping"][0, 0] == "rs" and r.feasible[0]
    # rs: ceil(3/2) * ceil(4/2) * ceil(4/2) * ceil(16/4) * ceil(8/4)*3 = 2*2*2*4*6 = 192 cycles
    assert r.extra["layer_cycles"][0, 0] == 192


def test_register_file_failure_has_reason():
    r = run(C3, {**HW, "register_file_kb": 0.05})    # 51.2 B < 76 B (rs) < 196 B (others)
    assert not r.feasible[0]
    msg = r.reason[0]
    assert msg.startswith("layer 0 (conv 3x3, 8->16 ch, 4x4->4x4): no mapping fits")
    assert "os: register file 0.05 KB < 196 B" in msg and "rs: register file 0.05 KB < 76 B" in msg
    assert np.isfinite(r.latency_ms[0])


def test_local_memory_failure_has_reason():
    # pwconv minimum LM working set = 80 B for every mapping:
    #   os: min(4*8, 128) + 1*4*8 + 4*4 = 32+32+16;  ws: 128/4 + 32 + 16;
    #   rs: min(4*8*1, 128) + 32 + 16;               cp: 128/2 + 8*1 + 2*4 = 64+8+8
    ok = run(PW, {**HW, "local_memory_mb": 80 / MB})
    bad = run(PW, {**HW, "local_memory_mb": 79 / MB})
    assert ok.feasible[0] and not bad.feasible[0]
    assert "ws: local memory" in bad.reason[0] and "< 80 B" in bad.reason[0]


def test_grouped_conv_is_unsupported_with_reason():
    g = Layer("conv", 8, 16, 4, 4, 4, 4, kernel=3, groups=2)
    r = run(g)
    assert not r.feasible[0] and "grouped convolution" in r.reason[0] and "groups=2" in r.reason[0]


def test_bad_hardware_raises():
    with pytest.raises(ValueError, match="missing edge hardware parameter"):
        dataflow_cost(stack_layers([[PW]]), {k: v for k, v in HW.items() if k != "pes_x"})
    with pytest.raises(ValueError, match="positive"):
        dataflow_cost(stack_layers([[PW]]), {**HW, "simd_units": 0})


def test_never_slower_than_a_valid_mapping_nor_v1_where_v1_mapping_is_valid():
    space = load_space("nahas-mbv2-edge")
    designs = space.sample(40, seed=3)
    from moo_cosearch.networks import build_network
    from moo_cosearch.hardware.edge import EDGE_PARAMS

    batch = stack_layers([build_network("mobilenetv2", d) for d in designs])
    hw = {p: np.array([float(d[p]) for d in designs]) for p in EDGE_PARAMS}
    r = dataflow_cost(batch, hw, per_layer=True)
    lat, per_map = r.extra["layer_latency_ms"], r.extra["mapping_latency_ms"]
    valid = r.extra["mapping_valid"]
    any_valid = valid.any(axis=2)
    assert np.all(np.where(valid, per_map >= lat[:, :, None] * (1 - 1e-12), True))
    # v1 runs conv/dw/pool/add with the os mapping and fc with cp; same DRAM rules
    v1 = edge_cost(batch, hw, per_layer=True)
    is_fc = batch.kind == 6
    v1_map = np.where(is_fc, IDX["cp"], IDX["os"])[:, :, None]
    v1_valid = np.take_along_axis(valid, v1_map, axis=2)[:, :, 0] & any_valid
    assert v1_valid.sum() > 100
    assert np.all(np.where(v1_valid, lat <= v1.extra["layer_latency_ms"] * (1 + 1e-9), True))


def test_backend_and_cli_reach_the_model(capsys):
    space = load_space("nahas-mbv2-edge")
    d = space.sample(1, seed=0)[0]
    r = get_backend("edge-dataflow")(space, [d])
    assert main(["simulate", "--space", "nahas-mbv2-edge", "--backend", "edge-dataflow",
                 "--params", json.dumps(d)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["latency_ms"] == pytest.approx(r.latency_ms[0])
    assert row["energy_mj"] == pytest.approx(r.energy_mj[0])


def test_baseline_mobilenetv2_reference_figures():
    space = load_space("nahas-mbv2-edge")
    be = get_backend("edge-dataflow")
    assert be.reference("area_mm2") == pytest.approx(147.84144530285715)
    r = be(space, [{**{f"b{i}_kernel": 3 for i in range(17)},
                    **{f"b{i}_expansion": 6 for i in range(1, 17)}, **BASELINE}])
    # 300.8 M MACs at the 26.2 TOPS peak take at least 2 * 300.8e6 / 26.2e12 s = 0.023 ms
    assert r.feasible[0] and 0.023 < r.latency_ms[0] < 1.0


def test_few_trial_study_on_edge_dataflow():
    space = load_space("nb201-edge")
    study = create_study(space, "nb201-cifar10-dataflow", sampler="nsga2", seed=0, storage=None)
    obj = make_objective(space, "nb201-cifar10-dataflow")
    study.optimize(obj, n_trials=4)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 4
    for t in done:
        assert len(t.values) == 3 and "energy_dram_mj<=0.5" in t.constraints
        # the constraint value is the DRAM energy's relative excess over the limit
        assert t.constraints["energy_dram_mj<=0.5"] == pytest.approx(
            (t.user_attrs["energy_dram_mj"] - 0.5) / 0.5)
