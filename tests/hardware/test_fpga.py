"""EDD FPGA model (``fpga-edd``) and the ``edd-mbconv`` network: hand-computed cases of Eq. 9-13,
recursive vs pipelined, budgets, malformed input, CLI and a short study."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from moo_cosearch import create_study, get_backend, load_space, make_objective
from moo_cosearch.networks import Layer, stack_layers
from moo_cosearch.networks.fpga import EDD_BLOCKS, edd_mbconv
from moo_cosearch.cli import main
from moo_cosearch.hardware.fpga import (CLOCK_HZ, DEVICES, edd_cost, lut_per_multiplier, op_work,
                                        phi, psi, shared_resource)
from moo_cosearch.networks import build_network, summarize

SPACE = "edd-mbconv-fpga"


# ---------------------------------------------------------------- Phi, Psi, LUTs (EDD 4.1)
def test_phi_is_q():
    # EDD 4.1.1: "we let Phi(q) = q"
    assert phi([4, 8, 16]).tolist() == [4.0, 8.0, 16.0]


def test_psi_piecewise():
    # EDD 4.1.2: 1 for 9..16 bits, 1/2 for 5..8, 0 for <= 4
    assert psi([1, 4, 5, 8, 9, 16]).tolist() == [0, 0, 0.5, 0.5, 1, 1]


def test_lut_multipliers_only_at_4_bits_or_less():
    assert lut_per_multiplier([2, 4, 5, 16]).tolist() == [4, 16, 0, 0]     # q*q for q <= 4


@pytest.mark.parametrize("bad", [0, 17, 32, 3.5, -4])
def test_bits_outside_1_16_rejected(bad):
    with pytest.raises(ValueError, match=r"quantisation bits must be integers in 1\.\.16"):
        psi([8, bad])


def test_op_work_follows_eq12():
    layers = stack_layers([[
        Layer("conv", 3, 8, 8, 8, 4, 4, kernel=3, stride=2),   # 3^2*4*4*3*8 = 3456
        Layer("dwconv", 8, 8, 4, 4, 4, 4, kernel=5, groups=8),  # 5^2*4*4*8 = 3200
        Layer("add", 8, 8, 4, 4, 4, 4),                         # 4*4*8 = 128
        Layer("pool", 8, 8, 4, 4, 1, 1, kernel=4, stride=4),    # input 4*4*8 = 128
        Layer("fc", 8, 10, 1, 1, 1, 1),                          # 8*10 = 80
    ], [Layer("pwconv", 2, 3, 5, 5, 5, 5)]])                      # 25*2*3 = 150, then padding
    assert op_work(layers).tolist() == [[3456, 3200, 128, 128, 80], [150, 0, 0, 0, 0]]


# ---------------------------------------------------------------- sharing, Eq. 9-10
def test_shared_resource_tanh_and_exact():
    res = [10.0, 20.0]
    soft = [[0.5, 0.5], [0.5, 0.5]]             # each op: sum of weights 1
    assert shared_resource(soft, res) == pytest.approx(30 * math.tanh(1))          # 22.848
    assert shared_resource(soft, res, exact=True) == pytest.approx(30)
    onehot = [[1, 0], [1, 0]]                   # op 0 used twice, op 1 never
    assert shared_resource(onehot, res) == pytest.approx(10 * math.tanh(2))         # 9.640
    assert shared_resource(onehot, res, exact=True) == pytest.approx(10)
    batch = shared_resource(np.array([soft, onehot]), np.array([res, res]))
    assert batch == pytest.approx([30 * math.tanh(1), 10 * math.tanh(2)])
    with pytest.raises(ValueError, match="usage must be"):
        shared_resource([[1, 0, 0]], res)


# ---------------------------------------------------------------- edd_cost by hand
def _toy_layers():
    """Block 0: pwconv 4->8 @2x2 (work 128) + dwconv 3x3 8ch (288); block 1: pwconv 8->8 (256);
    plus a fixed stem (block -1) that must not count."""
    return [Layer("conv", 3, 4, 4, 4, 2, 2, kernel=3, stride=2, name="stem"),
            Layer("pwconv", 4, 8, 2, 2, 2, 2),
            Layer("dwconv", 8, 8, 2, 2, 2, 2, kernel=3, groups=8),
            Layer("pwconv", 8, 8, 2, 2, 2, 2)]


def _toy():
    return stack_layers([_toy_layers()]), np.array([[-1, 0, 0, 1]])


def test_recursive_distinct_ops_hand_computed():
    layers, block = _toy()
    r = edd_cost(layers, block, [[0, 1]], [[16, 8]], [[2, 3]], "recursive", per_block=True)
    # block 0: Phi(16)*(128+288)/2^2 = 1664 (Eq. 11 units) -> /16 = 104 cycles
    # block 1: Phi(8)*256/2^3 = 256 -> 16 cycles; total 120 cycles at 200 MHz
    assert r.extra["latency_eq11"][0] == pytest.approx(1664 + 256)
    assert r.extra["block_latency_ms"][0] == pytest.approx([104 / CLOCK_HZ * 1e3,
                                                            16 / CLOCK_HZ * 1e3])
    assert r.latency_ms[0] == pytest.approx(120 / 200e6 * 1e3)
    assert r.extra["throughput_fps"][0] == pytest.approx(200e6 / 120)
    # DSP: Psi(16)*2^2 + Psi(8)*2^3 = 4 + 4; Eq. 9 as written: tanh(1)*(4 + 4)
    assert r.extra["dsp"][0] == 8
    assert r.extra["dsp_eq9"][0] == pytest.approx(8 * math.tanh(1))
    assert r.extra["lut"][0] == 0 and r.extra["n_ips"][0] == 2
    assert r.feasible[0] and r.reason == ("",) and np.isnan(r.energy_mj[0])


def test_recursive_shared_ip_takes_widest_bits_and_largest_pf():
    layers, block = _toy()
    r = edd_cost(layers, block, [[7, 7]], [[16, 8]], [[2, 3]], "recursive", per_block=True)
    # one IP (q = 16, pf = 3, 8 DSPs): block 0 16*416/8 = 832 -> 52 cycles; block 1 16*256/8
    # = 512 -> 32 cycles; DSP counted once = 8; Eq. 9: tanh(2)*8 = 7.712
    assert r.extra["block_ip_bits"][0].tolist() == [16, 16]
    assert r.extra["block_ip_pf"][0].tolist() == [3, 3]
    assert r.latency_ms[0] == pytest.approx(84 / 200e6 * 1e3)
    assert r.extra["dsp"][0] == 8 and r.extra["n_ips"][0] == 1
    assert r.extra["dsp_eq9"][0] == pytest.approx(8 * math.tanh(2))


def test_pipelined_one_ip_per_block_throughput_from_slowest():
    layers, block = _toy()
    r = edd_cost(layers, block, [[7, 7]], [[16, 8]], [[2, 3]], "pipelined")
    # own IPs: 104 and 16 cycles; latency = 120 cycles, throughput = 1 / 104 cycles (Eq. 7)
    assert r.latency_ms[0] == pytest.approx(120 / 200e6 * 1e3)
    assert r.extra["throughput_fps"][0] == pytest.approx(200e6 / 104)
    # Eq. 8: resources summed, 4 + 4; no tanh sharing in a pipeline
    assert r.extra["dsp"][0] == 8 and r.extra["dsp_eq9"][0] == 8 and r.extra["n_ips"][0] == 2


def test_four_bit_ips_use_luts_not_dsps():
    layers, block = _toy()
    r = edd_cost(layers, block, [[0, 1]], [[4, 4]], [[2, 3]], "pipelined")
    # Psi(4) = 0; LUTs 4*4 per multiplier: 16*4 + 16*8 = 192
    assert r.extra["dsp"][0] == 0 and r.extra["lut"][0] == 192
    # latency: Phi(4)*416/4 = 416 -> 26 cycles; 4*256/8 = 128 -> 8 cycles
    assert r.latency_ms[0] == pytest.approx(34 / 200e6 * 1e3)


def test_batch_mixes_architectures_and_devices():
    _, block = _toy()
    layers2 = stack_layers([_toy_layers()] * 2)
    r = edd_cost(layers2, np.repeat(block, 2, axis=0), [[7, 7]] * 2, [[16, 8]] * 2,
                 [[2, 3]] * 2, ["recursive", "pipelined"], ["zcu102", "zc706"])
    assert r.latency_ms == pytest.approx([84 / 2e5, 120 / 2e5])
    assert r.extra["dsp"].tolist() == [8, 8]


def test_dsp_budget_infeasible_with_reason():
    layers, block = _toy()
    # 16-bit, pf 12 and pf 3 pipelined: 4096 + 8 = 4104 DSPs > 2520 (ZCU102)
    r = edd_cost(layers, block, [[0, 1]], [[16, 16]], [[12, 3]], "pipelined")
    assert not r.feasible[0]
    assert r.reason[0] == ("pipelined design with 2 IPs: DSP budget: 4104 DSPs needed > 2520 "
                           "on zcu102")
    # the same design with pf 10: 1032 DSPs, fine on ZCU102, over the ZC706's 900
    r = edd_cost(layers, block, [[0, 1]], [[16, 16]], [[10, 3]], "pipelined", ["zc706"])
    assert not r.feasible[0] and "1032 DSPs needed > 900 on zc706" in r.reason[0]
    assert DEVICES["zcu102"].dsp == 2520 and DEVICES["zc706"].dsp == 900


def test_lut_budget_infeasible_with_reason():
    layers, block = _toy()
    r = edd_cost(layers, block, [[0, 1]], [[4, 16]], [[15, 2]], "pipelined")
    # 16 LUTs * 2^15 = 524288 > 274080
    assert not r.feasible[0]
    assert "LUT budget: 524288 LUTs of q<=4 multipliers > 274080 on zcu102" in r.reason[0]


@pytest.mark.parametrize("kwargs,match", [
    ({"bits": [[32, 8]]}, r"quantisation bits must be integers in 1\.\.16"),
    ({"pf": [[-1, 2]]}, r"parallel factors must be integers in 0\.\.20"),
    ({"pf": [[1.5, 2]]}, r"parallel factors must be integers"),
    ({"architecture": "systolic"}, r"architecture must be one of \['recursive', 'pipelined'\], "
                                   r"got 'systolic'"),
    ({"device": "vu9p"}, r"FPGA device must be one of \['zc706', 'zcu102'\], got 'vu9p'"),
    ({"block": np.array([[0, 0, 1]])}, r"block must be an integer array of shape \(1, 4\)"),
    ({"block": np.array([[0, 0, 1, 5]])}, r"block indices must be -1 or in 0\.\.1"),
])
def test_malformed_input(kwargs, match):
    layers, block = _toy()
    args = {"block": block, "op_id": [[0, 1]], "bits": [[16, 8]], "pf": [[2, 3]],
            "architecture": "recursive", "device": "zcu102"} | kwargs
    with pytest.raises(ValueError, match=match):
        edd_cost(layers, **args)


# ---------------------------------------------------------------- the network
def test_edd_mbconv_shapes_and_block_names():
    net = edd_mbconv([3] * EDD_BLOCKS, [6] * EDD_BLOCKS)
    names = [layer.name for layer in net]
    blocks = {n.split(".")[0] for n in names if n.startswith("b")}
    assert blocks == {f"b{i}" for i in range(EDD_BLOCKS)}
    # stride 2 in b0, b4, b8, b16: 224 -> 112 (stem) -> 56 -> 28 -> 14 -> 14 -> 7
    by = {layer.name: layer for layer in net}
    assert (by["b0.dw"].in_h, by["b0.dw"].out_h) == (112, 56)
    assert (by["b16.dw"].in_h, by["b16.dw"].out_h) == (14, 7)
    assert by["b0.expand"].in_ch == 16 and by["b0.expand"].out_ch == 96
    assert by["b19.project"].out_ch == 320 and by["head.conv"].in_ch == 320
    # residual adds where stride 1 and widths match: 3 per 4-block stage, 2 in the 3-block stage
    assert sum(n.endswith(".add") for n in names if n.startswith("b")) == 3 * 4 + 2
    # consecutive layers chain (except the head pool/fc and the residual adds)
    for a, b in zip(net, net[1:]):
        if b.kind not in ("add",) and a.kind != "add":
            assert (a.out_ch, a.out_h) == (b.in_ch, b.in_h), (a.name, b.name)
    k = [3, 5, 7] * 6 + [3, 5]
    assert edd_mbconv(k, [4] * EDD_BLOCKS)[4].kernel == 3
    assert summarize(edd_mbconv(k, [5] * EDD_BLOCKS))[0] > summarize(
        edd_mbconv(k, [4] * EDD_BLOCKS))[0]


@pytest.mark.parametrize("kernels,expansions,match", [
    ([3] * 19, [4] * 20, "edd-mbconv needs 20 kernel sizes"),
    ([4] + [3] * 19, [4] * 20, r"kernel sizes must be odd positive integers, got kernels\[0\]=4"),
    ([3] * 20, [0] + [4] * 19, r"expansion ratios must be positive integers, got expansions\[0\]"),
])
def test_edd_mbconv_rejects_bad_blocks(kernels, expansions, match):
    with pytest.raises(ValueError, match=match):
        edd_mbconv(kernels, expansions)


# ---------------------------------------------------------------- the backend on its space
def _design(kernel=3, expansion=6, bits=16, pf=6, architecture="recursive"):
    d = {"architecture": architecture}
    for i in range(EDD_BLOCKS):
        d |= {f"b{i}_kernel": kernel, f"b{i}_expansion": expansion, f"b{i}_bits": bits,
              f"b{i}_pf": pf}
    return d


def _searched_work(design):
    """Independent sum of EDD's work over the searched blocks: MACs of conv/dw layers, elements
    of the residual adds (every layer named b{i}.*)."""
    net = build_network("edd-mbconv", design)
    return sum(layer.macs if layer.kind != "add" else layer.out_ch * layer.out_h * layer.out_w
               for layer in net if layer.name.split(".")[0][1:].isdigit())


def test_backend_uniform_design_matches_hand_sum():
    space, backend = load_space(SPACE), get_backend("fpga-edd")
    d = _design(bits=16, pf=6)
    r = backend(space, [d, d | {"architecture": "pipelined"}])
    work = _searched_work(d)
    expected_ms = 16 * work / 2**6 / 16 / 200e6 * 1e3       # Phi(16)/16 * work / 2^6 cycles
    assert r.latency_ms == pytest.approx([expected_ms, expected_ms])
    # one op for all blocks: recursive shares one 64-DSP IP; pipelined has 20 of them
    assert r.extra["dsp"].tolist() == [64, 20 * 64]
    assert r.extra["dsp_eq9"][0] == pytest.approx(math.tanh(20) * 64)
    assert r.extra["n_ips"].tolist() == [1, 20]
    # stem / fixed block / head excluded: the whole network has more work than the blocks
    assert summarize(build_network("edd-mbconv", d))[0] > work


def test_paper_trends_dsp_and_latency_vs_q_and_pf():
    space, backend = load_space(SPACE), get_backend("fpga-edd")
    designs = [_design(bits=q, pf=p, architecture="pipelined") for q in (4, 8, 16)
               for p in (4, 5)]
    r = backend(space, designs)
    dsp = r.extra["dsp"].reshape(3, 2)
    lat = r.latency_ms.reshape(3, 2)
    assert dsp.tolist() == [[0, 0], [160, 320], [320, 640]]     # 20 * Psi(q) * 2^pf
    assert lat[:, 0] / lat[:, 1] == pytest.approx([2, 2, 2])     # pf + 1 halves the latency
    assert lat[1] / lat[2] == pytest.approx([0.5, 0.5])          # 8 bits: half of 16 (Phi = q)
    assert r.extra["lut"].reshape(3, 2)[0].tolist() == [20 * 16 * 16, 20 * 16 * 32]


def test_backend_recursive_counts_distinct_ops():
    space, backend = load_space(SPACE), get_backend("fpga-edd")
    d = _design(pf=4)
    d |= {"b3_kernel": 5, "b7_kernel": 5, "b9_expansion": 4}     # 3 ops: (3,6), (5,6), (3,4)
    r = backend.evaluate(space, [d], per_block=True)
    assert r.extra["n_ips"][0] == pytest.approx(3)
    assert r.extra["dsp"][0] == 3 * 16
    # Eq. 9: tanh(17)*16 + tanh(2)*16 + tanh(1)*16
    assert r.extra["dsp_eq9"][0] == pytest.approx(16 * (math.tanh(17) + math.tanh(2)
                                                       + math.tanh(1)))


def test_backend_rejects_other_spaces():
    with pytest.raises(ValueError, match="the fpga-edd backend needs an edd-mbconv space"):
        get_backend("fpga-edd")(load_space("nb201-edge"), [])


def test_space_uniform_sampling_runs_and_some_infeasible():
    space, backend = load_space(SPACE), get_backend("fpga-edd")
    r = backend(space, space.sample(300, seed=0))
    assert np.all(np.isfinite(r.latency_ms)) and np.all(r.latency_ms > 0)
    bad = ~r.feasible
    assert 0 < bad.sum() < 300
    assert all(r.reason[i].startswith(("recursive", "pipelined")) and "2520" in r.reason[i]
               for i in np.flatnonzero(bad))
    assert np.all(r.extra["dsp"][bad] > 2520)


# ---------------------------------------------------------------- CLI and study
def test_simulate_cli(capsys):
    assert main(["simulate", "--space", SPACE, "--params", json.dumps(_design(pf=5))]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["feasible"] is True and row["dsp"] == 32 and row["energy_mj"] is None
    assert {"latency_ms", "throughput_fps", "lut", "dsp_eq9"} <= set(row)
    assert main(["simulate", "--space", SPACE, "--params",
                 json.dumps(_design() | {"b0_bits": 5})]) == 1
    assert "b0_bits must be one of [4, 8, 16], got 5" in capsys.readouterr().err
    assert main(["simulate", "--space", SPACE, "--backend", "edge", "--params",
                 json.dumps(_design())]) == 2


def test_few_trial_study():
    space = load_space(SPACE)
    objective = make_objective(space, "edd-fpga-latency-dsp")
    assert objective.accuracy is None                    # cost-only: no accuracy source needed
    study = create_study(space, "edd-fpga-latency-dsp", sampler="nsga2", seed=0, storage=None)
    study.optimize(objective, n_trials=6)
    backend = get_backend("fpga-edd")
    for t in study.trials:
        r = backend(space, [t.params])
        assert t.values == [pytest.approx(r.latency_ms[0]), pytest.approx(r.extra["dsp"][0])]
        assert "accuracy_evaluated" not in t.user_attrs    # cost-only: nothing to evaluate
        assert t.constraints["feasible"] == (0.0 if r.feasible[0] else 1.0)
        assert t.constraints["dsp<=2520"] == pytest.approx((r.extra["dsp"][0] - 2520) / 2520)
