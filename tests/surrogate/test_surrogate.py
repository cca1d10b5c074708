"""The MLP surrogate: features, sampling (determinism, resume, crashes), training on a known
function, safe files, the surrogate:PATH backend, relaxed gradients, verify, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from moo_cosearch import create_study, load_space, make_objective
from moo_cosearch.hardware import _registry as hardware
from moo_cosearch.analysis import verify_pareto
from moo_cosearch.cli import main
from moo_cosearch.hardware import CostBackend, CostResult, backend_metrics, get_backend
from moo_cosearch.objectives import ObjectiveSet
from moo_cosearch.surrogate import (FeatureSchema, FitConfig, SurrogateError, draw_indices,
                                    fit_surrogate, load_samples, load_surrogate,
                                    regression_metrics, sample_designs)
from moo_cosearch.surrogate import _sampling

SPACE = "nb201-edge"


class ToyBackend(CostBackend):
    """Known costs: latency = 0.01 * pes_x * pes_y^-1 * simd/16, area = pes_x * pes_y,
    energy = latency * area; infeasible when pes_x * pes_y > 40; crashes on io 25."""

    name = "toy"

    def evaluate(self, space, designs):
        if any(d["io_bandwidth_gbyte_s"] == 25 for d in designs):
            raise RuntimeError("simulator crashed")
        px = np.array([d["pes_x"] for d in designs], float)
        py = np.array([d["pes_y"] for d in designs], float)
        simd = np.array([d["simd_units"] for d in designs], float)
        lat = 0.01 * px / py * simd / 16
        area = px * py
        ok = area <= 40
        return CostResult(latency_ms=lat, energy_mj=lat * area, area_mm2=area, feasible=ok,
                          reason=tuple("" if f else f"area {a:g} > 40" for f, a in zip(ok, area)))


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(hardware._BACKENDS, "toy", ToyBackend)
    return "toy"


def test_features_by_hand():
    space = load_space(SPACE)
    schema = FeatureSchema(space)
    # edge0 one-hot (5), ..., then pes_x: position and log2 value
    assert schema.names[:5] == [f"edge0={op}" for op in space["edge0"].choices]
    j = schema.names.index("pes_x")
    assert schema.names[j + 1] == "log2(pes_x)"
    design = space.sample(1, seed=3)[0] | {"pes_x": 6, "edge0": "nor_conv_3x3"}
    x = schema.transform([design])[0]
    assert x[:5].tolist() == [0, 0, 0, 1, 0]
    assert x[j] == pytest.approx(3 / 4)            # 6 is choice 3 of [1, 2, 4, 6, 8]
    assert x[j + 1] == pytest.approx(np.log2(6))
    idx = space.indices([design])
    assert np.array_equal(schema.transform(idx), schema.transform([design]))
    with pytest.raises(ValueError, match="must lie in"):
        schema.transform(idx + 10)
    with pytest.raises(ValueError, match="shape"):
        schema.transform(idx[:, :3])


def test_relaxed_one_hot_equals_transform_and_mixes_linearly():
    space = load_space(SPACE)
    schema = FeatureSchema(space)
    idx = space.indices(space.sample(4, seed=0))
    probs = [torch.nn.functional.one_hot(torch.as_tensor(idx[:, j]), len(p.choices)).double()
             for j, p in enumerate(schema.params)]
    assert torch.allclose(schema.relaxed(probs), torch.as_tensor(schema.transform(idx)).double())
    half = [0.5 * p + 0.5 * torch.roll(p, 1, 0) for p in probs]
    mixed = schema.relaxed(half)
    x = torch.as_tensor(schema.transform(idx)).double()
    assert torch.allclose(mixed, 0.5 * x + 0.5 * torch.roll(x, 1, 0))


@pytest.mark.parametrize("name", ["nahas-mbv2-edge", "nahas-effnetb0-edge", "nb201-edge"])
def test_derived_network_stats_equal_the_built_networks(name):
    from moo_cosearch.networks import build_network, summarize

    space = load_space(name)
    schema = FeatureSchema(space, derived=True)
    designs = space.sample(25, seed=7)
    stats = schema.derived.stats(space.indices(designs))
    truth = np.array([summarize(build_network(space.network, d)) for d in designs], float)
    assert np.array_equal(stats[:, :2], truth)
    x = schema.transform(designs)
    assert np.allclose(x[:, schema.names.index("log2(macs)")], np.log2(truth[:, 0]))
    idx = space.indices(designs[:4])
    probs = [torch.nn.functional.one_hot(torch.as_tensor(idx[:, j]), len(p.choices)).double()
             for j, p in enumerate(schema.params)]
    assert torch.allclose(schema.relaxed(probs), torch.as_tensor(x[:4]).double(), atol=1e-4)
    # one parameter half-and-half between two values: expected MACs are the mean of the two
    j = 0                                       # the first searched parameter is a NAS one
    p0 = schema.params[j]
    other = (idx[0, j] + 1) % len(p0.choices)
    mix = [p[0:1].clone() for p in probs]
    mix[j] = 0.5 * mix[j] + 0.5 * torch.nn.functional.one_hot(
        torch.tensor([other]), len(p0.choices)).double()
    alt = dict(designs[0], **{p0.name: p0.choices[other]})
    expected = (truth[0, 0] + summarize(build_network(space.network, alt))[0]) / 2
    col = schema.names.index("log2(macs)")
    assert float(2 ** schema.relaxed(mix)[0, col]) == pytest.approx(expected)


def test_derived_features_need_a_network():
    from moo_cosearch.space import JointSpace, Param

    space = JointSpace("bare", [Param("a", (1, 2, 4), "has", True)])
    with pytest.raises(ValueError, match="has no network"):
        FeatureSchema(space, derived=True)
    assert FeatureSchema(space).names == ["a", "log2(a)"]


def test_draw_indices_perturbations_change_one_to_three_params():
    space = load_space(SPACE)
    base = space.indices(space.sample(5, seed=1))
    idx = draw_indices(space, 200, np.random.default_rng(0), base, perturb_frac=0.5)
    ks = np.array([len(p.choices) for p in space.params if not p.fixed])
    assert idx.min() >= 0 and np.all(idx < ks)
    changed = np.min([(idx[:100] != b).sum(1) for b in base], axis=0)
    assert changed.min() >= 1 and changed.max() <= 3


def test_draw_indices_groups_networks_per_accelerator():
    space = load_space(SPACE)
    params = [p for p in space.params if not p.fixed]
    has = np.array([p.group == "has" for p in params])
    assert has.any() and (~has).any()
    idx = draw_indices(space, 30, np.random.default_rng(0), per_accelerator=4)
    groups = [idx[i:i + 4] for i in range(0, 30, 4)]
    assert len(groups[-1]) == 2                          # the last group is what is left
    for g in groups:
        assert (g[:, has] == g[0, has]).all()          # one accelerator per group
    assert len({tuple(g[0, has]) for g in groups}) > 1
    assert len({tuple(r) for r in idx[:, ~has]}) > 20   # networks drawn independently
    plain = draw_indices(space, 30, np.random.default_rng(0))
    assert (draw_indices(space, 30, np.random.default_rng(0), per_accelerator=1) == plain).all()
    with pytest.raises(ValueError, match="per_accelerator"):
        sample_designs(SPACE, "edge", 10, "unused.npz", per_accelerator=0, progress=False)


def test_sampling_is_deterministic_resumable_and_keeps_crashes(tmp_path, toy, monkeypatch):
    a = sample_designs(SPACE, toy, 250, tmp_path / "a.npz", seed=5, workers=1, chunk=100,
                       progress=False)
    cols, meta = load_samples(a)
    assert cols["idx"].shape == (250, len(FeatureSchema(load_space(SPACE)).params))
    assert meta["backend"] == "toy" and meta["space"]["name"] == SPACE
    # designs with io 25 crash the toy simulator: kept, labelled, NaN costs
    io = load_space(SPACE)["io_bandwidth_gbyte_s"]
    col = [p.name for p in load_space(SPACE).params if not p.fixed].index("io_bandwidth_gbyte_s")
    crashed = cols["idx"][:, col] == io.index(25)
    assert crashed.any() and not crashed.all()
    assert all(r.startswith("error: RuntimeError: simulator crashed") for r in
               cols["reason"][crashed])
    assert np.isnan(cols["latency_ms"][crashed]).all()
    assert np.isfinite(cols["latency_ms"][~crashed]).all()
    # an interrupted run resumes to the same data
    real = _sampling._evaluate_chunk
    calls = []

    def flaky(space, backend, idx, metrics):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(space, backend, idx, metrics)

    monkeypatch.setattr(_sampling, "_evaluate_chunk", flaky)
    with pytest.raises(KeyboardInterrupt):
        sample_designs(SPACE, toy, 250, tmp_path / "b.npz", seed=5, workers=1, chunk=100,
                       progress=False)
    assert (tmp_path / "b.npz.parts" / "part-00000.npz").exists()
    monkeypatch.setattr(_sampling, "_evaluate_chunk", real)
    with pytest.raises(ValueError, match="other settings"):
        sample_designs(SPACE, toy, 250, tmp_path / "b.npz", seed=6, workers=1, chunk=100,
                       progress=False)
    b = sample_designs(SPACE, toy, 250, tmp_path / "b.npz", seed=5, workers=1, chunk=100,
                       progress=False)
    cb, _ = load_samples(b)
    for k in cols:
        assert np.array_equal(cols[k], cb[k], equal_nan=cols[k].dtype.kind == "f"), k
    assert not (tmp_path / "b.npz.parts").exists()


@pytest.mark.integration
def test_sampling_in_worker_processes_matches_one_process(tmp_path):
    a = sample_designs(SPACE, "edge", 300, tmp_path / "a.npz", seed=1, workers=1, chunk=100,
                       progress=False)
    b = sample_designs(SPACE, "edge", 300, tmp_path / "b.npz", seed=1, workers=2, chunk=100,
                       progress=False)
    ca, cb = load_samples(a)[0], load_samples(b)[0]
    assert all(np.array_equal(ca[k], cb[k], equal_nan=ca[k].dtype.kind == "f") for k in ca)


def test_sample_file_errors(tmp_path):
    with pytest.raises(ValueError, match="no sample file"):
        load_samples(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable sample file"):
        load_samples(bad)
    with pytest.raises(ValueError, match="perturb_frac"):
        sample_designs(SPACE, "edge", 10, tmp_path / "x.npz", perturb_frac=0.5)


def test_fit_config_rejects_an_unknown_schedule():
    with pytest.raises(ValueError, match="lr_schedule must be one of .* got 'linear'"):
        FitConfig(lr_schedule="linear")


@pytest.mark.slow
def test_cosine_schedule_trains_its_whole_length(tmp_path, toy):
    path = sample_designs(SPACE, toy, 600, tmp_path / "s.npz", workers=1, chunk=300,
                          progress=False)
    cfg = FitConfig(hidden=(16,), max_epochs=7, patience=1, lr_schedule="cosine", device="cpu")
    sur = fit_surrogate(path, config=cfg, log=lambda s: None)
    assert sur.meta["training"]["members"][0]["epochs"] == 7     # patience ignored


def test_regression_metrics_by_hand():
    r = regression_metrics(np.array([1.0, 2.0, 4.0, 8.0]), np.array([1.04, 2.2, 4.0, 6.0]))
    # relative errors 0.04, 0.1, 0, 0.25 -> MAPE 9.75 %; within 5 %: 2/4; within 10 %: 3/4
    assert r["mape_pct"] == pytest.approx(9.75)
    assert r["within_5pct"] == 50 and r["within_10pct"] == 75
    assert r["kendall_tau"] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A surrogate of the toy backend (a log-linear function) trained for a few seconds."""
    hardware._BACKENDS["toy"] = ToyBackend
    d = tmp_path_factory.mktemp("sur")
    path = sample_designs(SPACE, "toy", 4000, d / "s.npz", seed=0, workers=1, chunk=1000,
                          progress=False)
    torch.manual_seed(0)
    cfg = FitConfig(hidden=(64, 64), dropout=0.0, lr=3e-3, batch_size=128, max_epochs=150,
                    patience=150,
                    ensemble=2, device="cpu")
    sur = fit_surrogate(path, config=cfg, log=lambda s: None)
    yield sur, d
    hardware._BACKENDS.pop("toy", None)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """A surrogate of the toy backend trained for two epochs, for what does not depend on how
    well it learnt (saving, loading, refusals); the fast loop's cousin of ``trained``."""
    hardware._BACKENDS["toy"] = ToyBackend
    d = tmp_path_factory.mktemp("quick")
    path = sample_designs(SPACE, "toy", 1000, d / "s.npz", seed=0, workers=1, chunk=1000,
                          progress=False)
    torch.manual_seed(0)
    cfg = FitConfig(hidden=(16, 16), dropout=0.0, batch_size=128, max_epochs=2, patience=2,
                    ensemble=2, device="cpu")
    yield fit_surrogate(path, config=cfg, log=lambda s: None), d
    hardware._BACKENDS.pop("toy", None)


@pytest.mark.slow
def test_fit_learns_a_known_function(trained):
    sur, _ = trained
    m = sur.meta["metrics"]
    # log latency and log area are linear in the log2 features: the MLP must get them close
    assert m["area_mm2"]["mape_pct"] < 3.0, m["area_mm2"]
    assert m["latency_ms"]["mape_pct"] < 3.0, m["latency_ms"]
    assert m["latency_ms"]["kendall_tau"] > 0.95
    assert m["feasibility_accuracy_pct"] > 97
    assert sur.meta["data"]["n_errors"] > 0          # crashed designs were left out
    space = load_space(SPACE)
    design = space.sample(1, seed=9)[0] | {"pes_x": 4, "pes_y": 2, "simd_units": 32}
    pred = sur.predict([design])
    assert pred["area_mm2"][0] == pytest.approx(8.0, rel=0.05)
    assert pred["latency_ms"][0] == pytest.approx(0.01 * 2 * 2, rel=0.05)
    assert pred["area_mm2_std"][0] > 0               # two ensemble members disagree a little


def test_save_load_round_trip_and_refusals(quick, tmp_path):
    sur, _ = quick
    path = sur.save(tmp_path / "m.pt")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["space"]["name"] == SPACE and meta["targets"] == sur.targets
    loaded = load_surrogate(path, load_space(SPACE))
    idx = load_space(SPACE).indices(load_space(SPACE).sample(50, seed=2))
    for k, v in sur.predict(idx).items():
        assert np.allclose(v, loaded.predict(idx)[k]), k
    with pytest.raises(SurrogateError, match="trained for space 'nb201-edge'"):
        load_surrogate(path, load_space("nahas-mbv2-edge"))
    # truncated weights
    blob = path.read_bytes()
    path.write_bytes(blob[:len(blob) // 2])
    with pytest.raises(SurrogateError, match="truncated, corrupt or replaced"):
        load_surrogate(path)
    # a pickle that would run code, with a matching checksum: weights_only refuses it
    import hashlib
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"states": Evil()}, path, _use_new_zipfile_serialization=True,
               pickle_module=pickle)
    meta["weights_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(SurrogateError, match="cannot load surrogate weights"):
        load_surrogate(path)
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(SurrogateError, match="not valid JSON"):
        load_surrogate(path)
    with pytest.raises(SurrogateError, match="does not exist"):
        load_surrogate(tmp_path / "nothing.pt")


@pytest.mark.slow
def test_folded_fast_path_matches_the_feature_path(trained):
    sur, _ = trained
    space = load_space(SPACE)
    idx = space.indices(space.sample(300, seed=5))
    with torch.inference_mode():  # features -> normalise -> full MLP, the unfolded reference
        ref = sur._decode(sur._raw(torch.from_numpy(sur.schema.transform(idx))).double().numpy())
    fast = sur.predict(idx)
    for k in ref:  # member spreads are differences: float32 rounding relative to the value
        scale = ref[k.removesuffix("_std")]
        assert np.allclose(fast[k], ref[k], rtol=1e-5, atol=1e-5 * float(np.max(scale))), k
    bf16 = sur.predict(idx, precision="bfloat16")
    for t in sur.targets:  # bfloat16 hidden layers: close, not identical
        rel = np.abs(bf16[t] / ref[t] - 1)
        assert rel.mean() < 0.01 and rel.max() < 0.05, t
    assert sur.predict(idx[:0])["latency_ms"].shape == (0,)
    with pytest.raises(ValueError, match="precision"):
        sur.predict(idx, precision="float16")


@pytest.mark.slow
def test_relaxed_predictions_match_and_have_gradients(trained):
    sur, _ = trained
    space = load_space(SPACE)
    idx = space.indices(space.sample(3, seed=4))
    logits = [torch.zeros(3, len(p.choices), dtype=torch.float32, requires_grad=True)
              for p in sur.schema.params]
    with torch.no_grad():
        for j, lg in enumerate(logits):
            lg[torch.arange(3), torch.as_tensor(idx[:, j])] = 30.0   # ~one-hot
    probs = [torch.softmax(lg, -1) for lg in logits]
    out = sur.predict_relaxed(probs)
    ref = sur.predict(idx)
    assert np.allclose(out["latency_ms"].detach().numpy(), ref["latency_ms"], rtol=1e-4)
    # gradient of the summed latency w.r.t. soft pes_x probabilities (uniform logits)
    j = [p.name for p in sur.schema.params].index("pes_x")
    soft = [torch.softmax(lg.detach(), -1) for lg in logits]
    soft[j] = torch.full((3, 5), 0.2, requires_grad=True)
    lat = sur.predict_relaxed(soft)["latency_ms"].sum()
    (g,) = torch.autograd.grad(lat, soft[j])
    assert torch.isfinite(g).all()
    # latency grows with pes_x (toy: proportional), so weight on 8 PEs costs more than on 1
    assert (g[:, 4] > g[:, 0]).all()


@pytest.mark.slow
def test_surrogate_backend_in_a_study_and_verify(trained, tmp_path):
    sur, _ = trained
    path = sur.save(tmp_path / "m.pt")
    name = f"surrogate:{path}"
    assert backend_metrics(name) == ("latency_ms", "energy_mj", "area_mm2")
    backend = get_backend(name)
    space = load_space(SPACE)
    res = backend(space, space.sample(20, seed=0))
    assert res.feasible.dtype == bool and np.isfinite(res.latency_ms).all()
    assert all(("p_feasible" in r) == (not f) for r, f in zip(res.reason, res.feasible))
    with pytest.raises(SurrogateError, match="cannot evaluate space"):
        backend(load_space("nahas-mbv2-edge"), load_space("nahas-mbv2-edge").sample(1))
    objs = ObjectiveSet.from_dict({
        "name": "toy-sur", "cost": name,
        "objectives": [{"metric": "latency_ms", "direction": "minimize"},
                       {"metric": "area_mm2", "direction": "minimize"}]})
    study = create_study(space, objs, sampler="random", seed=0, storage=None)
    study.optimize(make_objective(space, objs), n_trials=25)
    rep = verify_pareto(study, "toy", space)
    assert rep["n"] >= 1 and len(rep["rows"]) == rep["n"]
    # recorded (surrogate) vs real (toy) costs agree to a few per cent on the toy function
    finite = [r for r in rep["rows"] if np.isfinite(r["area_mm2_real"])]
    for r in finite:
        assert r["area_mm2_recorded"] == pytest.approx(r["area_mm2_real"], rel=0.1)


@pytest.mark.slow
def test_cli_sample_train_run_verify(tmp_path, capsys):
    samples = tmp_path / "s.npz"
    assert main(["sample", "--space", SPACE, "--backend", "edge", "--n", "600", "--out",
                 str(samples), "--workers", "1", "--chunk", "300", "-q"]) == 0
    model = tmp_path / "m.pt"
    assert main(["train-surrogate", "--samples", str(samples), "--out", str(model),
                 "--epochs", "40", "--hidden", "32", "32", "--lr", "0.003", "-q"]) == 0
    out = capsys.readouterr().out
    assert "latency_ms" in out and "feasibility accuracy" in out
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["run", "--backend", f"surrogate:{model}", "--trials", "12", "--storage", db,
                 "--study-name", "s", "--sampler", "random", "--out", str(tmp_path / "o"),
                 "-q"]) == 0
    assert main(["verify", "--study-name", "s", "--storage", db, "--backend", "edge",
                 "--out", str(tmp_path / "v.json")]) == 0
    rep = json.loads((tmp_path / "v.json").read_text())
    assert rep["n"] == len(rep["rows"]) >= 1
    assert main(["verify", "--study-name", "nope", "--storage", db]) == 2
    assert "no study 'nope'" in capsys.readouterr().err
    assert main(["run", "--backend", f"surrogate:{tmp_path / 'x.pt'}", "--trials", "1",
                 "--storage", db, "-q"]) == 2
    assert "does not exist" in capsys.readouterr().err
