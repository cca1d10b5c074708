"""torch modules of every network family (moo_cosearch.models) against the layer lists the cost
models use and against published figures.

Like with like: :func:`count_macs` counts convolution / linear MACs through forward hooks and
:func:`count_weights` counts conv kernels + linear weights and biases, the same rules as
``Layer.macs`` / ``Layer.params`` (pooling, sums, products, BN and activations are no MACs;
BN parameters and conv biases are no weights). Published figures compare with what their
source counts (stated at each test).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from moo_cosearch.models import (WORKLOADS, build_model, count_macs, count_weights,  # noqa: E402
                                 list_model_families, model_layers)
from moo_cosearch.networks import build_network, summarize  # noqa: E402
from moo_cosearch.networks.nb201 import EDGE_PARAMS, arch_ops  # noqa: E402
from moo_cosearch.space import load_space  # noqa: E402

#: (space, tasks, input side used for the sampled designs: None = the family's own).
_SPACES = [("nb201-edge", (None,), None), ("nahas-mbv2-edge", (None,), 96),
           ("nahas-effnetb0-edge", (None,), 100), ("edd-mbconv-fpga", (None,), 64),
           ("fnas-cifar10-multifpga", (None,), None), ("nasaic-w1", (0, 1), 64),
           ("nasaic-w2", (0, 1), None), ("nasaic-w3", (0, 1), None)]


def _all_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _check_against_layers(space, design, task, num_classes, resolution) -> None:
    """Forward shape, MACs and weights of the module equal to its layer list's."""
    model = build_model(space, design, num_classes, resolution, task=task)
    layers = model_layers(space, design, num_classes, resolution, task=task)
    res = layers[0].in_h
    macs, weights = summarize(layers)
    classes = layers[-1].out_ch
    with torch.no_grad():
        y = model.eval()(torch.randn(2, 3, res, res))
    segmentation = layers[-1].kind == "pwconv"                  # U-Net: per-pixel logits
    assert tuple(y.shape) == ((2, classes, res, res) if segmentation else (2, classes))
    assert count_macs(model, res) == macs
    assert count_weights(model) == weights


@pytest.mark.parametrize("name,tasks,res", [
    pytest.param(*s, marks=pytest.mark.slow) if s[0] in ("nasaic-w1", "nasaic-w2") else s
    for s in _SPACES])  # the two-task NASAIC pairs take over a second each
def test_baseline_and_sampled_designs_match_their_layer_lists(name, tasks, res):
    space = load_space(name)
    for task in tasks:
        _check_against_layers(space, space.baseline, task, None, None)
        for design in space.sample(2, seed=7):
            _check_against_layers(space, design, task, 7, res)


@pytest.mark.parametrize("name,tasks,_res", _SPACES)
def test_default_sizes_give_the_cost_models_layer_list(name, tasks, _res):
    """With num_classes / resolution left at None, model_layers is exactly the list that
    networks.build_network gives the cost models (family defaults agree)."""
    space = load_space(name)
    design = space.sample(1, seed=3)[0]
    for task in tasks:
        if task is None:
            family, params = space.network, design
        else:
            family = WORKLOADS[space.network][task]
            params = {k[3:]: v for k, v in design.items() if k.startswith(f"t{task}_")}
        assert tuple(model_layers(space, design, task=task)) == build_network(family, params)


def test_workloads_are_one_table():
    from moo_cosearch.hardware.hetero import WORKLOADS as HETERO_WORKLOADS
    from moo_cosearch.networks.nasaic import WORKLOADS as NETWORK_WORKLOADS
    assert WORKLOADS is NETWORK_WORKLOADS is HETERO_WORKLOADS


def test_every_registered_family_is_buildable():
    from moo_cosearch.networks import list_families
    assert set(list_model_families()) == set(list_families())


def _nb201(arch: str) -> dict[str, str]:
    return dict(zip(EDGE_PARAMS, arch_ops(arch)))


# NAS-Bench-201 / NATS-Bench published costs (the benchmark API's get_cost_info, quoted in
# D-X-Y/NATS-Bench issues #24 and #36; #18 quotes the same arch-1 figures rounded). Their
# counter (xautodl/utils/flop_benchmark.py) sums Conv2d and Linear MACs plus one FLOP per
# bias output, in units of 1e6; params are all parameters (BN included) / 1e6.
_NB201_PUBLISHED = [
    # arch index 0 on cifar10-valid / cifar100 / ImageNet16-120 (issue #24): FLOPs only
    ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
     "skip_connect~2|", 10, 32, 15.64737, None),
    ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
     "skip_connect~2|", 100, 32, 15.65322, None),
    ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
     "skip_connect~2|", 120, 16, 3.91948, None),
    # issue #36, cifar10, hp=12
    ("|skip_connect~0|+|none~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_3x3~1|"
     "nor_conv_3x3~2|", 10, 32, 113.95137, 0.802426),
]


@pytest.mark.parametrize("arch,classes,res,mflops,mparams", _NB201_PUBLISHED)
def test_nb201_matches_the_benchmarks_published_flops_and_params(arch, classes, res, mflops,
                                                                 mparams):
    model = build_model("nb201", _nb201(arch), num_classes=classes, resolution=res)
    flops = count_macs(model, res) + classes           # + the classifier's bias outputs
    assert flops / 1e6 == pytest.approx(mflops, abs=5e-6)
    if mparams is not None:
        assert _all_params(model) / 1e6 == pytest.approx(mparams, abs=5e-7)


def test_mobilenetv2_stock_matches_published_figures():
    """Stock MobileNetV2-1.0 at 224x224 / 1000 classes (the NAHAS space's [baseline]):
    Sandler et al. 2018, Table 4: 300M multiply-adds, 3.4M parameters; torchvision's
    MobileNet_V2_Weights: num_params 3,504,872 (all parameters, BN included)."""
    space = load_space("nahas-mbv2-edge")
    model = build_model(space, space.baseline)
    assert _all_params(model) == 3_504_872
    assert 295e6 <= count_macs(model, 224) < 305e6                 # "300M" to 2 digits
    assert count_weights(model) == pytest.approx(3.4e6, rel=0.03)  # BN folded: 3.47M


def test_efficientnet_b0_stock_matches_published_figures():
    """Stock EfficientNet-B0 at 224x224 / 1000 classes: Tan & Le 2019, Table 2: 5.3M
    parameters, 0.39B FLOPs (multiply-adds); torchvision's EfficientNet_B0_Weights:
    num_params 5,288,548 (all parameters, BN included)."""
    space = load_space("nahas-effnetb0-edge")
    model = build_model(space, space.baseline)
    assert _all_params(model) == 5_288_548
    assert 0.385e9 <= count_macs(model, 224) < 0.395e9              # "0.39B" to 2 digits
    assert count_weights(model) == pytest.approx(5.3e6, rel=0.02)  # BN folded: 5.25M


def test_count_macs_and_weights_by_hand():
    """Independent hand counts: conv 3->8 3x3 at 8x8 (8*8*8*3*9 = 13,824 MACs, 216 weights;
    its bias is no weight), depthwise 8->8 3x3 stride 2 at 8x8 -> 4x4 (4*4*8*9 = 1,152, 72),
    transposed conv 8->4 2x2 stride 2 from 4x4 (4*4*8*4*4 = 2,048, 128), linear 4*8*8 -> 5
    (256*5 = 1,280 MACs, 1,285 weights with bias); BN, ReLU, pooling add nothing."""
    from torch import nn
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, 2, 1, groups=8, bias=False),
                          nn.ConvTranspose2d(8, 4, 2, 2), nn.AvgPool2d(1),
                          nn.Flatten(), nn.Linear(256, 5))
    model.train()
    assert count_macs(model, 8) == 13_824 + 1_152 + 2_048 + 1_280
    assert model.training                                          # mode restored
    assert count_weights(model) == 216 + 72 + 128 + 1_285


def test_nb201_builds_trains_and_is_seedable():
    design = load_space("nb201-edge").baseline
    model = build_model("nb201", design)
    loss = model(torch.randn(4, 3, 32, 32)).logsumexp(1).mean()
    loss.backward()
    assert model.classifier.weight.grad is not None
    torch.manual_seed(0)
    a = build_model("nb201", design)
    torch.manual_seed(0)
    b = build_model("nb201", design)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_nb201_none_cell_outputs_depend_only_on_the_skeleton():
    """A cell of only ``none`` edges outputs zeros: the network's logits then equal the
    classifier bias after the (zero-input) last BN-ReLU in eval mode, whatever the image."""
    model = build_model("nb201", dict.fromkeys(EDGE_PARAMS, "none")).eval()
    with torch.no_grad():
        y1 = model(torch.randn(1, 3, 32, 32))
        y2 = model(torch.randn(1, 3, 32, 32))
    assert torch.allclose(y1, y2)


@pytest.mark.parametrize("space,design,kwargs,match", [
    ("no-such-net", {}, {}, "network is one of"),
    ("nb201", {"edge0": "none"}, {}, "missing"),
    ("nb201", dict.fromkeys(EDGE_PARAMS, "conv9x9"), {}, "ops must be one of"),
    ("nb201", dict.fromkeys(EDGE_PARAMS, "none"), {"resolution": 30}, "multiple of 4"),
    ("nb201", dict.fromkeys(EDGE_PARAMS, "none"), {"num_classes": 0}, "num_classes"),
    ("nb201", dict.fromkeys(EDGE_PARAMS, "none"), {"task": 0}, "task is only for"),
    ("nasaic-w1", {}, {}, "pass task=0..1"),
    ("nasaic-w1", {}, {"task": 2}, "pass task=0..1"),
    ("nb201", ["none"] * 6, {}, "design must be a dict"),
])
def test_bad_input_is_a_one_line_value_error(space, design, kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        build_model(space, design, **kwargs)
    assert "\n" not in str(err.value)


def test_count_macs_rejects_a_bad_resolution():
    with pytest.raises(ValueError, match="resolution must be a positive integer"):
        count_macs(torch.nn.Identity(), 0)


@pytest.mark.integration
def test_importing_models_does_not_import_torch():
    import subprocess
    import sys
    code = ("import sys, moo_cosearch.models; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
