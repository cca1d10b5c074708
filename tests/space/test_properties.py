"""Property-based tests (hypothesis): space parsing, encoding round-trips, cost-model inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moo_cosearch.hardware import get_backend
from moo_cosearch.space import JointSpace, SpaceError, load_space

_SETTINGS = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])

_choice = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True,
                                                          width=32),
                    st.text(min_size=0, max_size=4), st.booleans())
_spec = st.fixed_dictionaries(
    {"name": st.text(alphabet="abcxyz_", min_size=1, max_size=6),
     "group": st.sampled_from(["nas", "has", "sw"]),
     "choices": st.lists(_choice, min_size=0, max_size=6)},
    optional={"ordered": st.booleans()})


@pytest.mark.slow
@_SETTINGS
@given(st.lists(_spec, min_size=1, max_size=5))
def test_a_declaration_parses_to_a_valid_space_or_one_clear_error(specs):
    data = {"name": "prop", "params": specs}
    try:
        space = JointSpace.from_dict(data)
    except SpaceError as e:
        assert str(e) and "\n" not in str(e)
        return
    # valid: the rules the README states hold
    for p in space.params:
        assert p.group in ("nas", "has") and len(p.choices) >= 1
        kinds = {isinstance(c, str) for c in p.choices}
        assert len(kinds) == 1, "mixed numbers and strings are refused"
        assert not any(isinstance(c, bool) for c in p.choices)
        assert all(math.isfinite(c) for c in p.choices if not isinstance(c, str))
        assert len(set(p.choices)) == len(p.choices)
        assert [p.index(c) for c in p.choices] == list(range(len(p.choices)))
    again = JointSpace.from_dict(space.to_dict())
    assert again.definition_hash == space.definition_hash


_names = st.lists(st.text(alphabet="abcdefgh", min_size=2, max_size=6), min_size=1,
                  max_size=6, unique=True)


@_SETTINGS
@given(_names, st.data(), st.integers(0, 2**31 - 1))
def test_encoding_and_index_round_trips(names, data, seed):
    specs = []
    for n in names:
        if data.draw(st.booleans()):
            choices = data.draw(st.lists(st.integers(1, 512), min_size=1, max_size=6,
                                         unique=True))
        else:
            choices = data.draw(st.lists(st.text(alphabet="pqrs", min_size=1, max_size=3),
                                         min_size=1, max_size=5, unique=True))
        specs.append({"name": n, "group": data.draw(st.sampled_from(["nas", "has"])),
                      "choices": choices})
    if all(len(spec["choices"]) == 1 for spec in specs):     # a space must search something
        specs[0]["choices"] = specs[0]["choices"] + (["zz"] if isinstance(
            specs[0]["choices"][0], str) else [specs[0]["choices"][0] + 1])
    space = JointSpace.from_dict({"name": "prop", "params": specs})
    designs = space.sample(7, seed=seed)
    assert [space.validate(d) for d in designs] == designs
    assert space.decode(space.encode(designs)) == designs
    assert space.from_indices(space.indices(designs)) == designs


@pytest.mark.parametrize("name", ["nb201-edge", "nahas-mbv2-edge"])
@pytest.mark.slow
def test_edge_cost_of_any_design_is_finite_positive_and_batch_independent(name):
    space = load_space(name)
    backend = get_backend("edge")

    @_SETTINGS
    @given(st.integers(0, 2**31 - 1), st.integers(1, 6))
    def check(seed, n):
        designs = space.sample(n, seed=seed)
        batch = backend(space, designs)
        for m in ("latency_ms", "area_mm2", "energy_mj"):
            v = np.asarray(batch.metric(m), dtype=float)
            assert np.all(np.isfinite(v)) and np.all(v > 0), (m, v)
        one = backend(space, designs[-1:])       # a design's cost does not depend on its batch
        for m in ("latency_ms", "area_mm2"):
            assert float(one.metric(m)[0]) == pytest.approx(float(batch.metric(m)[-1]),
                                                            rel=1e-12)
        # area is the accelerator's: the same hardware with another network has the same area
        other = dict(designs[0])
        for p in space.group("nas"):
            other[p.name] = p.choices[0]
        assert float(backend(space, [other]).metric("area_mm2")[0]) == pytest.approx(
            float(batch.metric("area_mm2")[0]), rel=1e-12)

    check()
