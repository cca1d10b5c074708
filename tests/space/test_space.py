"""Joint search spaces checked against published grids, hand-computed encodings and round trips.

References:
    * NAHAS (Zhou et al. 2021, "Rethinking Co-design of Neural Architectures and Hardware
      Accelerators"), Table 1: edge accelerator grid (PEs_x / PEs_y {1,2,4,6,8}, SIMD units
      {16,32,64,128}, compute lanes {1,2,4,8}, register file {8..128} KB, local memory
      {0.5,1,2,3,4} MB, I/O bandwidth {5..25} GB/s) -> 5*5*4*4*5*5*5 = 50,000 accelerators.
      NAS spaces: S1 (MobileNetV2, 17 blocks) 3^17 * 2^16 ~ 8.4e12, S2 (EfficientNet-B0,
      16 blocks) 3^16 * 2^15 ~ 1.4e12 (block 0 keeps expansion 1 and is not searched).
    * NAS-Bench-201 (Dong & Yang 2020): 6 edges over 5 ops -> 5^6 = 15,625 cells.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution

from moo_cosearch.space import JointSpace, Param, SpaceError, list_spaces, load_space

optuna.logging.set_verbosity(optuna.logging.WARNING)

BUILTINS = ["nahas-effnetb0-edge", "nahas-mbv2-edge", "nb201-edge"]
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGE_HAS = {
    "pes_x": (1, 2, 4, 6, 8),
    "pes_y": (1, 2, 4, 6, 8),
    "simd_units": (16, 32, 64, 128),
    "compute_lanes": (1, 2, 4, 8),
    "register_file_kb": (8, 16, 32, 64, 128),
    "local_memory_mb": (0.5, 1, 2, 3, 4),
    "io_bandwidth_gbyte_s": (5, 10, 15, 20, 25),
}
HAS_CARD = 50_000            # NAHAS Table 1
S1_NAS_CARD = 8_463_329_722_368   # 3**17 * 2**16, hand-multiplied: 129140163 * 65536
S2_NAS_CARD = 1_410_554_953_728   # 3**16 * 2**15: 43046721 * 32768
NB201_CARD = 15_625               # 5**6


def _nas_expected(n_blocks: int) -> dict[str, tuple]:
    out: dict[str, tuple] = {f"b{i}_kernel": (3, 5, 7) for i in range(n_blocks)}
    out.update({f"b{i}_expansion": (3, 6) for i in range(1, n_blocks)})
    return out


EXPECTED = {
    "nahas-mbv2-edge": {**_nas_expected(17), **EDGE_HAS},
    "nahas-effnetb0-edge": {**_nas_expected(16), **EDGE_HAS},
    "nb201-edge": {**{f"edge{i}": NB201_OPS for i in range(6)}, **EDGE_HAS},
}


def _custom() -> JointSpace:
    """A tiny hand-checkable space: ordered ints, unordered names, ordered floats, a fixed param."""
    return JointSpace("custom", [
        Param("a", (1, 2, 4), "has", True),
        Param("op", ("x", "y", "z"), "nas", False),
        Param("bits", (8,), "has", True),
        Param("b", (0.5, 1.0), "has", True),
        Param("n", (16, 32), "has", False),
    ])


def _write(tmp_path: Path, text: str, name: str = "space.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---- built-in spaces ------------------------------------------------------------------------
def test_list_spaces_names_the_builtins():
    assert set(BUILTINS) <= set(list_spaces())  # other backends add spaces (e.g. nasaic-w*)


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_space_has_exact_params_and_grids(name):
    space = load_space(name)
    expected = EXPECTED[name]
    assert space.name == name
    assert set(space.names) == set(expected)
    assert len(space) == len(expected)
    for pname, choices in expected.items():
        p = space[pname]
        assert list(p.choices) == list(choices), pname
        assert not p.fixed
    assert space.accelerator == "edge"


def test_builtin_network_families():
    assert load_space("nahas-mbv2-edge").network == "mobilenetv2"
    assert load_space("nahas-effnetb0-edge").network == "efficientnet-b0"
    assert load_space("nb201-edge").network == "nb201"


def test_nahas_block_counts():
    s1, s2 = load_space("nahas-mbv2-edge"), load_space("nahas-effnetb0-edge")
    assert sum(n.endswith("_kernel") for n in s1.names) == 17
    assert sum(n.endswith("_expansion") for n in s1.names) == 16
    assert sum(n.endswith("_kernel") for n in s2.names) == 16
    assert sum(n.endswith("_expansion") for n in s2.names) == 15
    assert "b0_expansion" not in s1.names and "b0_expansion" not in s2.names
    assert "b16_kernel" in s1.names and "b16_kernel" not in s2.names


@pytest.mark.parametrize("name,nas_card", [("nahas-mbv2-edge", S1_NAS_CARD),
                                           ("nahas-effnetb0-edge", S2_NAS_CARD),
                                           ("nb201-edge", NB201_CARD)])
def test_cardinalities_match_published_products(name, nas_card):
    space = load_space(name)
    nas = math.prod(len(p.choices) for p in space.group("nas"))
    has = math.prod(len(p.choices) for p in space.group("has"))
    assert nas == nas_card
    assert has == HAS_CARD
    assert space.cardinality == nas_card * HAS_CARD
    assert isinstance(space.cardinality, int)


def test_published_approximate_sizes():
    assert f"{S1_NAS_CARD:.1e}" == "8.5e+12"   # "~8.4e12" in the paper (8.46e12)
    assert round(S2_NAS_CARD / 1e12, 1) == 1.4
    assert S1_NAS_CARD == 3**17 * 2**16 and S2_NAS_CARD == 3**16 * 2**15


def test_groups_and_ordered_flags():
    space = load_space("nb201-edge")
    assert [p.name for p in space.group("nas")] == [f"edge{i}" for i in range(6)]
    assert [p.name for p in space.group("has")] == list(EDGE_HAS)
    assert space.group("other") == ()
    assert all(not p.ordered for p in space.group("nas"))      # op names: one-hot
    assert all(p.ordered for p in space.group("has"))          # numeric grids: ordinal
    s1 = load_space("nahas-mbv2-edge")
    assert s1["b3_kernel"].ordered and s1["b3_expansion"].ordered
    assert s1["b3_kernel"].group == "nas" and s1["pes_x"].group == "has"


def test_getitem_unknown_parameter():
    with pytest.raises(SpaceError, match=r"unknown parameter 'nope'; space 'nb201-edge' has"):
        load_space("nb201-edge")["nope"]


def test_distributions_hold_real_values():
    space = load_space("nb201-edge")
    dists = space.distributions
    assert list(dists) == list(space.names)
    assert all(isinstance(d, CategoricalDistribution) for d in dists.values())
    assert dists["edge3"].choices == NB201_OPS
    assert dists["pes_x"].choices == (1, 2, 4, 6, 8)
    mem = dists["local_memory_mb"].choices
    assert mem == (0.5, 1.0, 2.0, 3.0, 4.0)
    assert all(type(c) is float for c in mem)
    assert all(type(c) is int for c in dists["simd_units"].choices)
    assert all(type(c) is str for c in dists["edge0"].choices)


def test_suggest_in_real_optuna_study():
    space = load_space("nb201-edge")
    designs = []

    def objective(trial):
        d = space.suggest(trial)
        designs.append(d)
        return float(d["pes_x"] * d["pes_y"])

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(objective, n_trials=12)
    assert len(study.trials) == 12
    for trial, d in zip(study.trials, designs):
        assert set(d) == set(space.names)
        assert trial.params == d
        assert space.validate(d) == d
        assert trial.distributions == space.distributions
        assert trial.value == d["pes_x"] * d["pes_y"]
    assert {type(d["local_memory_mb"]) for d in designs} == {float}
    assert len({tuple(d.values()) for d in designs}) > 1


def test_suggest_fills_fixed_params_without_suggesting_them():
    space = _custom()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    out = []
    study.optimize(lambda t: out.append(space.suggest(t)) or 0.0, n_trials=3)
    for trial, d in zip(study.trials, out):
        assert d["bits"] == 8
        assert "bits" not in trial.params
        assert set(trial.params) == {"a", "op", "b", "n"}


# ---- sampling ---------------------------------------------------------------------------------
def test_sample_is_seeded_and_on_grid():
    space = load_space("nahas-mbv2-edge")
    a, b, c = space.sample(20, seed=1), space.sample(20, seed=1), space.sample(20, seed=2)
    assert a == b
    assert a != c
    assert len(a) == 20
    for d in a + c:
        assert space.validate(d) == d
        for name, value in d.items():
            assert value in EXPECTED["nahas-mbv2-edge"][name]
    assert space.sample(0, seed=1) == []
    with pytest.raises(SpaceError, match=r"n must be >= 0, got -1"):
        space.sample(-1)


def test_sample_is_roughly_uniform():
    n = 6000
    designs = load_space("nahas-mbv2-edge").sample(n, seed=123)
    counts = Counter(d["b5_kernel"] for d in designs)
    assert set(counts) == {3, 5, 7}
    for v in (3, 5, 7):     # expected 2000 each, sd ~ 36.5: +/-10 % is > 5 sd
        assert 1800 <= counts[v] <= 2200, counts
    mem = Counter(d["local_memory_mb"] for d in designs)
    assert set(mem) == {0.5, 1.0, 2.0, 3.0, 4.0}
    assert all(1000 <= mem[v] <= 1400 for v in mem), mem
    # parameters are drawn independently: the pair (b5_kernel, b6_kernel) covers all 9 cells
    pairs = Counter((d["b5_kernel"], d["b6_kernel"]) for d in designs)
    assert len(pairs) == 9 and min(pairs.values()) > 500


def test_sample_includes_fixed_params():
    for d in _custom().sample(10, seed=0):
        assert d["bits"] == 8


# ---- validation -------------------------------------------------------------------------------
def _nb201_design(**over):
    d = {f"edge{i}": "nor_conv_3x3" for i in range(6)}
    d.update(pes_x=4, pes_y=4, simd_units=64, compute_lanes=4, register_file_kb=32,
             local_memory_mb=2, io_bandwidth_gbyte_s=15)
    d.update(over)
    return d


def test_validate_accepts_numeric_equivalents_and_canonicalises():
    space = load_space("nb201-edge")
    out = space.validate(_nb201_design(pes_x=2.0, local_memory_mb=1, io_bandwidth_gbyte_s=np.int64(5)))
    assert out["pes_x"] == 2 and type(out["pes_x"]) is int
    assert out["local_memory_mb"] == 1.0 and type(out["local_memory_mb"]) is float
    assert out["io_bandwidth_gbyte_s"] == 5 and type(out["io_bandwidth_gbyte_s"]) is int
    assert list(out) == list(space.names)        # canonical order


def test_validate_off_grid_exact_message():
    space = load_space("nb201-edge")
    with pytest.raises(SpaceError) as e:
        space.validate(_nb201_design(io_bandwidth_gbyte_s=7))
    assert str(e.value) == "io_bandwidth_gbyte_s must be one of [5, 10, 15, 20, 25], got 7"
    with pytest.raises(SpaceError) as e:
        space.validate(_nb201_design(local_memory_mb=0.75))
    assert str(e.value) == "local_memory_mb must be one of [0.5, 1.0, 2.0, 3.0, 4.0], got 0.75"
    with pytest.raises(SpaceError) as e:
        space.validate(_nb201_design(edge2="conv_5x5"))
    assert str(e.value) == ("edge2 must be one of ['none', 'skip_connect', 'nor_conv_1x1', "
                            "'nor_conv_3x3', 'avg_pool_3x3'], got 'conv_5x5'")


def test_validate_unknown_and_missing():
    space = load_space("nb201-edge")
    with pytest.raises(SpaceError) as e:
        space.validate(_nb201_design(pes_z=2))
    assert str(e.value).startswith("unknown parameter 'pes_z'; space 'nb201-edge' has ['edge0'")
    d = _nb201_design()
    del d["simd_units"]
    with pytest.raises(SpaceError) as e:
        space.validate(d)
    assert str(e.value) == "missing parameter 'simd_units' (one of [16, 32, 64, 128])"
    with pytest.raises(SpaceError, match="a design must be a mapping"):
        space.validate([("pes_x", 2)])


def test_validate_rejects_bools_and_numeric_strings():
    space = load_space("nb201-edge")
    with pytest.raises(SpaceError) as e:
        space.validate(_nb201_design(compute_lanes=True))       # True == 1, but not a lane count
    assert str(e.value) == "compute_lanes must be one of [1, 2, 4, 8], got True"
    with pytest.raises(SpaceError) as e:
        space.validate(_nb201_design(pes_x="4"))
    assert str(e.value) == "pes_x must be one of [1, 2, 4, 6, 8], got '4'"


def test_validate_fills_fixed_and_checks_given_fixed():
    space = _custom()
    out = space.validate({"a": 2, "op": "x", "b": 1, "n": 16})
    assert out == {"a": 2, "op": "x", "bits": 8, "b": 1.0, "n": 16}
    assert space.validate({"a": 2, "op": "x", "b": 1, "n": 16, "bits": 8.0})["bits"] == 8
    with pytest.raises(SpaceError) as e:
        space.validate({"a": 2, "op": "x", "b": 1, "n": 16, "bits": 4})
    assert str(e.value) == "bits must be one of [8], got 4"


# ---- Param construction -------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,msg", [
    (dict(name="", choices=(1,), group="has", ordered=True), "non-empty string"),
    (dict(name="p", choices=(1,), group="hw", ordered=True),
     "p: group must be one of ['nas', 'has'], got 'hw'"),
    (dict(name="p", choices=(), group="has", ordered=True), "p: choices must not be empty"),
    (dict(name="p", choices=(1, True), group="has", ordered=True),
     "p: choices must be numbers or strings, got True"),
    (dict(name="p", choices=(1.0, float("nan")), group="has", ordered=True),
     "p: choices must be finite, got nan"),
    (dict(name="p", choices=(1, 2, 1.0), group="has", ordered=True),
     "p: choices must be distinct, got 1.0 twice"),
    (dict(name="p", choices=("a", "b"), group="nas", ordered=True),
     "p: an ordered parameter needs numeric choices, got ['a', 'b']"),
])
def test_param_rejects_bad_definitions(kwargs, msg):
    with pytest.raises(SpaceError) as e:
        Param(**kwargs)
    assert msg in str(e.value)


# ---- encode / decode --------------------------------------------------------------------------
def test_feature_names_of_custom_space():
    assert _custom().feature_names == ["a", "op=x", "op=y", "op=z", "b", "n=16", "n=32"]


def test_encode_hand_values():
    space = _custom()
    x = space.encode([
        {"a": 4, "op": "y", "b": 0.5, "n": 32},
        {"a": 2, "op": "z", "b": 1.0, "n": 16},
        {"a": 1, "op": "x", "b": 1.0, "n": 32, "bits": 8},
    ])
    expected = np.array([
        [1.0, 0, 1, 0, 0.0, 0, 1],
        [0.5, 0, 0, 1, 1.0, 1, 0],
        [0.0, 1, 0, 0, 1.0, 0, 1],
    ])
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, expected)
    np.testing.assert_array_equal(space.indices([{"a": 4, "op": "y", "b": 0.5, "n": 32}]),
                                  [[2, 1, 0, 1]])


def test_encode_rejects_off_grid():
    with pytest.raises(SpaceError, match=r"a must be one of \[1, 2, 4\], got 3"):
        _custom().encode([{"a": 3, "op": "y", "b": 0.5, "n": 32}])


def test_decode_hand_values_and_fixed_restored():
    space = _custom()
    designs = space.decode(np.array([
        [1.0, 0, 1, 0, 0.0, 0, 1],
        [0.5, 0, 0, 1, 1.0, 1, 0],
    ]))
    assert designs == [
        {"a": 4, "op": "y", "bits": 8, "b": 0.5, "n": 32},
        {"a": 2, "op": "z", "bits": 8, "b": 1.0, "n": 16},
    ]
    # relaxed features go to the nearest grid point / the largest one-hot entry
    relaxed = space.decode([0.74, 0.2, 0.1, 0.3, 0.6, 0.9, 0.2])[0]
    assert relaxed == {"a": 2, "op": "z", "bits": 8, "b": 1.0, "n": 16}
    assert space.decode([0.76, 0.5, 0.1, 0.3, 0.4, 0.1, 0.2])[0]["a"] == 4
    assert space.decode([-3.0, 1, 0, 0, 7.0, 1, 0])[0] == {"a": 1, "op": "x", "bits": 8,
                                                            "b": 1.0, "n": 16}


def test_decode_rejects_wrong_width_and_nan():
    space = _custom()
    with pytest.raises(SpaceError) as e:
        space.decode(np.zeros((2, 6)))
    assert str(e.value) == "features must have 7 columns for space 'custom', got 6"
    bad = np.zeros((1, 7))
    bad[0, 2] = np.nan
    with pytest.raises(SpaceError, match="features must be finite"):
        space.decode(bad)
    bad[0, 2] = np.inf
    with pytest.raises(SpaceError, match="features must be finite"):
        space.decode(bad)


@pytest.mark.parametrize("name", BUILTINS)
def test_encode_decode_round_trip(name):
    space = load_space(name)
    designs = space.sample(50, seed=7)
    x = space.encode(designs)
    assert x.shape == (50, len(space.feature_names))
    assert np.all((x >= 0) & (x <= 1))
    assert space.decode(x) == designs
    # one-hot blocks sum to one per unordered parameter
    n_unordered = sum(not p.ordered for p in space.params)
    n_ordered_cols = sum(p.ordered for p in space.params)
    assert len(space.feature_names) == n_ordered_cols + sum(
        len(p.choices) for p in space.params if not p.ordered)
    if n_unordered:
        onehot = [i for i, f in enumerate(space.feature_names) if "=" in f]
        np.testing.assert_array_equal(x[:, onehot].sum(axis=1), n_unordered)


def test_nb201_feature_width():
    # 6 one-hot edges * 5 ops + 7 ordinal accelerator columns
    assert len(load_space("nb201-edge").feature_names) == 37
    # S1: 17 + 16 ordinal NAS columns + 7 accelerator columns
    assert len(load_space("nahas-mbv2-edge").feature_names) == 40


def test_decode_all_fixed_space_has_no_columns():
    space = JointSpace("fixed", [Param("bits", (8,), "has", True)])
    assert space.feature_names == []
    assert space.decode(np.zeros((1, 0))) == [{"bits": 8}]


def test_encode_all_fixed_space_has_no_columns():
    # regression: indices() used reshape(-1, 0), which fails on an empty array
    space = JointSpace("fixed", [Param("bits", (8,), "has", True)])
    assert space.indices([{}, {}]).shape == (2, 0)
    x = space.encode([{}, {"bits": 8}])
    assert x.shape == (2, 0)
    with pytest.raises(SpaceError, match=r"bits must be one of \[8\], got 4"):
        space.encode([{"bits": 4}])


# ---- TOML loading -----------------------------------------------------------------------------
HEADER = 'name = "toy"\nnetwork = "nb201"\naccelerator = "edge"\ndescription = "a toy"\n'


def test_toml_expansion_fixed_and_ordered_override(tmp_path):
    path = _write(tmp_path, HEADER + """
[[params]]
name = "blk{i}_k"
i = [2, 4]
group = "nas"
choices = [3, 5]

[[params]]
name = "width"
group = "has"
choices = [16, 32, 64]
ordered = false

[[params]]
name = "mem"
group = "has"
choices = [1, 2.5]

[[params]]
name = "precision_bits"
group = "has"
fixed = 8
""")
    space = load_space(path)
    assert space.name == "toy" and space.network == "nb201" and space.accelerator == "edge"
    assert space.description == "a toy"
    assert space.names == ("blk2_k", "blk3_k", "blk4_k", "width", "mem", "precision_bits")
    assert space["blk3_k"].choices == (3, 5) and space["blk3_k"].ordered
    assert not space["width"].ordered
    assert space["mem"].choices == (1.0, 2.5) and all(type(c) is float for c in space["mem"].choices)
    bits = space["precision_bits"]
    assert bits.fixed and bits.choices == (8,)
    assert "precision_bits" not in space.distributions
    assert space.cardinality == 2 * 2 * 2 * 3 * 2
    assert space.feature_names == ["blk2_k", "blk3_k", "blk4_k", "width=16", "width=32",
                                   "width=64", "mem"]
    assert load_space(str(path)).definition_hash == space.definition_hash


@pytest.mark.parametrize("body,msg", [
    ('[[params]]\nname = "x"\ngroup = "has"\nchoices = [1, 2]\ncolour = "red"\n',
     "x: unknown keys ['colour']; allowed keys are"),
    ('[[params]]\nname = "x"\ngroup = "has"\nchoices = [1, 2]\nfixed = 1\n',
     "x: give exactly one of 'choices' or 'fixed'"),
    ('[[params]]\nname = "x"\ngroup = "has"\n',
     "x: give exactly one of 'choices' or 'fixed'"),
    ('[[params]]\nname = "x"\ngroup = "has"\nchoices = [1, 2]\n'
     '[[params]]\nname = "x"\ngroup = "nas"\nchoices = ["a", "b"]\n',
     "space 'toy': parameter names must be unique, got ['x'] twice"),
    ('[[params]]\nname = "b{i}"\ni = [0, 1]\ngroup = "nas"\nchoices = [1, 2]\n'
     '[[params]]\nname = "b1"\ngroup = "nas"\nchoices = [1, 2]\n',
     "parameter names must be unique, got ['b1'] twice"),
    ('[[params]]\nname = "x"\ngroup = "has"\nchoices = []\n', "x: choices must not be empty"),
    ('[[params]]\nname = "x"\ngroup = "nas"\nchoices = ["a", "b"]\nordered = true\n',
     "x: an ordered parameter needs numeric choices, got ['a', 'b']"),
    ('[[params]]\nname = "x"\ngroup = "hw"\nchoices = [1, 2]\n',
     "x: group must be one of ['nas', 'has'], got 'hw'"),
    ('[[params]]\nname = "x"\nchoices = [1, 2]\n',
     "x: group must be one of ['nas', 'has'], got ''"),
    ('[[params]]\nname = "x"\ngroup = "has"\nchoices = 4\n', "x: choices must be a list, got 4"),
    ('[[params]]\nname = "x"\ngroup = "has"\nchoices = [1, 2]\nordered = "yes"\n',
     "x: ordered must be true or false, got 'yes'"),
    ('[[params]]\nname = "x"\ngroup = "has"\nchoices = [1, 2, 2]\n',
     "x: choices must be distinct, got 2 twice"),
    ('[[params]]\nname = "x{i}"\ni = [0]\ngroup = "has"\nchoices = [1, 2]\n',
     "x{i}: 'i' must be an inclusive range [first, last] of integers, got [0]"),
    ('[[params]]\nname = "x"\ni = [0, 2]\ngroup = "has"\nchoices = [1, 2]\n',
     "x: a name with an 'i' range must contain '{i}'"),
    ('[[params]]\ngroup = "has"\nchoices = [1, 2]\n',
     "every [[params]] entry needs a string 'name'"),
])
def test_toml_param_errors(tmp_path, body, msg):
    path = _write(tmp_path, HEADER + body)
    with pytest.raises(SpaceError) as e:
        load_space(path)
    assert msg in str(e.value)


def test_toml_top_level_errors(tmp_path):
    path = _write(tmp_path, HEADER + 'colour = "red"\n[[params]]\nname = "x"\ngroup = "has"\n'
                                     'choices = [1, 2]\n')
    with pytest.raises(SpaceError) as e:
        load_space(path)
    assert str(e.value).startswith(f"{path}: unknown top-level keys ['colour']; allowed:")
    path = _write(tmp_path, HEADER, "noparams.toml")
    with pytest.raises(SpaceError, match=r"a space needs a non-empty \[\[params\]\] array"):
        load_space(path)
    path = _write(tmp_path, '[[params]]\nname = "x"\ngroup = "has"\nchoices = [1, 2]\n', "n.toml")
    with pytest.raises(SpaceError, match="a space needs a string 'name'"):
        load_space(path)


def test_malformed_toml(tmp_path):
    path = _write(tmp_path, 'name = "toy\n[[params]\n')
    with pytest.raises(SpaceError) as e:
        load_space(path)
    assert f"malformed TOML in {path}" in str(e.value)


def test_unknown_space_name_lists_builtins():
    with pytest.raises(SpaceError) as e:
        load_space("nb202-edge")
    msg = str(e.value)
    assert msg.startswith("unknown space 'nb202-edge'")
    assert str(list_spaces()) in msg            # the list of built-in names, sorted
    assert all(repr(b) in msg for b in BUILTINS)
    assert ".toml" in msg                       # and the hint that a path works too


def test_missing_file_path(tmp_path):
    path = tmp_path / "missing.toml"
    with pytest.raises(SpaceError) as e:
        load_space(path)
    assert str(e.value) == f"cannot read space file {str(path)!r}: No such file or directory"


def test_space_error_is_a_value_error():
    assert issubclass(SpaceError, ValueError)


# ---- hashing and dict round trip --------------------------------------------------------------
def test_definition_hash_is_stable_and_sensitive(tmp_path):
    assert load_space("nb201-edge").definition_hash == load_space("nb201-edge").definition_hash
    h = load_space("nb201-edge").definition_hash
    assert len(h) == 64 and int(h, 16) >= 0
    hashes = {load_space(n).definition_hash for n in BUILTINS}
    assert len(hashes) == 3

    base = HEADER + '[[params]]\nname = "x"\ngroup = "has"\nchoices = [1, 2, 4]\n'
    h0 = load_space(_write(tmp_path, base, "a.toml")).definition_hash
    assert load_space(_write(tmp_path, base, "b.toml")).definition_hash == h0
    assert load_space(_write(tmp_path, base.replace("[1, 2, 4]", "[1, 2, 8]"),
                             "c.toml")).definition_hash != h0
    assert load_space(_write(tmp_path, base.replace('"has"', '"nas"'),
                             "d.toml")).definition_hash != h0
    assert load_space(_write(tmp_path, base + "ordered = false\n",
                             "e.toml")).definition_hash != h0
    assert load_space(_write(tmp_path, base.replace('network = "nb201"', 'network = "x"'),
                             "f.toml")).definition_hash != h0
    # the description is free text, not part of the definition
    assert load_space(_write(tmp_path, base.replace("a toy", "another toy"),
                             "g.toml")).definition_hash == h0


@pytest.mark.parametrize("name", BUILTINS)
def test_to_dict_from_dict_round_trip(name):
    space = load_space(name)
    again = JointSpace.from_dict(space.to_dict())
    assert again.definition_hash == space.definition_hash
    assert again.params == space.params
    assert (again.name, again.network, again.accelerator, again.description) == (
        space.name, space.network, space.accelerator, space.description)


def test_to_dict_round_trip_with_fixed_and_unordered():
    space = _custom()
    d = space.to_dict()
    assert d["params"][2] == {"name": "bits", "group": "has", "fixed": 8, "ordered": True}
    assert "network" not in d and "accelerator" not in d
    again = JointSpace.from_dict(d)
    assert again.params == space.params
    assert again.definition_hash == space.definition_hash


# ---- pymoo ------------------------------------------------------------------------------------
def test_to_pymoo_variables_mirror_searched_params():
    from pymoo.core.variable import Choice

    space = _custom()
    problem = space.to_pymoo(n_obj=2)
    assert list(problem.vars) == ["a", "op", "b", "n"]         # the fixed 'bits' is not a variable
    for name, var in problem.vars.items():
        assert isinstance(var, Choice)
        assert list(var.options) == list(space[name].choices)
    assert problem.n_var == 4 and problem.n_obj == 2 and problem.n_ieq_constr == 0
    nb = load_space("nb201-edge").to_pymoo()
    assert list(nb.vars) == list(load_space("nb201-edge").names)
    assert list(nb.vars["local_memory_mb"].options) == [0.5, 1.0, 2.0, 3.0, 4.0]


def _toy_pymoo_space() -> JointSpace:
    return JointSpace("toy", [
        Param("a", (1, 2, 4, 6, 8), "has", True),
        Param("op", ("x", "y", "z"), "nas", False),
        Param("b", (0.5, 1.0, 2.0), "has", True),
        Param("bits", (8,), "has", True),
    ])


OP_COST = {"x": 1.0, "y": 0.0, "z": 2.0}


def _toy_f(d) -> float:
    # unconstrained optimum a=6; with the constraint a <= 4 the optimum is (4, "y", 1.0), f = 4
    return (d["a"] - 6) ** 2 + OP_COST[d["op"]] + (d["b"] - 1.0) ** 2


def test_mixed_variable_ga_on_custom_space():
    from pymoo.core.mixed import MixedVariableGA
    from pymoo.optimize import minimize

    space = _toy_pymoo_space()
    seen = []

    def evaluate(design):
        seen.append(design)
        return [_toy_f(design)], [design["a"] - 4]

    problem = space.to_pymoo(evaluate, n_obj=1, n_ieq_constr=1)
    res = minimize(problem, MixedVariableGA(pop_size=10), ("n_gen", 3), seed=1, verbose=False)
    assert res.X is not None
    best = space.validate(dict(res.X))              # on the grid (raises otherwise)
    assert best["a"] <= 4                             # feasible
    assert float(np.ravel(res.G)[0]) <= 0
    assert float(np.ravel(res.F)[0]) == pytest.approx(_toy_f(best))
    assert float(np.ravel(res.F)[0]) >= 4.0           # cannot beat the known constrained optimum
    # the callable got full, validated designs of plain Python values (fixed param included)
    assert len(seen) >= 10
    for d in seen:
        assert space.validate(d) == d
        assert d["bits"] == 8
        assert type(d["a"]) is int and type(d["op"]) is str and type(d["b"]) is float


def test_pymoo_problem_evaluates_a_given_design():
    space = _toy_pymoo_space()
    problem = space.to_pymoo(lambda d: ([_toy_f(d), d["a"]], [d["a"] - 4]), n_obj=2,
                             n_ieq_constr=1)
    out = problem.evaluate(np.array([{"a": 4, "op": "y", "b": 1.0},
                                     {"a": 8, "op": "z", "b": 0.5}]), return_as_dictionary=True)
    np.testing.assert_allclose(out["F"], [[4.0, 4.0], [4.0 + 2.0 + 0.25, 8.0]])
    np.testing.assert_allclose(out["G"], [[0.0], [4.0]])


def test_pymoo_problem_checks_evaluate_shapes():
    space = _toy_pymoo_space()
    design = np.array([{"a": 4, "op": "y", "b": 1.0}])
    with pytest.raises(ValueError, match=r"evaluate must return 2 objectives, got \(1,\)"):
        space.to_pymoo(lambda d: ([1.0], []), n_obj=2).evaluate(design)
    with pytest.raises(ValueError, match=r"evaluate must return 1 constraints, got \(2,\)"):
        space.to_pymoo(lambda d: ([1.0, 2.0], [0.0, 1.0]), n_obj=2,
                       n_ieq_constr=1).evaluate(design)


def test_pymoo_problem_rejects_off_grid_design():
    space = _toy_pymoo_space()
    problem = space.to_pymoo(lambda d: ([0.0, 0.0], []))
    with pytest.raises(SpaceError, match=r"a must be one of \[1, 2, 4, 6, 8\], got 3"):
        problem.evaluate(np.array([{"a": 3, "op": "y", "b": 1.0}]))


def test_pymoo_problem_without_evaluate_raises():
    space = _toy_pymoo_space()
    problem = space.to_pymoo()
    with pytest.raises(RuntimeError) as e:
        problem.evaluate(np.array([{"a": 4, "op": "y", "b": 1.0}]))
    assert str(e.value) == ("this pymoo problem for space 'toy' was made without an evaluate "
                            "callable: pass one to JointSpace.to_pymoo")


def test_to_dict_round_trip_hash_with_mixed_int_float_choices():
    # regression: a Param built in Python kept (0.5, 1, 2) while TOML gave (0.5, 1.0, 2.0), so
    # the same definition had two hashes ('1' vs '1.0' in the JSON) and decoded to int or float
    space = JointSpace("m", [Param("mem", (0.5, 1, 2), "has", True)])
    assert all(type(c) is float for c in space["mem"].choices)
    again = JointSpace.from_dict(space.to_dict())
    assert again.params == space.params
    assert again.definition_hash == space.definition_hash
    toml_twin = JointSpace.from_dict({"name": "m", "params": [
        {"name": "mem", "group": "has", "choices": [0.5, 1, 2]}]})
    assert toml_twin.definition_hash == space.definition_hash
    assert space.decode([0.5])[0]["mem"] == 1.0 and type(space.decode([0.5])[0]["mem"]) is float


# ---------------------------------------------------------------- renamed parameters


def test_old_bandwidth_name_still_loads_with_a_deprecation(tmp_path):
    """``io_bandwidth_gbps`` (read as GB/s all along) is now ``io_bandwidth_gbyte_s``: a space
    file or a design with the old name loads, warns, and prices the same."""
    from moo_cosearch import get_backend

    new = (Path(__file__).resolve().parents[2] / "spaces" / "nb201-edge.toml").read_text()
    old = new.replace('name = "io_bandwidth_gbyte_s"', 'name = "io_bandwidth_gbps"')
    assert old != new
    path = tmp_path / "old.toml"
    path.write_text(old)
    with pytest.warns(DeprecationWarning, match="io_bandwidth_gbps.*io_bandwidth_gbyte_s"):
        space = load_space(path)
    assert "io_bandwidth_gbyte_s" in space.names and "io_bandwidth_gbps" not in space.names
    assert space.definition_hash == load_space("nb201-edge").definition_hash
    design = _nb201_design(io_bandwidth_gbyte_s=5)
    legacy = {("io_bandwidth_gbps" if k == "io_bandwidth_gbyte_s" else k): v
              for k, v in design.items()}
    with pytest.warns(DeprecationWarning, match="io_bandwidth_gbps"):
        assert space.validate(legacy) == space.validate(design)
    edge = get_backend("edge")
    with pytest.warns(DeprecationWarning):
        assert edge(space, [legacy]).latency_ms == pytest.approx(
            edge(space, [design]).latency_ms)
