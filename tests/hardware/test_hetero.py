"""Hand-computed checks of the NASAIC networks and the heterogeneous ASIC model
(moo_cosearch.networks.nasaic, moo_cosearch.hardware.hetero)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import optuna
import pytest

from moo_cosearch import create_study, load_space, make_objective
from moo_cosearch.networks import Layer, stack_layers
from moo_cosearch.hardware import get_backend
from moo_cosearch.hardware.hetero import (L2_BYTES_PER_PE, hetero_area_mm2, hetero_cost,
                                          schedule, template_layer_cost)
from moo_cosearch.networks import build_network, nas_key, summarize
from moo_cosearch.networks.nasaic import resnet9, unet
from moo_cosearch.space import list_spaces

optuna.logging.set_verbosity(optuna.logging.WARNING)

A_BIT = 0.346 / 0.7          # um^2 per SRAM bit (edge model constants)
A_MAC = 282.0 + 137.0        # um^2 per 8-bit MAC


def _l1_pj(nbytes: float) -> float:
    # below 8 KB the SRAM energy is extrapolated with the 8->32 KB slope log(2)/log(4) = 0.5
    return 10.0 * (nbytes / 8192) ** 0.5 / 8


# ------------------------------------------------------------------------------ networks
def test_resnet9_myrtle_macs_and_params():
    # DAWNBench ResNet-9: prep 64, layer1 128 + 2 res convs, layer2 256, layer3 512 + 2 res
    net = resnet9([64, 128, 256, 512], [2, 0, 2])
    macs, params = summarize(net)
    # stem 32*32*64*3*9 = 1,769,472; b1.conv 32*32*128*64*9, 2 res at 16x16 2*256*128*128*9,
    # b2.conv 16*16*256*128*9, b3.conv 8*8*512*256*9, 2 res at 4x4 2*16*512*512*9: each
    # 75,497,472; fc 512*10 = 5,120
    assert macs == 1_769_472 + 5 * 75_497_472 + 5_120
    # 1,728 + 73,728 + 2*147,456 + 294,912 + 1,179,648 + 2*2,359,296 + 5,130 (6.57 M, as
    # published for ResNet-9)
    assert params == 6_568_650
    kinds = [layer.kind for layer in net]
    assert kinds == ["conv", "conv", "pool", "conv", "conv", "add", "conv", "pool", "conv",
                     "pool", "conv", "conv", "add", "pool", "fc"]
    assert (net[-2].in_h, net[-2].kernel) == (4, 4)


def test_resnet9_stl10_family_from_params():
    params = {**{f"b{i}_filters": 32 for i in range(6)}, **{f"b{i}_skips": 0 for i in range(1, 6)}}
    net = build_network("resnet9-stl10", {**params, "a0_pes": 512})
    # 96 -> 48 -> 24 -> 12 -> 6 -> 3; 6 convs of 32 ch: stem 96*96*32*3*9, then per block
    # size^2*32*32*9 at 96, 48, 24, 12, 6 (before each pool)
    sizes = [96, 48, 24, 12, 6]
    assert summarize(net)[0] == 96 * 96 * 32 * 27 + sum(s * s * 9216 for s in sizes) + 320
    assert net[-2].in_h == 3
    with pytest.raises(ValueError, match="need 'b5_skips', missing"):
        nas_key("resnet9-stl10", {k: v for k, v in params.items() if k != "b5_skips"})


def test_unet_small_by_hand():
    net = unet(1, [16, 32])
    macs, params = summarize(net)
    # d0.conv1 128^2*16*3*9 = 7,077,888; d0.conv2 128^2*16*16*9 = 37,748,736;
    # mid.conv1 64^2*32*16*9 = 18,874,368; mid.conv2 64^2*32*32*9 = 37,748,736;
    # u0.upconv (2x2 stride-2 transposed conv = pwconv 32 -> 4*16 at 64^2) 4096*64*32 = 8,388,608;
    # u0.conv1 128^2*16*32*9 = 75,497,472; u0.conv2 37,748,736; out 128^2*16 = 262,144
    assert macs == 223_346_688
    # 432 + 2,304 + 4,608 + 9,216 + 2,048 + 4,608 + 2,304 + 16
    assert params == 25_536
    assert [layer.name for layer in net] == ["d0.conv1", "d0.conv2", "d0.pool", "mid.conv1",
                                             "mid.conv2", "u0.upconv", "u0.conv1", "u0.conv2",
                                             "out"]
    assert net[-1].out_h == 128 and net[-1].out_ch == 1


def test_unet_key_ignores_levels_above_height():
    a = {"height": 2, "f0_filters": 16, "f1_filters": 32, "f2_filters": 64, "f3_filters": 8}
    assert nas_key("unet-nuclei", a) == nas_key("unet-nuclei", {**a, "f3_filters": 256})
    with pytest.raises(ValueError, match="height must be >= 1, got 0"):
        nas_key("unet-nuclei", {**a, "height": 0})
    with pytest.raises(ValueError, match="multiple of 2\\*\\*8"):
        unet(8, [4] * 9)
    with pytest.raises(ValueError, match="needs 3 filter counts"):
        unet(2, [4, 8])


# ------------------------------------------------------------------------------ templates
CONV = Layer("conv", in_ch=8, out_ch=16, in_h=8, in_w=8, out_h=8, out_w=8, kernel=3)
# W = 16*8*9 = 1152 B, I = 8*64 = 512 B, O = 16*64 = 1024 B, MACs = 64*16*8*9 = 73,728


@pytest.mark.parametrize("template, cycles, traffic", [
    # shi: ceil(64 px / 128 PEs) = 1 fold; 1 * 16 * 8 * 9 = 1152 cycles; W*1 + I + O
    ("shi", 1152, 1152 + 512 + 1024),
    # dla: Pc = 64, Pk = 128/64 = 2; ceil(8/64) * ceil(16/2) * 64 * 9 = 4608; W + I*8 + O
    ("dla", 4608, 1152 + 512 * 8 + 1024),
    # rs: e = min(8, floor(128/3)) = 8 rows, 1 pass, sets = floor(128/24) = 5;
    # 1 * ceil(16*8/5) * 8 * 3 = 26 * 24 = 624; W*1 + I*ceil(16/5) + O
    ("rs", 624, 1152 + 512 * 4 + 1024),
])
def test_template_formulas_on_one_conv(template, cycles, traffic):
    c = template_layer_cost(stack_layers([[CONV]]), template, 128, 1.0)
    assert c["cycles"][0, 0] == cycles
    assert c["traffic_bytes"][0, 0] == traffic
    # latency = max(cycles / 1 GHz, traffic / 1 GB/s): memory-bound here for all three
    assert c["latency_s"][0, 0] == pytest.approx(max(cycles, traffic) * 1e-9)
    # energy: MACs*0.3 + MACs*2*e_L1 + traffic*(e_L2 + 0.6) + W*250 pJ; the global buffer is
    # 256 B * 128 PEs = 32 KB, Horowitz's 20 pJ / 8 B point
    l1 = {"shi": 64, "dla": 16, "rs": 520}[template]
    e = 73728 * 0.3 + 73728 * 2 * _l1_pj(l1) + traffic * (2.5 + 0.6) + 1152 * 250.0
    assert c["energy_pj"][0, 0] == pytest.approx(e)


def test_template_favours_match_nasaic():
    # a wide low-resolution layer suits dla, a narrow high-resolution one shi (NASAIC sec. II)
    wide = Layer("conv", 256, 256, 4, 4, 4, 4, kernel=3)
    narrow = Layer("conv", 16, 16, 128, 128, 128, 128, kernel=3)
    cyc = {t: template_layer_cost(stack_layers([[wide, narrow]]), t, 2048, 64.0)["cycles"][0]
           for t in ("shi", "dla")}
    # wide: shi 1 * 256*256*9 = 589,824 vs dla 4 * 8 * 16 * 9 = 4,608
    assert cyc["shi"][0] == 589_824 and cyc["dla"][0] == 4_608
    # narrow: shi 8 * 16*16*9 = 18,432 vs dla 1 * 1 * 16384 * 9 = 147,456
    assert cyc["shi"][1] == 18_432 and cyc["dla"][1] == 147_456


def test_elementwise_layer_same_on_every_template():
    pool = Layer("pool", 16, 16, 8, 8, 4, 4, kernel=2, stride=2)
    # ops 4*4*16*4 = 1024 on 100 PEs: ceil(10.24) = 11 cycles; traffic I + O = 1024 + 256
    for t in ("shi", "dla", "rs"):
        c = template_layer_cost(stack_layers([[pool]]), t, 100, 64.0)
        assert c["cycles"][0, 0] == 11 and c["traffic_bytes"][0, 0] == 1280


def test_area_by_hand():
    # 128 PEs * (419 um^2 MAC + (L1 + 256 B) * 8 bits * 0.346/0.7 um^2)
    got = hetero_area_mm2(["shi", "dla", "rs", "rs"], [128, 128, 128, 0])
    want = [128 * (A_MAC + (l1 + L2_BYTES_PER_PE) * 8 * A_BIT) * 1e-6 for l1 in (64, 16, 520)]
    np.testing.assert_allclose(got, want + [0.0])


# ------------------------------------------------------------------------------ scheduler
def test_heft_on_three_layer_toy():
    # task 0: A -> B, task 1: C; latency on (acc0, acc1): A (2, 4), B (3, 1), C (5, 2)
    lat = [np.array([[[2.0, 4.0], [3.0, 1.0]]]), np.array([[[5.0, 2.0]]])]
    eng = [np.array([[[10.0, 20.0], [30.0, 40.0]]]), np.array([[[50.0, 60.0]]])]
    valid = [np.ones((1, 2), bool), np.ones((1, 1), bool)]
    s = schedule(lat, eng, valid, np.ones((1, 2), bool))
    # ranks (mean latency of the rest of the chain): A 3 + 2 = 5, B 2, C 3.5.
    # A (5) first: finishes at 2 on acc0 (4 on acc1) -> acc0 free at 2, task 0 ready at 2.
    # C (3.5 > B's 2): acc0 2 + 5 = 7, acc1 0 + 2 = 2 -> acc1, free at 2.
    # B: acc0 max(2, 2) + 3 = 5, acc1 max(2, 2) + 1 = 3 -> acc1; makespan 3.
    assert s.makespan[0] == 3.0
    np.testing.assert_array_equal(s.task_finish[0], [3.0, 2.0])
    np.testing.assert_array_equal(s.assignment[0][0], [0, 1])
    np.testing.assert_array_equal(s.assignment[1][0], [1])
    assert s.energy[0] == 10.0 + 60.0 + 40.0
    np.testing.assert_array_equal(s.busy[0], [2.0, 3.0])
    # acc1 absent: everything runs on acc0 in rank order A (5), C (5), B (3): 2 + 5 + 3 = 10
    s1 = schedule(lat, eng, valid, np.array([[True, False]]))
    assert s1.makespan[0] == 10.0 and s1.energy[0] == 10.0 + 50.0 + 30.0
    np.testing.assert_array_equal(s1.task_finish[0], [10.0, 7.0])


def test_schedule_rejects_malformed_input():
    lat = [np.zeros((1, 2, 2))]
    with pytest.raises(ValueError, match="task 0: latency and energy must be"):
        schedule(lat, [np.zeros((1, 2, 3))], [np.ones((1, 2), bool)], np.ones((1, 2), bool))
    with pytest.raises(ValueError, match="needs a present sub-accelerator, design 0"):
        schedule(lat, lat, [np.ones((1, 2), bool)], np.zeros((1, 2), bool))


# ------------------------------------------------------------------------------ model
def _design(space_name: str, seed: int = 0, **hw):
    return {**load_space(space_name).sample(1, seed=seed)[0], **hw}


def test_budget_infeasibility_names_the_rule():
    space = load_space("nasaic-w1")
    b = get_backend("hetero")
    over_pes = _design("nasaic-w1", a0_pes=2560, a1_pes=2048, a0_bw_gbps=32, a1_bw_gbps=32)
    over_bw = _design("nasaic-w1", a0_pes=2048, a1_pes=2048, a0_bw_gbps=40, a1_bw_gbps=32)
    single = _design("nasaic-w1", a0_pes=4096, a1_pes=0, a0_bw_gbps=64, a1_bw_gbps=64)
    r = b(space, [over_pes, over_bw, single])
    assert r.feasible.tolist() == [False, False, True]
    assert r.reason[0] == "total PEs must be <= 4096, got 4608 (a0 2560 + a1 2048)"
    assert r.reason[1] == "total NoC bandwidth must be <= 64 GB/s, got 72 GB/s (a0 40 + a1 32)"
    assert r.reason[2] == ""  # the absent a1's bandwidth is not allocated
    assert np.all(np.isfinite(r.latency_ms)) and np.all(r.latency_ms > 0)
    # the single accelerator runs every layer on a0
    assert all((a[2][a[2] >= 0] == 0).all() for a in r.extra["assignment"])
    assert all((a[0][a[0] >= 0] >= 0).any() for a in r.extra["assignment"])
    assert r.extra["n_subaccs"][2] == 1.0


def test_no_usable_subaccelerator_is_infeasible_with_zero_costs():
    net = stack_layers([[CONV], [CONV]])
    r = hetero_cost([net], [["shi", "rs"], ["shi", "rs"]], [[0, 0], [128, 0]], [[8, 8], [0, 8]])
    assert not r.feasible.any()
    assert r.reason[0] == "at least one sub-accelerator must have PEs, got pes [0.0, 0.0]"
    assert r.reason[1] == ("a sub-accelerator with PEs needs NoC bandwidth > 0, got a0 with "
                           "128 PEs and 0 GB/s")
    assert r.latency_ms.tolist() == [0.0, 0.0] and r.energy_mj.tolist() == [0.0, 0.0]


def test_hetero_cost_by_hand_two_tasks_two_subaccs():
    # task 0 = CONV, task 1 = CONV; a0 shi and a1 dla, 128 PEs and 1 GB/s each.
    # shi 2.688 us, dla 6.272 us (test above). Ranks tie (mean 4.48 us): task 0 first -> shi
    # (2.688 < 6.272); task 1: shi 2.688 + 2.688 = 5.376 < dla 6.272 -> shi again.
    net = stack_layers([[CONV]])
    r = hetero_cost([net, net], [["shi", "dla"]], [[128, 128]], [[1, 1]])
    assert r.latency_ms[0] == pytest.approx(5.376e-3)
    assert r.extra["t0_latency_ms"][0] == pytest.approx(2.688e-3)
    assert r.extra["t1_latency_ms"][0] == pytest.approx(5.376e-3)
    shi = template_layer_cost(net, "shi", 128, 1.0)["energy_pj"][0, 0]
    assert r.energy_mj[0] == pytest.approx(2 * shi * 1e-9)
    assert r.area_mm2[0] == pytest.approx(hetero_area_mm2(["shi", "dla"], [128, 128]).sum())


@pytest.mark.parametrize("kwargs, message", [
    ({"dataflow": [["tpu", "rs"]]}, r"dataflow must be one of \['shi', 'dla', 'rs'\], got 'tpu'"),
    ({"pes": [[-1, 128]]}, "pes must be finite and >= 0"),
    ({"bw_gbps": [[8, float("nan")]]}, "bw_gbps must be finite and >= 0"),
    ({"pes": [[128]]}, r"must all be \(n=1, A\) arrays"),
])
def test_hetero_cost_malformed_input(kwargs, message):
    args = {"dataflow": [["shi", "rs"]], "pes": [[128, 128]], "bw_gbps": [[8, 8]]} | kwargs
    with pytest.raises(ValueError, match=message):
        hetero_cost([stack_layers([[CONV]])], **args)


def test_backend_rejects_spaces_it_cannot_price(tmp_path):
    b = get_backend("hetero")
    head = 'name = "x"\naccelerator = "hetero"\n'
    nas = '[[params]]\nname = "height"\ngroup = "nas"\nchoices = [2]\n' + "".join(
        f'[[params]]\nname = "f{i}_filters"\ngroup = "nas"\nchoices = [16{", 32" * (i == 0)}]\n'
        for i in range(3))                    # f0 searched: a space must search something
    hw = ('[[params]]\nname = "a0_dataflow"\ngroup = "has"\nchoices = ["rs"]\n'
          '[[params]]\nname = "a0_pes"\ngroup = "has"\nchoices = [512]\n')
    bw = '[[params]]\nname = "a0_bw_gbps"\ngroup = "has"\nchoices = [8]\n'

    def space(text):
        p = tmp_path / "s.toml"
        p.write_text(text)
        return load_space(p)

    ok = space(head + 'network = "unet-nuclei"\n' + nas + hw + bw)
    assert b(ok, [{"f0_filters": 16}]).feasible.tolist() == [True]        # a single family, unprefixed params
    with pytest.raises(ValueError, match="workload .* or a network family .* got 'foo'"):
        b(space(head + 'network = "foo"\n' + nas + hw + bw), [{"f0_filters": 16}])
    with pytest.raises(ValueError, match=r"sub-accelerator a0 needs parameters \['a0_bw_gbps'\]"):
        b(space(head + 'network = "unet-nuclei"\n' + nas + hw), [{"f0_filters": 16}])
    with pytest.raises(ValueError, match="needs sub-accelerator parameters a0_dataflow"):
        b(space(head + 'network = "unet-nuclei"\n' + nas), [{"f0_filters": 16}])


def test_spaces_are_builtin_and_vectorised_matches_one_by_one():
    assert {"nasaic-w1", "nasaic-w2", "nasaic-w3"} <= set(list_spaces())
    b = get_backend("hetero")
    for name in ("nasaic-w1", "nasaic-w2", "nasaic-w3"):
        space = load_space(name)
        assert space.accelerator == "hetero"
        designs = space.sample(6, seed=1)
        batch = b(space, designs)
        for i, d in enumerate(designs):
            one = b(space, [d])
            assert one.latency_ms[0] == pytest.approx(batch.latency_ms[i])
            assert one.energy_mj[0] == pytest.approx(batch.energy_mj[i])
            assert one.reason[0] == batch.reason[i]
        for m in b.metrics:
            assert batch.metric(m).shape == (6,)


@pytest.mark.integration
def test_simulate_cli_reaches_backend():
    d = _design("nasaic-w2", a0_pes=2048, a1_pes=2048, a0_bw_gbps=32, a1_bw_gbps=32)
    out = subprocess.run([sys.executable, "-m", "moo_cosearch.cli", "simulate", "--space",
                          "nasaic-w2", "--backend", "hetero", "--params", json.dumps(d)],
                         capture_output=True, text=True, check=True)
    row = json.loads(out.stdout)
    want = get_backend("hetero")(load_space("nasaic-w2"), [d])
    assert row["feasible"] is True
    assert row["latency_ms"] == pytest.approx(want.latency_ms[0])


@pytest.mark.parametrize("space_name, objectives", [("nasaic-w1", "nasaic-w1-task-limits"),
                                                     ("nasaic-w3", "nasaic-cost")])
def test_few_trial_study(space_name, objectives):
    space = load_space(space_name)
    objective = make_objective(space, objectives)
    study = create_study(space, objectives, sampler="nsga2", seed=0, storage=None)
    study.optimize(objective, n_trials=6)
    trials = study.trials
    assert len(trials) == 6 and all(t.state.name == "COMPLETE" for t in trials)
    cost = get_backend("hetero")(space, [space.validate(t.params) for t in trials])
    for t, lat, en in zip(trials, cost.latency_ms, cost.energy_mj):
        assert t.user_attrs["latency_ms"] == pytest.approx(lat)
        assert t.user_attrs["energy_mj"] == pytest.approx(en)
        assert t.constraints["feasible"] == (0.0 if t.user_attrs["hw_feasible"] else 1.0)
