"""The conventions of moo_cosearch/hardware/README.md held on small hand-computed cases."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from moo_cosearch.hardware import get_backend
from moo_cosearch.hardware.dataflow import dataflow_cost
from moo_cosearch.hardware.edge import BASELINE, edge_cost
from moo_cosearch.hardware.eyeriss import EYERISS, eyeriss_cost
from moo_cosearch.networks import Layer, layer_matrix, matrix_of_key, stack_layers
from moo_cosearch.networks.nb201 import OPS, nb201
from moo_cosearch.space import load_space

README = Path(__file__).resolve().parents[2] / "moo_cosearch" / "hardware" / "README.md"
CONV = Layer("conv", 16, 32, 8, 8, 8, 8, kernel=3)   # 4,608 weights, 1,024 B in, 2,048 B out


def test_readme_covers_every_builtin_backend():
    text = README.read_text()
    from moo_cosearch.hardware import list_backends
    for name in list_backends():
        assert f"`{name}`" in text, name


def test_edge_single_conv_weights_resident_memory_bound():
    # Baseline: P=16 PEs, 4 lanes, 64 SIMD. Compute: ceil(64/(16*4)) * ceil(32/64) *
    # ceil(16/4) * 9 = 36 cycles = 45 ns at 0.8 GHz. Weights (4,608 B) fit in P*LM/2 = 16 MB:
    # resident across inferences, no DRAM. Activations: the network input is read (1,024 B)
    # and its output written (2,048 B): 3,072 B at 10 GB/s (bytes) = 307.2 ns.
    r = edge_cost(stack_layers([[CONV]]), BASELINE, per_layer=True)
    assert r.extra["layer_cycles"][0, 0] == 36
    assert r.extra["dram_bytes"][0] == 3072
    assert r.latency_ms[0] == pytest.approx(307.2e-9 * 1e3)


def test_edge_single_conv_weights_streamed():
    # One PE, LM = 2**20 * 0.001 = 1,048.576 B (half: 524.288 B < 4,608 B of weights): weights
    # stream from DRAM (W), in n_w = ceil(4608 / 524.288) = 9 tiles, each re-reading the input
    # (9 * 1,024 B); output 2,048 B: 15,872 B at 10 GB/s = 1,587.2 ns. Compute on one PE with
    # 4 lanes: ceil(64/4) * 1 * 4 * 9 = 576 cycles = 720 ns, so the layer is memory-bound.
    hw = {**BASELINE, "pes_x": 1, "pes_y": 1, "local_memory_mb": 0.001}
    r = edge_cost(stack_layers([[CONV]]), hw, per_layer=True)
    assert r.extra["layer_cycles"][0, 0] == 576
    assert r.extra["dram_bytes"][0] == 4608 + 9 * 1024 + 2048
    assert r.latency_ms[0] == pytest.approx(1587.2e-9 * 1e3)


def test_edge_activations_stay_on_chip_between_resident_layers():
    # Two resident layers: the 2,048 B between them never reaches DRAM.
    second = Layer("pwconv", 32, 32, 8, 8, 8, 8)
    r = edge_cost(stack_layers([[CONV, second]]), BASELINE)
    assert r.extra["dram_bytes"][0] == 1024 + 2048


def test_dataflow_layer_by_layer_is_zigzags_convention():
    # layer_by_layer: W + I + O from/to DRAM for every layer, weights never resident.
    second = Layer("pwconv", 32, 32, 8, 8, 8, 8)
    lbl = dataflow_cost(stack_layers([[CONV, second]]), BASELINE, layer_by_layer=True)
    res = dataflow_cost(stack_layers([[CONV, second]]), BASELINE)
    assert lbl.extra["dram_bytes"][0] == (4608 + 1024 + 2048) + (1024 + 2048 + 2048)
    assert res.extra["dram_bytes"][0] == 1024 + 2048


def test_eyeriss_single_conv_by_hand():
    # 3x3 conv 16->16 on 32x32, Eyeriss 12x14: PE set 3 rows x e = min(32, 14) = 14 columns,
    # sets = floor(12/3) * floor(14/14) = 4, passes = ceil(32/14) = 3, pairs = 256:
    # cycles = 3 * ceil(256/4) * 32 * 3 = 18,432 (92.16 us at 200 MHz). DRAM, 16-bit words:
    # weights 2,304 words = 4,608 B (fit all filter scratchpads: fetched once), network input
    # 32,768 B and output 32,768 B: 70,144 B at 0.72 GB/s = 97.42 us > compute.
    layer = Layer("conv", 16, 16, 32, 32, 32, 32, kernel=3)
    r = eyeriss_cost(stack_layers([[layer]]), EYERISS, per_layer=True)
    assert r.extra["layer_cycles"][0, 0] == 18432
    assert r.extra["dram_bytes"][0] == 4608 + 2 * 32768
    assert r.latency_ms[0] == pytest.approx(70144 / 0.72e9 * 1e3)
    fast_dram = eyeriss_cost(stack_layers([[layer]]), {**EYERISS, "dram_gbyte_s": 100})
    assert fast_dram.latency_ms[0] == pytest.approx(18432 / 200e6 * 1e3)


def test_eyeriss_pool_lowering():
    # A 3x3 average pool over 16 channels of 32x32: dense lowering = the 3x3 conv's 18,432
    # cycles and weights; depthwise lowering: 16 pairs -> 3 * ceil(16/4) * 32 * 3 = 1,152.
    pool = Layer("pool", 16, 16, 32, 32, 32, 32, kernel=3)
    conv = Layer("conv", 16, 16, 32, 32, 32, 32, kernel=3)
    dense = eyeriss_cost(stack_layers([[pool]]), EYERISS, per_layer=True)
    dw = eyeriss_cost(stack_layers([[pool]]), EYERISS, pool_lowering="depthwise",
                      per_layer=True)
    ref = eyeriss_cost(stack_layers([[conv]]), EYERISS, per_layer=True)
    assert dense.extra["layer_cycles"][0, 0] == ref.extra["layer_cycles"][0, 0] == 18432
    assert dense.latency_ms[0] == ref.latency_ms[0]
    assert dw.extra["layer_cycles"][0, 0] == 1152
    with pytest.raises(ValueError, match="pool_lowering must be one of"):
        eyeriss_cost(stack_layers([[pool]]), EYERISS, pool_lowering="host")


def test_eyeriss_glb_residency_and_spad_feasibility():
    # 1x1 convs 16->16 on 32x32: in + out = 65,536 B <= 108 KB, so both layers are resident
    # and the 32 KB between them stays in the GLB.
    a = Layer("pwconv", 16, 16, 32, 32, 32, 32)
    r = eyeriss_cost(stack_layers([[a, a]]), EYERISS)
    assert r.extra["dram_bytes"][0] == 2 * 512 + 2 * 32768
    small = eyeriss_cost(stack_layers([[a, a]]), {**EYERISS, "glb_kb": 32})
    assert small.extra["dram_bytes"][0] == 2 * 512 + 4 * 32768
    wide = Layer("conv", 4, 4, 32, 32, 32, 32, kernel=13)      # 13 taps > 12-word ifmap spad
    bad = eyeriss_cost(stack_layers([[wide]]), EYERISS)
    assert not bad.feasible[0] and "ifmap" in bad.reason[0]


def test_nb201_cached_matrix_equals_the_built_network():
    rng = random.Random(0)
    for _ in range(50):
        edges = tuple(rng.choice(OPS) for _ in range(6))
        np.testing.assert_array_equal(matrix_of_key(("nb201", edges)),
                                      layer_matrix(nb201(edges)))


def test_nb201_eyeriss_space_prices_its_baseline():
    space = load_space("nb201-eyeriss")
    backend = get_backend(space.accelerator)
    r = backend(space, [space.baseline, {f"edge{i}": "none" for i in range(6)}])
    assert r.feasible.all()
    assert r.latency_ms[0] > r.latency_ms[1] > 0


B4096 = {"dpu_pp": 8, "dpu_icp": 16, "dpu_ocp": 16, "clock_mhz": 300, "ddr_gbyte_s": 9.6}


def test_dpu_dense_and_depthwise_by_hand():
    from moo_cosearch.hardware.dpu import dpu_cost
    # 3x3 conv 32->64 on 28x28 (stride 1): 28 rows * ceil(28/8) = 112 row groups *
    # ceil(32/16) * ceil(64/16) * 9 = 8,064 cycles = 26.88 us at 300 MHz. DDR (8-bit, weights
    # every inference): 18,432 + 25,088 + 50,176 = 93,696 B at 9.6 GB/s = 9.76 us < compute.
    conv = Layer("conv", 32, 64, 28, 28, 28, 28, kernel=3)
    r = dpu_cost(stack_layers([[conv]]), B4096, per_layer=True)
    assert r.extra["layer_cycles"][0, 0] == 8064
    assert r.extra["ddr_bytes"][0] == 93696
    assert r.latency_ms[0] == pytest.approx(8064 / 300e6 * 1e3)
    # depthwise 3x3 on 64 channels: 112 * ceil(64/16) * 9 = 4,032 cycles (the ocp lanes idle:
    # 1/16 of the dense peak) = 13.44 us; DDR 576 + 2 * 50,176 B = 10.51 us: compute-bound.
    dw = Layer("dwconv", 64, 64, 28, 28, 28, 28, kernel=3, groups=64)
    r = dpu_cost(stack_layers([[dw]]), B4096, per_layer=True)
    assert r.extra["layer_cycles"][0, 0] == 4032
    assert r.latency_ms[0] == pytest.approx(max(4032 / 300e6, (576 + 2 * 50176) / 9.6e9) * 1e3)


def test_dpu_elementwise_is_memory_bound():
    from moo_cosearch.hardware.dpu import dpu_cost
    # add of two 64x28x28 tensors: ALU ceil(2*50,176 / 128) = 784 cycles = 2.61 us; DDR reads
    # both operands and writes one: 150,528 B at 9.6 GB/s = 15.68 us.
    add = Layer("add", 64, 64, 28, 28, 28, 28)
    r = dpu_cost(stack_layers([[add]]), B4096, per_layer=True)
    assert r.extra["layer_cycles"][0, 0] == 784
    assert r.latency_ms[0] == pytest.approx(150528 / 9.6e9 * 1e3)


@pytest.mark.parametrize("board", ["zcu102", "vck190"])
def test_anb_fpga_spaces_price_their_baseline(board):
    space = load_space(f"anb-mnas-{board}")
    r = get_backend(space.accelerator)(space, [space.baseline])
    assert r.feasible.all() and 0 < r.latency_ms[0] < 20
