"""Hand-computed checks of the analytical edge-accelerator model (moo_cosearch.hardware.edge)."""

from __future__ import annotations

import numpy as np
import pytest

from moo_cosearch.networks import Layer, stack_layers
from moo_cosearch.hardware.edge import (BASELINE, EDGE_PARAMS, edge_area_breakdown,
                                        edge_area_mm2, edge_cost, peak_tops, sram_pj_per_byte)

# 1x1 PE, 1 lane, 16 SIMD units; 32 KB RF and 1 MB LM are Horowitz's sample points, so the
# SRAM energies are exactly 20/8 = 2.5 pJ/B (RF) and 100/8 = 12.5 pJ/B (LM).
TINY = {"pes_x": 1, "pes_y": 1, "simd_units": 16, "compute_lanes": 1, "register_file_kb": 32,
        "local_memory_mb": 1, "io_bandwidth_gbyte_s": 10}


def cost(net, hw, **kw):
    return edge_cost(stack_layers([net]), hw, **kw)


def test_baseline_peak_tops():
    # 4*4 PEs * 4 lanes * 64 SIMD * 4 MACs = 16384 MACs/cycle; 2 ops/MAC at 0.8 GHz.
    assert float(peak_tops(BASELINE)) == pytest.approx(2 * 16384 * 0.8e9 / 1e12)
    assert float(peak_tops(BASELINE)) == pytest.approx(26.2144)
    got = peak_tops({**BASELINE, "pes_x": [1, 4, 8]})
    np.testing.assert_allclose(got, [26.2144 / 4, 26.2144, 26.2144 * 2])


def test_sram_energy_interpolation():
    assert float(sram_pj_per_byte(8 * 1024)) == pytest.approx(10 / 8)
    assert float(sram_pj_per_byte(32 * 1024)) == pytest.approx(20 / 8)
    assert float(sram_pj_per_byte(1024 * 1024)) == pytest.approx(100 / 8)
    # 16 KB sits halfway (log) between 8 and 32 KB: 10 * sqrt(2) pJ per 64 bits.
    assert float(sram_pj_per_byte(16 * 1024)) == pytest.approx(10 * 2 ** 0.5 / 8)
    # above 1 MB: extrapolated with the 32 KB -> 1 MB slope, log(100/20) / log(1024/32)
    slope = np.log(5) / np.log(32)
    assert float(sram_pj_per_byte(4 * 1024 * 1024)) == pytest.approx(100 * 4 ** slope / 8)


def test_single_conv_by_hand():
    layer = Layer("conv", in_ch=8, out_ch=16, in_h=8, in_w=8, out_h=8, out_w=8, kernel=3)
    r = cost([layer], TINY, per_layer=True)
    # cycles = ceil(64 px / 1 lane) * ceil(16 / 16) * ceil(8 / 4) * 9 taps = 64 * 1 * 2 * 9
    cycles = 1152
    assert r.extra["compute_cycles"][0] == cycles
    # W = 16*8*9 = 1152, I = 8*64 = 512, O = 16*64 = 1024; everything fits in 512 KB halves:
    # weights are resident (loaded with the model), the input is read and the output written.
    dram = 512 + 1024
    assert r.extra["dram_bytes"][0] == dram
    # compute 1152 / 0.8e9 = 1.44 us  >  memory 1536 B / 10 GB/s = 0.1536 us
    assert r.latency_ms[0] == pytest.approx(1.44e-3)
    assert r.extra["layer_bound"][0, 0] == "compute"
    macs = 64 * 16 * 8 * 9  # 73728
    assert r.extra["macs"][0] == macs
    # utilization: 73728 MACs / (1152 cycles * 16*4 MACs/cycle) = 1
    assert r.extra["utilization"][0] == pytest.approx(1.0)
    # energy (pJ): MAC 73728*0.3; RF 2 B/MAC * 2.5 pJ/B; the per-lane weight slice 16*8*9 =
    # 1152 B fits the RF, so LM bytes = I + O + W = 2688 at 12.5 pJ/B; DRAM 1536 B * 250 pJ/B.
    e_pj = 73728 * 0.3 + 2 * 73728 * 2.5 + 2688 * 12.5 + 1536 * 250.0
    assert e_pj == pytest.approx(808_358.4)
    assert r.energy_mj[0] == pytest.approx(e_pj * 1e-9)
    assert r.feasible[0] and r.reason == ("",)


def test_cycles_of_other_kinds_by_hand():
    net = [
        Layer("dwconv", 32, 32, 8, 8, 8, 8, kernel=3, groups=32),   # 64 * 2 * ceil(9/4)=3
        Layer("pool", 32, 32, 8, 8, 1, 1, kernel=8),                # 1 * 2 * ceil(64/4)=16
        Layer("add", 32, 32, 8, 8, 8, 8),                           # 64 * 2
        Layer("fc", 32, 10, 1, 1, 1, 1),                            # ceil(10/16) * ceil(32/4)
        Layer("pwconv", 32, 64, 8, 8, 8, 8),                        # 64 * 4 * ceil(32/4)=8
    ]
    r = cost(net, TINY, per_layer=True)
    np.testing.assert_array_equal(r.extra["layer_cycles"][0], [384, 32, 128, 8, 2048])
    # 2x1 PEs with 2 lanes = 4 lanes: dwconv ceil(64/4)=16 * 2 * 3 = 96, fc unchanged 8*1 ...
    r4 = cost(net, {**TINY, "pes_x": 2, "compute_lanes": 2}, per_layer=True)
    np.testing.assert_array_equal(r4.extra["layer_cycles"][0], [96, 32, 32, 8, 512])


def test_weights_reread_from_local_memory_when_rf_too_small():
    # pwconv 1024->64 at 4x4: MACs = 16*64*1024 = 1048576, W = 65536, I = 16384, O = 1024,
    # weights resident (65536 <= 512 KB) -> DRAM = I + O = 17408 B, 16 spatial steps. The
    # per-lane weight slice is 16*1024 = 16384 B.
    layer = Layer("pwconv", 1024, 64, 4, 4, 4, 4)
    macs, dram = 1048576, 16384 + 1024
    # 8 KB RF (1.25 pJ/B): slice does not fit -> LM weight reads = 65536 * 16 spatial steps.
    r8 = cost([layer], {**TINY, "register_file_kb": 8})
    lm8 = 16384 + 1024 + 65536 * 16
    e8 = macs * 0.3 + 2 * macs * 10 / 8 + lm8 * 12.5 + dram * 250.0
    assert r8.feasible[0] and r8.energy_mj[0] == pytest.approx(e8 * 1e-9)
    # 32 KB RF (2.5 pJ/B): the slice fits -> weights read from LM once.
    r32 = cost([layer], TINY)
    e32 = macs * 0.3 + 2 * macs * 20 / 8 + (16384 + 1024 + 65536) * 12.5 + dram * 250.0
    assert r32.energy_mj[0] == pytest.approx(e32 * 1e-9)


def test_memory_bound_fc_by_hand():
    layer = Layer("fc", in_ch=1024, out_ch=1000, in_h=1, in_w=1, out_h=1, out_w=1)
    hw = {**TINY, "local_memory_mb": 0.5, "io_bandwidth_gbyte_s": 5}
    r = cost([layer], hw, per_layer=True)
    # compute: ceil(1000 / (1*1*16)) * ceil(1024/4) = 63 * 256 = 16128 cycles = 20.16 us
    assert r.extra["compute_cycles"][0] == 16128
    # W = 1024*1000 + 1000 (bias) = 1025000 > 1 PE * 256 KB weight half -> not resident,
    # streamed from DRAM; I = 1024, O = 1000 (the network's input and output)
    dram = 1025000 + 1024 + 1000
    assert r.extra["dram_bytes"][0] == dram
    assert r.latency_ms[0] == pytest.approx(1027024 / 5e9 * 1e3)  # 0.2054048 ms
    assert r.latency_ms[0] == pytest.approx(0.2054048)
    assert r.extra["layer_bound"][0, 0] == "memory"
    # utilization = 1024000 MACs / (0.2054048 ms * 0.8 GHz = 164323.84 cycles * 64)
    assert r.extra["utilization"][0] == pytest.approx(1024000 / (164323.84 * 64))
    # On the baseline (16 PEs * 1 MB weight halves) the same weights are resident: only the
    # 2024 B of input and output cross DRAM: max(256 cycles = 0.32 us, 2024 B / 5 GB/s).
    rb = cost([layer], {**BASELINE, "io_bandwidth_gbyte_s": 5}, per_layer=True)
    assert rb.extra["dram_bytes"][0] == 2024
    assert rb.latency_ms[0] == pytest.approx(2024 / 5e9 * 1e3)


def test_activation_residency_between_layers():
    # Two pwconvs 64->64 at 32x32 on one PE: I = O = 65536 B per layer, W = 4096 each.
    a = Layer("pwconv", 64, 64, 32, 32, 32, 32)
    # LM 1 MB: (I+O) = 128 KB fits the 512 KB activation half -> the intermediate tensor stays
    # on chip: DRAM = network input 65536 + network output 65536 (weights resident).
    r = cost([a, a], TINY, per_layer=True)
    np.testing.assert_array_equal(r.extra["layer_dram_bytes"][0], [65536, 65536])
    # A third layer 64->1024 whose activations (65536 + 1048576 B) do not fit: the layer before
    # it writes its output to DRAM, the big layer reads it and writes its own output.
    # Weights: 4096 + 4096 + 65536 = 73728 B <= 512 KB -> still resident.
    big = Layer("pwconv", 64, 1024, 32, 32, 32, 32)
    r3 = cost([a, a, big], TINY, per_layer=True)
    np.testing.assert_array_equal(r3.extra["layer_dram_bytes"][0],
                                  [65536, 65536, 65536 + 1048576])


def test_weight_restreaming_reads_input_per_tile():
    # pwconv 768->768 at 14x14: W = 589824 B; LM 0.5 MB -> 256 KB for weights ->
    # n_w = ceil(589824 / 262144) = ceil(2.25) = 3. I = O = 768*196 = 150528; (I+O)/1 PE =
    # 301056 > 262144, so the input is re-streamed for each of the 3 weight tiles.
    layer = Layer("pwconv", 768, 768, 14, 14, 14, 14)
    hw = {**TINY, "local_memory_mb": 0.5}
    r = cost([layer], hw)
    assert r.feasible[0]
    assert r.extra["dram_bytes"][0] == 589824 + 3 * 150528 + 150528  # 1191936
    # With 2 PEs the activations per PE (150528) fit in 256 KB: input read once.
    r2 = cost([layer], {**hw, "pes_x": 2})
    assert r2.extra["dram_bytes"][0] == 589824 + 150528 + 150528  # 890880


def test_register_file_infeasible():
    ok = Layer("pwconv", 16, 16, 14, 14, 14, 14)
    bad = Layer("conv", 16, 128, 14, 14, 14, 14, kernel=7)
    hw = {**BASELINE, "simd_units": 128, "register_file_kb": 8}
    r = cost([ok, bad], hw)
    assert not r.feasible[0]
    # weights 128 SIMD units * 49 taps * 4 input channels = 25088 B, input window 4 * 49 = 196 B,
    # accumulators 128 * 4 = 512 B: 25796 B > 8 KB
    assert "register file" in r.reason[0]
    assert "layer 1 (conv 7x7" in r.reason[0]
    assert "25796 B needed (25088 B weights" in r.reason[0]
    assert "local memory" not in r.reason[0]
    # 32 KB RF is enough (25796 <= 32768).
    r32 = cost([ok, bad], {**hw, "register_file_kb": 32})
    assert r32.feasible[0] and r32.reason == ("",)
    # Only SIMD units with an output channel need weights: a 7x7 stem with 32 output channels
    # needs 32 * 49 * 4 + 196 + 32 * 4 = 6596 B, which fits 8 KB.
    stem = Layer("conv", 3, 32, 224, 224, 112, 112, kernel=7, stride=2)
    assert cost([stem], hw).feasible[0]


def test_dwconv_register_file_need():
    # dwconv 7x7 on 128 SIMD units: weights 128 * 49 = 6272 B (one per tap, no factor 4) +
    # input window 128 * 49 = 6272 B + accumulators 512 B = 13056 B: over 8 KB, within 16 KB.
    dw = Layer("dwconv", 576, 576, 14, 14, 14, 14, kernel=7, groups=576)
    hw = {**BASELINE, "simd_units": 128, "register_file_kb": 8}
    r = cost([dw], hw)
    assert not r.feasible[0] and "register file 8 KB" in r.reason[0] and "13056 B" in r.reason[0]
    assert cost([dw], {**hw, "register_file_kb": 16}).feasible[0]
    # 5x5 needs 2 * 128 * 25 + 512 = 6912 B: fits 8 KB.
    dw5 = Layer("dwconv", 576, 576, 14, 14, 14, 14, kernel=5, groups=576)
    assert cost([dw5], hw).feasible[0]


def test_local_memory_infeasible():
    layer = Layer("conv", 512, 512, 28, 28, 28, 28, kernel=3)
    hw = {**BASELINE, "simd_units": 128, "local_memory_mb": 0.5}
    r = cost([layer], hw)
    # working set = 128*512*9 = 589824 (weights) + 3*28*512 = 43008 (input rows)
    #               + 28*128 = 3584 (output row) = 636416 B > 524288 B; RF need 4608 B fits.
    assert not r.feasible[0]
    assert "local memory 0.5 MB" in r.reason[0]
    assert "636416 B" in r.reason[0]
    assert "register file" not in r.reason[0]
    assert cost([layer], {**hw, "local_memory_mb": 1}).feasible[0]


def test_local_memory_working_set_of_add():
    # add 32 ch 8x8 on 16 SIMD units: two operand rows 2*8*16 = 256 B + output row 8*16 = 128 B
    layer = Layer("add", 32, 32, 8, 8, 8, 8)
    r = cost([layer], {**TINY, "local_memory_mb": 300 / 2 ** 20})
    assert not r.feasible[0]
    assert "384 B minimum working set (0 B weights + 256 B input rows + 128 B output row)" \
        in r.reason[0]
    assert cost([layer], {**TINY, "local_memory_mb": 384 / 2 ** 20}).feasible[0]


def _nets():
    return [
        [Layer("conv", 3, 16, 32, 32, 16, 16, kernel=3, stride=2)],
        [Layer("pwconv", 16, 96, 16, 16, 16, 16),
         Layer("dwconv", 96, 96, 16, 16, 8, 8, kernel=5, stride=2, groups=96),
         Layer("pwconv", 96, 24, 8, 8, 8, 8)],
        [Layer("conv", 3, 32, 64, 64, 32, 32, kernel=3, stride=2),
         Layer("dwconv", 32, 32, 32, 32, 32, 32, kernel=7, groups=32),
         Layer("add", 32, 32, 32, 32, 32, 32),
         Layer("pool", 32, 32, 32, 32, 1, 1, kernel=32),
         Layer("fc", 32, 1000, 1, 1, 1, 1)],
        [Layer("conv", 64, 256, 28, 28, 28, 28, kernel=7),        # RF-infeasible below
         Layer("mul", 256, 256, 28, 28, 28, 28)],
    ]


def test_batch_matches_single_designs():
    nets = _nets()
    hws = [TINY, BASELINE,
           {**BASELINE, "pes_x": 8, "pes_y": 2, "local_memory_mb": 0.5, "io_bandwidth_gbyte_s": 25},
           {**BASELINE, "simd_units": 128, "register_file_kb": 8}]
    batch_hw = {k: [h[k] for h in hws] for k in EDGE_PARAMS}
    rb = edge_cost(stack_layers(nets), batch_hw, per_layer=True)
    assert rb.extra["layer_latency_ms"].shape == (4, 5)
    assert list(rb.feasible) == [True, True, True, False]
    for i, (net, hw) in enumerate(zip(nets, hws)):
        r1 = cost(net, hw, per_layer=True)
        for name in ("latency_ms", "energy_mj", "area_mm2", "feasible"):
            np.testing.assert_allclose(getattr(rb, name)[i], getattr(r1, name)[0], rtol=1e-12)
        assert rb.reason[i] == r1.reason[0]
        for key in ("peak_tops", "utilization", "dram_bytes", "macs", "compute_cycles"):
            np.testing.assert_allclose(rb.extra[key][i], r1.extra[key][0], rtol=1e-12)
        L = len(net)
        np.testing.assert_allclose(rb.extra["layer_latency_ms"][i, :L],
                                   r1.extra["layer_latency_ms"][0], rtol=1e-12)
        assert list(rb.extra["layer_bound"][i, :L]) == list(r1.extra["layer_bound"][0])
        # padding rows cost nothing
        assert np.all(rb.extra["layer_latency_ms"][i, L:] == 0)
        assert np.all(rb.extra["layer_bound"][i, L:] == "")
    assert rb.latency_ms.dtype == np.float64 and rb.energy_mj.dtype == np.float64
    assert len(rb) == 4 and rb.row(3)["reason"].startswith("layer 0 (conv 7x7")


def test_more_pes_never_more_cycles():
    net = [layer for net in _nets()[:3] for layer in net]
    pes = [1, 2, 4, 6, 8]
    hw = {**BASELINE, "pes_x": pes, "pes_y": 1}
    r = edge_cost(stack_layers([net] * len(pes)), hw, per_layer=True)
    assert np.all(np.diff(r.extra["layer_cycles"], axis=0) <= 0)
    assert np.all(np.diff(r.extra["compute_cycles"]) <= 0)
    assert r.extra["compute_cycles"][-1] < r.extra["compute_cycles"][0]


@pytest.mark.parametrize("name, values", [("register_file_kb", [8, 16, 32, 64, 128]),
                                          ("local_memory_mb", [0.5, 1, 2, 3, 4]),
                                          ("simd_units", [16, 32, 64, 128])])
def test_area_increases(name, values):
    area = edge_area_mm2({**BASELINE, name: values})
    assert area.shape == (len(values),)
    assert np.all(np.diff(area) > 0)


def test_baseline_area_by_hand():
    bit_um2 = 0.346 / 0.7
    mac = 16384 * (282 + 137) * 1e-6                       # 6.864896 mm2
    rf = 64 * 32 * 1024 * 8 * bit_um2 * 1e-6                 # 8.2928 mm2
    lm = 16 * 2 * 1024 * 1024 * 8 * bit_um2 * 1e-6           # 132.685 mm2
    parts = edge_area_breakdown(BASELINE)
    assert float(parts["mac_arrays"]) == pytest.approx(6.864896)
    assert float(parts["register_files"]) == pytest.approx(rf)
    assert float(parts["local_memories"]) == pytest.approx(lm)
    assert float(edge_area_mm2(BASELINE)) == pytest.approx(mac + rf + lm)
    r = cost([Layer("add", 8, 8, 4, 4, 4, 4)], BASELINE)
    assert r.area_mm2[0] == pytest.approx(mac + rf + lm)


@pytest.mark.parametrize("name", EDGE_PARAMS)
def test_missing_or_bad_hw_param(name):
    batch = stack_layers([[Layer("add", 8, 8, 4, 4, 4, 4)]])
    missing = {k: v for k, v in BASELINE.items() if k != name}
    with pytest.raises(ValueError, match=name):
        edge_cost(batch, missing)
    with pytest.raises(ValueError, match=name):
        edge_cost(batch, {**BASELINE, name: 0})
    with pytest.raises(ValueError, match=name):
        edge_cost(batch, {**BASELINE, name: [-1.0]})


def test_wrong_length_hw_array():
    batch = stack_layers([[Layer("add", 8, 8, 4, 4, 4, 4)]] * 2)
    with pytest.raises(ValueError, match="2 entries"):
        edge_cost(batch, {**BASELINE, "pes_x": [1, 2, 4]})
