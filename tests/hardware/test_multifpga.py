"""FNAS multi-FPGA pipeline model (``fnas-multifpga``) and the ``fnas-cifar10`` network:
hand-computed tiling cycles, BRAM, partition throughput, infeasible cases, errors, CLI, study."""

from __future__ import annotations

import json

import numpy as np
import pytest

from moo_cosearch import create_study, get_backend, load_space, make_objective
from moo_cosearch.networks import Layer, stack_layers
from moo_cosearch.networks.fpga import fnas_cifar10, fnas_nas_key
from moo_cosearch.cli import main
from moo_cosearch.hardware.multifpga import multifpga_cost, tile_bram18k, tiled_layer_cycles
from moo_cosearch.networks import build_network, mobilenetv2, summarize

SPACE = "fnas-cifar10-multifpga"


def _cycles(layer: Layer, tm, tn, tr, ports) -> float:
    lb = stack_layers([[layer]])
    one = np.ones((1, 1))
    return float(tiled_layer_cycles(lb, tm * one, tn * one, tr * one, tr * one, ports)[0, 0])


# ---------------------------------------------------------------- tiling formula
def test_conv_compute_bound():
    # M=8, N=4, 4x4 out, K=3; Tm=4 Tn=2 Tr=Tc=2, 4 words/cycle:
    # t_I = 2*(1+3)*(1+3)/4 = 8, t_W = 4*2*9/4 = 18, t_O = 4*2*2/4 = 4, t_C = 9*2*2 = 36
    # max(ceil(4/2)*36, 4) = 72 per tile, tiles 2*2*2 = 8 -> 576
    assert _cycles(Layer("conv", 4, 8, 4, 4, 4, 4, kernel=3), 4, 2, 2, 4) == 576


def test_pwconv_output_bound():
    # K=1, 1 word/cycle: t_I = 2*2*2 = 8, t_W = 4*2 = 8, t_O = 4*2*2 = 16, t_C = 4
    # max(2*8, 16) = 16 per tile, 8 tiles -> 128
    assert _cycles(Layer("pwconv", 4, 8, 4, 4, 4, 4), 4, 2, 2, 1) == 128


def test_fc_and_pool():
    # fc 64->10: Tr' = 1, t_I = 8/4 = 2, t_W = 4*8/4 = 8, t_O = 1, t_C = 1;
    # ceil(64/8)*8 = 64 per tile, ceil(10/4) = 3 tiles -> 192
    assert _cycles(Layer("fc", 64, 10, 1, 1, 1, 1), 4, 8, 8, 4) == 192
    # global pool 64 ch 8x8: ceil(64/8) * 64 = 512
    assert _cycles(Layer("pool", 64, 64, 8, 8, 1, 1, kernel=8, stride=8), 4, 8, 8, 4) == 512


def test_tiles_larger_than_layer_are_clipped():
    # Tr = 32 on a 4x4 map behaves like Tr = 4 for the tile, one spatial tile
    a = _cycles(Layer("conv", 4, 8, 4, 4, 4, 4, kernel=3), 8, 4, 32, 4)
    b = _cycles(Layer("conv", 4, 8, 4, 4, 4, 4, kernel=3), 8, 4, 4, 4)
    assert a == b == 9 * 16     # t_C = 9*4*4 = 144 > t_I 36, t_W 72, t_O 32; ceil(4/4) = 1


def test_bram_formula():
    # Tm=16 Tn=8 Tr=Tc=16 Tk=5: input (20*20*16 bits -> 1) 2*8 = 16, output (16*16*16 -> 1)
    # 2*16 = 32, weights 16*8*1 = 128 -> 176
    assert tile_bram18k(16, 8, 16, 16, 5) == 176
    # Tr=32, Tk=7: input 38*38*16 = 23104 bits -> 2 BRAMs per bank: 2*8*2 = 32; 32 + 128 -> 192
    assert tile_bram18k(16, 8, 32, 32, 7) == 192


# ---------------------------------------------------------------- the pipeline by hand
def _tiny():
    # l0 conv 3->8 k3, l1 pwconv 8->8, l2 conv 8->8 k3 on 4x4; global pool; fc 8->10
    return stack_layers([fnas_cifar10([8, 8, 8], [3, 1, 3], resolution=4)])


def test_two_fpga_pipeline_hand_computed():
    r = multifpga_cost(_tiny(), 2, [[2]], [[4, 8]], [[2, 4]], [[2, 4]], port_words=4,
                       link_gbps=5, per_fpga=True)
    # FPGA 0 (Tm 4, Tn 2, Tr 2): l0 = 8 tiles * 2*36 = 576; l1 = 8 tiles * max(4*4, 4) = 128
    # FPGA 1 (Tm 8, Tn 4, Tr 4): l2 = 2*144 = 288; pool = 2*16 = 32; fc = 2 tiles * 2*8 = 32
    assert r.extra["layer_cycles"][0].tolist() == [576, 128, 288, 32, 32]
    assert r.extra["layer_fpga"][0].tolist() == [0, 0, 1, 1, 1]
    assert r.extra["fpga_stage_ms"][0] == pytest.approx([704 / 1e5, 352 / 1e5])
    # link: l1's 8*4*4 = 128 words * 16 bits / 5 Gb/s = 0.4096 us
    assert r.extra["fpga_link_ms"][0] == pytest.approx([2048 / 5e9 * 1e3, 0])
    assert r.extra["throughput_fps"][0] == pytest.approx(1e8 / 704)
    assert r.latency_ms[0] == pytest.approx((704 + 352) / 1e5 + 2048 / 5e9 * 1e3)
    assert r.extra["pipeline_efficiency"][0] == pytest.approx((704 + 352) / (2 * 704))  # 0.75
    # DSP 4*2 + 8*4 = 40; BRAM: FPGA 0 4 + 8 + 8 = 20, FPGA 1 8 + 16 + 32 = 56 (Tk = 3)
    assert r.extra["fpga_dsp"][0].tolist() == [8, 32] and r.extra["dsp"][0] == 40
    assert r.extra["fpga_tk"][0].tolist() == [3, 3]
    assert r.extra["bram18k"][0] == 76 and r.feasible[0] and r.reason == ("",)


def test_one_fpga_is_slower_than_the_pipeline():
    r = multifpga_cost(_tiny(), 1, [[2]], [[4, 8]], [[2, 4]], [[2, 4]], port_words=4)
    # everything on FPGA 0: 576 + 128 + 1152 (l2: 8 tiles * 4*36) + 64 (pool) + 24 (fc)
    assert r.latency_ms[0] == pytest.approx(1944 / 1e5)
    assert r.extra["throughput_fps"][0] == pytest.approx(1e8 / 1944)
    assert r.extra["pipeline_efficiency"][0] == 1 and r.extra["dsp"][0] == 8


def test_link_can_be_the_bottleneck():
    r = multifpga_cost(_tiny(), 2, [[2]], [[4, 8]], [[2, 4]], [[2, 4]], link_gbps=1e-4)
    # 2048 bits at 100 kb/s = 20.48 ms, slower than either FPGA
    assert r.extra["throughput_fps"][0] == pytest.approx(1e-4 * 1e9 / 2048)


# ---------------------------------------------------------------- infeasible with reason
def test_partition_must_increase():
    r = multifpga_cost(_tiny(), 3, [[2, 2]], [[4, 4, 4]], [[2, 2, 2]], [[2, 2, 2]])
    assert not r.feasible[0]
    assert r.reason[0] == ("partition cut points must satisfy 0 < cut1 < ... < cut2 < 5 (every "
                           "FPGA gets a layer), got cut1=2, cut2=2")
    r = multifpga_cost(_tiny(), 2, [[5, 1]], [[4, 4, 4]], [[2, 2, 2]], [[2, 2, 2]])
    assert not r.feasible[0] and "got cut1=5" in r.reason[0]


def test_dsp_and_bram_over_budget():
    r = multifpga_cost(_tiny(), 2, [[2]], [[4, 32]], [[2, 8]], [[2, 32]])
    assert not r.feasible[0]
    assert "FPGA 1 (xc7z015): DSP Tm*Tn = 32*8 = 256 > 160" in r.reason[0]
    # BRAM (Tk 3): input 34*34*16 = 18496 bits -> 2 per bank, 2*8*2 = 32; output 2*32*1 = 64;
    # weights 32*8 = 256 -> 352 > 190
    assert "FPGA 1 (xc7z015): 352 BRAM18K for tiles Tm=32 Tn=8 Tr=32 Tc=32 Tk=3 > 190" \
        in r.reason[0]
    assert "FPGA 0" not in r.reason[0]
    # the XC7Z020 has 220 DSPs and 280 BRAM18K: DSP still over, BRAM still over
    r = multifpga_cost(_tiny(), 2, [[2]], [[4, 32]], [[2, 8]], [[2, 32]], device="xc7z020")
    assert "256 > 220" in r.reason[0] and "> 280" in r.reason[0]


def test_unused_fpgas_do_not_count():
    r = multifpga_cost(_tiny(), 1, [[2]], [[4, 32]], [[2, 8]], [[2, 32]])
    assert r.feasible[0] and r.extra["dsp"][0] == 8


def test_unsupported_layers_infeasible():
    layers = stack_layers([mobilenetv2([3] * 17, [1] + [6] * 16)])
    r = multifpga_cost(layers, 1, np.zeros((1, 0)), [[4]], [[4]], [[8]])
    assert not r.feasible[0]
    assert r.reason[0] == ("layer 1 is dwconv: the tiled conv template runs conv, pwconv, fc "
                           "and pool layers only")


@pytest.mark.parametrize("kwargs,match", [
    ({"n_fpgas": 3}, r"n_fpgas must be at most 2"),
    ({"n_fpgas": 0}, r"n_fpgas must be positive integers"),
    ({"tm": [[0, 4]]}, r"tm must be positive integers"),
    ({"tm": [4, 4]}, r"tm must have shape \(n=1, kmax\)"),
    ({"tr": [[2.5, 4]]}, r"tr must be positive integers"),
    ({"cuts": [[1, 2]]}, r"cuts must be integers of shape \(1, 1\)"),
    ({"device": "xcvu9p"}, r"FPGA device must be one of \['xc7z015', 'xc7z020'\]"),
    ({"link_gbps": 0}, r"link_gbps must be positive and finite"),
    ({"port_words": -1}, r"port_words must be positive integers"),
])
def test_malformed_input(kwargs, match):
    args = {"n_fpgas": 2, "cuts": [[2]], "tm": [[4, 8]], "tn": [[2, 4]], "tr": [[2, 4]]} | kwargs
    with pytest.raises(ValueError, match=match):
        multifpga_cost(_tiny(), **args)


# ---------------------------------------------------------------- the network
def test_fnas_network_macs_by_hand():
    net = fnas_cifar10([24, 64], [3, 7])
    # 9*3*24*1024 + 49*24*64*1024 + fc 64*10 = 663552 + 77070336 + 640
    assert summarize(net) == (77_734_528, 648 + 75_264 + 650)
    assert [layer.kind for layer in net] == ["conv", "conv", "pool", "fc"]
    assert fnas_cifar10([24], [1])[0].kind == "pwconv"


def test_fnas_nas_key_and_errors():
    assert fnas_nas_key({"l0_filters": 24, "l0_kernel": 3, "n_fpgas": 2}) == (
        "fnas-cifar10", (24,), (3,))
    with pytest.raises(ValueError, match="layer 1 needs both l1_filters and l1_kernel"):
        fnas_nas_key({"l0_filters": 24, "l0_kernel": 3, "l1_kernel": 3})
    with pytest.raises(ValueError, match="need l0_filters and l0_kernel"):
        fnas_nas_key({})
    with pytest.raises(ValueError, match=r"kernel sizes must be odd .* kernels\[0\]=2"):
        fnas_cifar10([24], [2])
    with pytest.raises(ValueError, match="one filter count and one kernel per layer"):
        fnas_cifar10([24, 36], [3])
    assert len(build_network("fnas-cifar10", {"l0_filters": 24, "l0_kernel": 3})) == 3


# ---------------------------------------------------------------- backend, CLI, study
def _design(k=2, cut1=6, cut2=9):
    d = {"n_fpgas": k, "cut1": cut1, "cut2": cut2}
    for i in range(12):
        d |= {f"l{i}_filters": 36, f"l{i}_kernel": 3}
    for j in range(3):
        d |= {f"fpga{j}_tm": 8, f"fpga{j}_tn": 8, f"fpga{j}_tr": 16}
    return d


def test_backend_balanced_split_of_identical_layers():
    space, backend = load_space(SPACE), get_backend("fnas-multifpga")
    r = backend.evaluate(space, [_design(1), _design(2, 6), _design(3, 4, 8)], per_fpga=True)
    assert r.feasible.all()
    # Tm = Tn = 8, Tr = 16 on 32x32 maps, 36 filters, K = 3, 4 words/cycle:
    # l1..l11: t_I = 8*18*18/4 = 648, t_W = 8*8*9/4 = 144, t_O = 8*256/4 = 512, t_C = 9*256 =
    #   2304; ceil(36/8) * 2304 = 11520 per tile; 2*2*5 tiles -> 230400 cycles
    # l0 (3 channels): max(243, 54, 2304) = 2304 per tile, 20 tiles -> 46080
    # pool ceil(36/8)*1024 = 5120; fc: 5 * max(2, 16, 2, 1) = 80 per tile, 2 tiles -> 160
    cyc = r.extra["layer_cycles"][0]
    assert cyc.tolist() == [46080] + [230400] * 11 + [5120, 160]
    one = 46080 + 11 * 230400 + 5120 + 160                       # 2,585,760 cycles
    two = max(46080 + 5 * 230400, 6 * 230400 + 5280)             # cut1 = 6
    three = max(46080 + 3 * 230400, 4 * 230400, 4 * 230400 + 5280)   # cuts 4, 8
    assert r.extra["throughput_fps"] == pytest.approx([1e8 / one, 1e8 / two, 1e8 / three])
    assert r.extra["dsp"].tolist() == [64, 128, 192]
    assert r.extra["n_fpgas"].tolist() == [1, 2, 3]


def test_backend_infeasible_fraction_and_reasons():
    space, backend = load_space(SPACE), get_backend("fnas-multifpga")
    r = backend(space, space.sample(300, seed=1))
    bad = np.flatnonzero(~r.feasible)
    assert 0 < len(bad) < 300
    assert all(("DSP" in r.reason[i] or "BRAM" in r.reason[i] or "partition" in r.reason[i])
               for i in bad)


def test_backend_rejects_spaces_without_its_parameters():
    with pytest.raises(ValueError, match="the fnas-multifpga backend needs parameters"):
        get_backend("fnas-multifpga")(load_space("nb201-edge"), [])


def test_simulate_cli(capsys):
    assert main(["simulate", "--space", SPACE, "--params", json.dumps(_design(3, 4, 8))]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["feasible"] is True and row["n_fpgas"] == 3 and row["dsp"] == 192
    assert row["area_mm2"] is None and row["throughput_fps"] > 0
    assert main(["simulate", "--space", SPACE, "--params", json.dumps(_design(3, 8, 4))]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["feasible"] is False and row["reason"].startswith("partition cut points")


def test_few_trial_study():
    space = load_space(SPACE)
    objective = make_objective(space, "fnas-multifpga-throughput")
    study = create_study(space, "fnas-multifpga-throughput", sampler="tpe", seed=0, storage=None)
    study.optimize(objective, n_trials=6)
    backend = get_backend("fnas-multifpga")
    for t in study.trials:
        r = backend(space, [t.params])
        assert t.values == [pytest.approx(r.extra["throughput_fps"][0]),
                            pytest.approx(r.extra["dsp"][0])]
        assert t.constraints["feasible"] == (0.0 if r.feasible[0] else 1.0)
