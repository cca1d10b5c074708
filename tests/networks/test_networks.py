"""Network builders checked against published MAC / parameter counts and hand computations.

References:
    * MobileNetV2-1.0 (Sandler et al. 2018, Table 4): 300 M MACs, 3.4 M params; torchvision
      ``mobilenet_v2`` lists 3,504,872 params (BN included) and 0.30 GFLOPS.
    * EfficientNet-B0 (Tan & Le 2019, Table 2): 0.39 B FLOPs (multiply-adds), 5.3 M params;
      torchvision ``efficientnet_b0`` lists 5,288,548 params (BN included).
    * NAS-Bench-201 (Dong & Yang 2020, CIFAR-10): FLOPs 7.78 M .. 220.11 M, params
      0.07 M .. 1.53 M (BN included).
"""

from __future__ import annotations

import numpy as np
import pytest

from moo_cosearch.networks import stack_layers
from moo_cosearch.networks import (
    Layer, build_network, efficientnet_b0, list_families, mobilenetv2, nas_key, summarize,
)
from moo_cosearch.networks.mbconv import DEFAULT_EFFNET_EXPANSIONS, DEFAULT_EFFNET_KERNELS
from moo_cosearch.networks.nb201 import OPS as NB201_OPS
from moo_cosearch.networks.nb201 import nb201

MBV2_K = [3] * 17
MBV2_E = [1] + [6] * 16
CONVS = ("conv", "pwconv", "dwconv")


def _bn_params(layers) -> int:
    """Weights + biases of the BatchNorm after every conv (folded in our count)."""
    return sum(2 * layer.out_ch for layer in layers if layer.kind in CONVS)


def _layer(layers, name: str) -> Layer:
    (match,) = [layer for layer in layers if layer.name == name]
    return match


# ---------------------------------------------------------------- published totals


def test_mobilenetv2_matches_published_counts():
    layers = mobilenetv2(MBV2_K, MBV2_E)
    macs, params = summarize(layers)
    assert abs(macs - 300e6) / 300e6 < 0.03
    assert abs(params - 3.4e6) / 3.4e6 < 0.05
    # torchvision's exact count adds one BatchNorm (weight + bias) per conv.
    assert params + _bn_params(layers) == 3_504_872


def test_mobilenetv2_structure():
    layers = mobilenetv2(MBV2_K, MBV2_E)
    kinds = [layer.kind for layer in layers]
    assert kinds.count("dwconv") == 17
    assert kinds.count("add") == 10  # residuals: 1 + 2 + 3 + 2 + 2 in stages 2..6
    assert kinds.count("pwconv") == 16 + 17 + 1  # expand (not b0) + project + head
    assert len(layers) == 1 + 17 + 16 + 17 + 10 + 3
    assert not any(layer.name == "b0.expand" for layer in layers)
    head, pool, fc = layers[-3:]
    assert (head.kind, head.in_ch, head.out_ch) == ("pwconv", 320, 1280)
    assert (head.out_h, head.out_w) == (7, 7)
    assert (pool.kind, pool.in_h, pool.in_w, pool.kernel, pool.out_h) == ("pool", 7, 7, 7, 1)
    assert (fc.kind, fc.in_ch, fc.out_ch) == ("fc", 1280, 1000)


def test_mobilenetv2_layers_chain():
    """Outside residual adds, each layer consumes exactly what the previous one produced."""
    chain = [layer for layer in mobilenetv2([5] * 17, [1] + [4] * 16, resolution=192)
             if layer.kind != "add"]
    first = chain[0]
    assert (first.in_ch, first.in_h, first.in_w) == (3, 192, 192)
    for prev, cur in zip(chain, chain[1:]):
        assert (cur.in_ch, cur.in_h, cur.in_w) == (prev.out_ch, prev.out_h, prev.out_w), cur.name


def test_efficientnet_b0_matches_published_counts():
    layers = efficientnet_b0(DEFAULT_EFFNET_KERNELS, DEFAULT_EFFNET_EXPANSIONS)
    macs, params = summarize(layers)
    assert abs(macs - 390e6) / 390e6 < 0.05
    assert abs(params - 5.3e6) / 5.3e6 < 0.05
    assert params + _bn_params(layers) == 5_288_548  # torchvision efficientnet_b0
    assert DEFAULT_EFFNET_KERNELS == (3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3)


def test_efficientnet_b0_squeeze_excitation():
    layers = efficientnet_b0(DEFAULT_EFFNET_KERNELS, DEFAULT_EFFNET_EXPANSIONS)
    # Block 1: 16 -> 24, expansion 6 (96 channels), stride 2 at 112 -> 56; SE to 16 // 4.
    pool, red, exp, mul = (_layer(layers, f"b1.se.{n}")
                           for n in ("pool", "reduce", "expand", "mul"))
    assert (pool.in_ch, pool.in_h, pool.kernel, pool.out_h) == (96, 56, 56, 1)
    assert (red.kind, red.in_ch, red.out_ch, red.params) == ("fc", 96, 4, 96 * 4 + 4)
    assert (exp.kind, exp.in_ch, exp.out_ch, exp.params) == ("fc", 4, 96, 4 * 96 + 96)
    assert (mul.out_ch, mul.out_h, mul.out_w) == (96, 56, 56)
    assert sum(layer.kind == "mul" for layer in layers) == 16
    assert sum(layer.kind == "add" for layer in layers) == 9
    assert layers[-3].in_h == 7


def test_nb201_extremes_match_published_range():
    lo_macs, lo_params = summarize(nb201(["none"] * 6))
    hi_macs, hi_params = summarize(nb201(["nor_conv_3x3"] * 6))
    assert abs(lo_macs - 7.78e6) / 7.78e6 < 0.02
    assert abs(hi_macs - 220.11e6) / 220.11e6 < 0.02
    assert abs(lo_params - 0.07e6) / 0.07e6 < 0.05
    assert abs(hi_params - 1.53e6) / 1.53e6 < 0.05
    for ops in ([op] * 6 for op in NB201_OPS):
        macs, params = summarize(nb201(ops))
        assert lo_macs <= macs <= hi_macs and lo_params <= params <= hi_params


# ---------------------------------------------------------------- hand computations


def test_nb201_single_conv1x1_edge():
    edges = ["nor_conv_1x1"] + ["none"] * 5
    layers = nb201(edges)
    cell = [layer for layer in layers if layer.name.startswith("s0.c0.")]
    assert len(cell) == 1 and cell[0].kind == "pwconv"
    assert cell[0].macs == 16 * 16 * 32 * 32 and cell[0].params == 16 * 16
    base_macs, base_params = summarize(nb201(["none"] * 6))
    macs, params = summarize(layers)
    assert macs - base_macs == 5 * (16 * 16 * 32 * 32 + 32 * 32 * 16 * 16 + 64 * 64 * 8 * 8)
    assert params - base_params == 5 * (16 * 16 + 32 * 32 + 64 * 64)


def test_nb201_cell_adds_and_no_pruning():
    # All convs: node2 has 2 inputs (1 add), node3 has 3 (2 adds).
    cell = [ly for ly in nb201(["nor_conv_3x3"] * 6) if ly.name.startswith("s1.c2.")]
    assert [ly.kind for ly in cell].count("conv") == 6
    assert [ly.kind for ly in cell].count("add") == 3
    assert all((ly.in_ch, ly.out_h) == (32, 16) for ly in cell)
    # Skip connections make no layers but still need sums.
    cell = [ly for ly in nb201(["skip_connect"] * 6) if ly.name.startswith("s0.c0.")]
    assert [ly.kind for ly in cell] == ["add"] * 3
    # edge2 (node1 -> node2) feeds node2, which feeds nothing (edge5 none): kept anyway.
    edges = ["skip_connect", "none", "nor_conv_3x3", "avg_pool_3x3", "none", "none"]
    cell = [ly for ly in nb201(edges) if ly.name.startswith("s2.c4.")]
    assert [(ly.kind, ly.kernel) for ly in cell] == [("conv", 3), ("pool", 3)]
    assert cell[1].vector_ops == 64 * 8 * 8 * 9


def test_nb201_reduction_block():
    layers = nb201(["none"] * 6)
    names = [ly.name for ly in layers]
    assert names == ["stem", "r1.conv_a", "r1.conv_b", "r1.down.pool", "r1.down.conv", "r1.add",
                     "r2.conv_a", "r2.conv_b", "r2.down.pool", "r2.down.conv", "r2.add",
                     "head.pool", "head.fc"]
    reduction = ["conv", "conv", "pool", "pwconv", "add"]
    assert [ly.kind for ly in layers] == ["conv"] + reduction * 2 + ["pool", "fc"]
    conv_a = _layer(layers, "r2.conv_a")
    assert (conv_a.in_ch, conv_a.out_ch, conv_a.stride) == (32, 64, 2)
    assert (conv_a.in_h, conv_a.out_h) == (16, 8)
    assert _layer(layers, "r1.down.conv").macs == 16 * 32 * 16 * 16
    assert (layers[-2].kernel, layers[-2].in_ch, layers[-1].out_ch) == (8, 64, 10)


def test_kernel7_adds_exact_dwconv_macs():
    base, _ = summarize(mobilenetv2(MBV2_K, MBV2_E))
    k = list(MBV2_K)
    k[3] = 7  # block 3: 24 -> 32, mid 144, stride 2, 56 -> 28
    macs, _ = summarize(mobilenetv2(k, MBV2_E))
    assert macs - base == 144 * 28 * 28 * (49 - 9)
    # EfficientNet block 3 (24 -> 40, mid 144, stride 2, 56 -> 28): kernel 5 -> 7.
    base, _ = summarize(efficientnet_b0(DEFAULT_EFFNET_KERNELS, DEFAULT_EFFNET_EXPANSIONS))
    k = list(DEFAULT_EFFNET_KERNELS)
    k[3] = 7
    macs, _ = summarize(efficientnet_b0(k, DEFAULT_EFFNET_EXPANSIONS))
    assert macs - base == 144 * 28 * 28 * (49 - 25)


def test_expansion_change_is_hand_computed():
    base, base_params = summarize(mobilenetv2(MBV2_K, MBV2_E))
    e = list(MBV2_E)
    e[3] = 3  # block 3 (24 -> 32, stride 2, 56 -> 28): mid 144 -> 72
    macs, params = summarize(mobilenetv2(MBV2_K, e))
    expand, dw, project = 24 * 56 * 56, 28 * 28 * 9, 32 * 28 * 28  # per mid channel
    assert base - macs == (144 - 72) * (expand + dw + project)
    assert base_params - params == (144 - 72) * (24 + 9 + 32)
    # Expansion 1 drops the expand conv entirely.
    e[3] = 1
    layers = mobilenetv2(MBV2_K, e)
    assert not any(ly.name == "b3.expand" for ly in layers)
    assert _layer(layers, "b3.dw").in_ch == 24


def test_shapes_agree_with_torch():
    torch = pytest.importorskip("torch")
    nets = [mobilenetv2([3, 5, 7] * 5 + [3, 5], [1] + [3, 6] * 8, resolution=200),
            efficientnet_b0(DEFAULT_EFFNET_KERNELS, DEFAULT_EFFNET_EXPANSIONS),
            nb201(["nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "none",
                   "nor_conv_3x3"])]
    for layer in (ly for net in nets for ly in net if ly.kind in CONVS):
        conv = torch.nn.Conv2d(layer.in_ch, layer.out_ch, layer.kernel, layer.stride,
                               padding=layer.kernel // 2, groups=layer.groups, bias=False,
                               device="meta")
        out = conv(torch.empty(1, layer.in_ch, layer.in_h, layer.in_w, device="meta"))
        assert tuple(out.shape) == (1, layer.out_ch, layer.out_h, layer.out_w), layer.name
        assert sum(p.numel() for p in conv.parameters()) == layer.params, layer.name


# ---------------------------------------------------------------- build_network, caching


def test_build_network_defaults_and_extra_keys():
    assert set(list_families()) == {"mobilenetv2", "efficientnet-b0", "nb201", "edd-mbconv",
                                    "anb-mnas", "fnas-cifar10", "resnet9-cifar10", "resnet9-stl10",
                                    "unet-nuclei"}
    net = build_network("mobilenetv2", {"pes_x": 16, "b3_kernel": 5})
    k = list(MBV2_K)
    k[3] = 5
    assert list(net) == mobilenetv2(k, MBV2_E)
    assert list(build_network("efficientnet-b0", {})) == efficientnet_b0(
        DEFAULT_EFFNET_KERNELS, DEFAULT_EFFNET_EXPANSIONS)
    edges = {f"edge{i}": op for i, op in enumerate(["nor_conv_3x3"] * 6)}
    assert list(build_network("nb201", {**edges, "buffer_kb": 64})) == nb201(["nor_conv_3x3"] * 6)


def test_build_network_is_cached_and_immutable():
    params = {"b2_kernel": 7, "b2_expansion": 4, "pes_x": 8}
    a = build_network("mobilenetv2", params)
    b = build_network("mobilenetv2", {"b2_kernel": np.int64(7), "b2_expansion": 4.0, "pes_y": 4})
    assert a is b and isinstance(a, tuple)
    assert nas_key("mobilenetv2", params) == nas_key("mobilenetv2", {"b2_kernel": 7,
                                                                      "b2_expansion": 4})
    assert nas_key("mobilenetv2", params) != nas_key("efficientnet-b0", params)
    assert hash(nas_key("nb201", {f"edge{i}": "none" for i in range(6)}))


# ---------------------------------------------------------------- errors


def test_unknown_op_is_rejected():
    with pytest.raises(ValueError, match=r"nor_conv_5x5.*") as err:
        nb201(["nor_conv_5x5"] + ["none"] * 5)
    assert "avg_pool_3x3" in str(err.value)
    with pytest.raises(ValueError, match="conv3x3"):
        build_network("nb201", {**{f"edge{i}": "none" for i in range(6)}, "edge4": "conv3x3"})


def test_unknown_family_is_rejected():
    with pytest.raises(ValueError, match="resnet50") as err:
        build_network("resnet50", {})
    assert "efficientnet-b0" in str(err.value)


def test_missing_nb201_edge_is_rejected():
    with pytest.raises(ValueError, match="edge5"):
        build_network("nb201", {f"edge{i}": "none" for i in range(5)})


def test_wrong_kernel_count_is_rejected():
    with pytest.raises(ValueError, match=r"17 kernel sizes.*got 16"):
        mobilenetv2([3] * 16, MBV2_E)
    with pytest.raises(ValueError, match=r"16 expansion ratios.*got 17"):
        efficientnet_b0(DEFAULT_EFFNET_KERNELS, [1] + [6] * 16)


def test_bad_kernel_is_rejected():
    with pytest.raises(ValueError, match=r"odd positive.*kernels\[4\]=4"):
        mobilenetv2([3] * 4 + [4] + [3] * 12, MBV2_E)
    with pytest.raises(ValueError, match="b1_kernel.*3.5"):
        build_network("mobilenetv2", {"b1_kernel": 3.5})


def test_first_expansion_must_be_one():
    with pytest.raises(ValueError, match=r"expansions\[0\] must be 1.*got 6"):
        mobilenetv2(MBV2_K, [6] * 17)
    with pytest.raises(ValueError, match=r"expansions\[0\] must be 1.*got 3"):
        build_network("efficientnet-b0", {"b0_expansion": 3})


# ---------------------------------------------------------------- stack_layers


def test_stack_layers_round_trip():
    nets = [build_network("nb201", {f"edge{i}": "nor_conv_3x3" for i in range(6)}),
            build_network("efficientnet-b0", {})]
    assert len(nets[0]) != len(nets[1])
    batch = stack_layers(nets)
    width = max(len(n) for n in nets)
    assert batch.shape == (2, width)
    for row, net in enumerate(nets):
        assert batch.valid[row].sum() == len(net)
        assert not batch.valid[row, len(net):].any()
        assert batch.valid[row, :len(net)].all()
        assert (batch.macs[row, len(net):] == 0).all()
        macs, params = summarize(net)
        assert batch.macs[row].sum() == macs
        assert batch.params[row].sum() == params


@pytest.mark.parametrize("space_name", ["nahas-mbv2-edge", "nahas-effnetb0-edge"])
def test_block_cached_matrix_equals_the_built_network(space_name):
    from moo_cosearch import load_space
    from moo_cosearch.networks import layer_matrix
    from moo_cosearch.networks import network_matrix

    space = load_space(space_name)
    for d in space.sample(40, seed=11):
        assert np.array_equal(network_matrix(space.network, d),
                              layer_matrix(build_network(space.network, d)))
    with pytest.raises(ValueError):
        network_matrix("mobilenetv2", {"b0_expansion": 6})
    with pytest.raises(ValueError):
        network_matrix("mobilenetv2", {"b3_kernel": 4})
