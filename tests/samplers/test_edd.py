"""The differentiable co-search sampler ``edd`` (seed 003's method, EDD).

Its parts by hand (relaxed levels and features, the predictor's targets, the loss, the
temperature schedule), then behaviour: it beats random search on synthetic categorical problems
with known optima (one and two objectives, and under a constraint), it is reproducible, it
resumes from storage and shares designs in flight with other workers, a ``relaxed_cost`` model
is plugged in with its own parameter order, and it runs through the CLI on the built-in spaces.
"""

from __future__ import annotations

import json
import math

import moocore
import numpy as np
import optuna
import pytest
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.testing.pytest_samplers import (BasicSamplerTestCase, MultiObjectiveSamplerTestCase,
                                            RelativeSamplerTestCase)
from optuna.trial import TrialState

from moo_cosearch import create_study, load_space, make_objective
from moo_cosearch.cli import main
from moo_cosearch.samplers import create_sampler, list_samplers, sampler_study_options
from moo_cosearch.samplers._edd._sampler import EDD_KEY, EDDSampler
from moo_cosearch.samplers._edd._model import Targets, fit_ensemble
from moo_cosearch.samplers._edd._search import Scalariser, optimise_logits, sample_rows
from moo_cosearch.samplers._edd._space import Relaxation

optuna.logging.set_verbosity(optuna.logging.WARNING)

CHOICES = ["a", "b", "c", "d", "e"]
N_PARAMS = 8


def info(trial) -> dict:
    return json.loads(trial.system_attrs[EDD_KEY])


def target(seed: int) -> np.ndarray:
    return np.random.default_rng(100 + seed).integers(len(CHOICES), size=N_PARAMS)


def suggest(trial) -> np.ndarray:
    return np.array([CHOICES.index(trial.suggest_categorical(f"p{i}", CHOICES))
                     for i in range(N_PARAMS)])


def mismatches(seed: int):
    """8 params x 5 choices; the objective counts the params off a hidden target (optimum 0)."""
    tgt = target(seed)
    return lambda trial: float(np.sum(suggest(trial) != tgt))


# ---- Optuna's sampler suites (all three, no exclusions), with a small, fast predictor ----------
class TestEDDOptunaSuites(BasicSamplerTestCase, RelativeSamplerTestCase,
                          MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: create_sampler("edd", seed=0, n_startup_trials=2, n_steps=5, hidden=8,
                                      fit_epochs=20, refit_epochs=5)


# ---- parts --------------------------------------------------------------------------------------
def test_registered_with_its_study_options():
    assert "edd" in list_samplers()
    assert sampler_study_options("edd") == {"reference_point", "ordered"}
    assert isinstance(create_sampler("edd", seed=0), EDDSampler)


@pytest.mark.parametrize("options, message", [
    ({"scalarisation": "sum"}, "scalarisation must be one of"),
    ({"tau_start": 0.1, "tau_end": 1.0}, "must not exceed tau_start"),
    ({"n_steps": 0}, "n_steps must be an integer >= 1"),
    ({"lr": -1.0}, "lr must be a number > 0"),
    ({"penalty_base": 1.0}, "penalty_base must be a number > 1"),
    ({"optimism": -0.5}, "optimism must be a number >= 0"),
    ({"weights": [1.0, -1.0]}, "weights must be non-negative"),
    ({"relaxed_objectives": ["latency_ms"]}, "relaxed_cost and relaxed_objectives go together"),
    ({"relaxed_cost": lambda probs: {}}, "relaxed_cost and relaxed_objectives go together"),
    ({"relaxed_cost": lambda probs: {}, "relaxed_objectives": "latency_ms"},
     "must be a list of metric names"),
    ({"reference_point": [0.0, float("nan")]}, "reference_point must be finite"),
    ({"n_gumbel": True}, "n_gumbel must be int"),
    ({"unknown": 1}, "takes options"),
])
def test_bad_options_fail_at_construction(options, message):
    with pytest.raises(ValueError, match=message):
        create_sampler("edd", seed=0, **options)


def test_relaxation_levels_indices_and_features():
    space = {"op": CategoricalDistribution(["conv", "pool", "skip"]),
             "pes": CategoricalDistribution([1, 2, 4, 8]),
             "n": IntDistribution(0, 100),
             "lr": FloatDistribution(1e-3, 1e-1, log=True),
             "two": CategoricalDistribution(["x", "y"])}
    r = Relaxation(space, ordered={"pes": True}, max_levels=5)
    assert r.names == ("lr", "n", "op", "pes", "two")          # sorted by name
    levels = {p.name: p.levels for p in r.params}
    assert levels["n"] == (0, 25, 50, 75, 100)
    np.testing.assert_allclose(levels["lr"], [1e-3, 10 ** -2.5, 1e-2, 10 ** -1.5, 1e-1])
    assert [p.ordered for p in r.params] == [True, True, False, True, False]
    assert list(r.sizes) == [5, 5, 3, 4, 2] and r.mask.sum() == 19
    idx = r.indices([{"op": "skip", "pes": 4, "n": 30, "lr": 0.011, "two": "y"}])
    assert idx.tolist() == [[2, 1, 2, 2, 1]]                    # nearest level for numbers
    assert r.design(idx[0]) == {"lr": pytest.approx(1e-2), "n": 25, "op": "skip", "pes": 4,
                                "two": "y"}
    assert levels["lr"][0] == 1e-3 and levels["lr"][-1] == 1e-1     # bounds exact
    assert r.covers({"op": "skip", "pes": 4, "n": 30, "lr": 0.011, "two": "y"})
    assert not r.covers({"op": "skip", "pes": 3, "n": 30, "lr": 0.011, "two": "y"})
    assert not r.covers({"op": "skip", "pes": 4, "n": 101, "lr": 0.011, "two": "y"})
    assert not r.covers({"op": "skip", "pes": 4, "n": 30, "two": "y"})
    feat = r.one_hot(idx) @ r.feature_matrix()
    # one-hot blocks (19 columns), then the level position of lr, n and pes (ordered, k > 2)
    assert feat.shape == (1, 22)
    np.testing.assert_allclose(feat[0, 19:], [2 / 4, 1 / 4, 2 / 3])
    assert np.flatnonzero(feat[0, :19]).tolist() == [2, 5 + 1, 10 + 2, 13 + 2, 17 + 1]


def test_targets_loss_form_log_scale_and_constraints():
    study = optuna.create_study(directions=["maximize", "minimize"])
    for acc, lat, c in [(90.0, 0.01, -0.5), (80.0, 1.0, 2.0), (85.0, 0.1, 0.0)]:
        study.add_trial(optuna.trial.create_trial(
            values=[acc, lat], constraints={"limit": c, "fixed": 0.0}))
    t = Targets.from_trials(study.trials, study.directions)
    assert t.log.tolist() == [False, True]       # latency spans two decades: log scale
    np.testing.assert_allclose(t.Z[:, 0], [-90, -80, -85])
    np.testing.assert_allclose(t.Z[:, 1], np.log([0.01, 1.0, 0.1]))
    assert t.U.shape == (3, 1)                   # the constant constraint is dropped
    np.testing.assert_allclose(t.U[:, 0], [-math.log1p(0.5), math.log1p(2.0), 0.0])
    assert t.feasible.tolist() == [True, False, True]
    assert t.loss_form_value(1, 0.1) == pytest.approx(math.log(0.1))
    assert math.isnan(t.loss_form_value(1, -1.0))


def test_scalariser_by_hand():
    study = optuna.create_study(directions=["minimize", "minimize"])
    for a, b in [(1.0, 3.0), (3.0, 1.0), (2.0, 2.0)]:
        study.add_trial(optuna.trial.create_trial(values=[a, b]))
    t = Targets.from_trials(study.trials, study.directions)
    s = Scalariser.from_targets(t, None, np.array([0.5, 0.5]), kind="product", margin=0.5,
                                beta=2.0, base=10.0)
    np.testing.assert_allclose(s.ideal, [0.0, 0.0])     # best 1 - 0.5 * range 2
    np.testing.assert_allclose(s.nadir, [3.0, 3.0])
    z = torch.tensor([[1.5, 3.0], [1.5, 3.0], [-1.0, 3.0]])
    v = torch.tensor([[-0.3], [0.5], [-1.0]])
    out = s(z, v).numpy()
    assert out[0] == pytest.approx(0.5 * 1.0)                         # l = (0.5, 1): EDD product
    assert out[1] == pytest.approx(0.5 + 2.0 * (10 ** 0.5 - 1))       # violation 0.5 penalised
    assert out[2] == pytest.approx(1e-3)                              # floored below the ideal
    # a reference point replaces the worst observed value as the nadir
    s = Scalariser.from_targets(t, np.array([5.0, np.nan]), np.array([0.5, 0.5]),
                                kind="chebyshev", margin=0.5, beta=1.0, base=10.0)
    np.testing.assert_allclose(s.ideal, [-1.0, 0.0])
    np.testing.assert_allclose(s.nadir, [5.0, 3.0])
    out = s(torch.tensor([[2.0, 1.5], [6.5, 1.5]]), torch.zeros(2, 0)).numpy()
    assert out[0] == pytest.approx(0.5 * 0.5 + 0.05 * (0.25 + 0.25))
    # beyond the reference point (l = 7.5 / 6): penalised like a violated constraint
    assert out[1] == pytest.approx(0.5 * 1.25 + 0.05 * (0.625 + 0.25) + (10 ** 0.25 - 1))
    assert s.bounded.tolist() == [True, False]   # the worst observed value bounds nothing


def test_adam_is_adamw_by_hand():
    """Our Adam (no torch.optim import) against the AdamW update written out in numpy."""
    from moo_cosearch.samplers._edd._model import Adam

    x = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0]])
    w0 = np.array([0.5, -1.0])
    w = torch.tensor(w0, requires_grad=True)
    opt = Adam([w], lr=0.05, weight_decay=0.1)
    ref, m, v = w0.copy(), np.zeros(2), np.zeros(2)
    for t in range(1, 21):
        opt.step(((torch.tensor(x) @ w) ** 2).sum())
        g = 2 * x.T @ (x @ ref)
        ref = ref * (1 - 0.05 * 0.1)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g ** 2
        ref = ref - 0.05 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-10)


def test_optimism_lowers_only_the_objectives_by_the_member_spread():
    r = Relaxation({"p": CategoricalDistribution(CHOICES)})
    idx = np.arange(5)[:, None]
    y = np.stack([np.arange(5.0), -np.arange(5.0)], axis=1)      # one objective, one constraint
    model = fit_ensemble(r.one_hot(idx) @ r.feature_matrix(), y, members=4, hidden=8, epochs=5,
                         lr=0.01, weight_decay=0.0, gen=torch.Generator().manual_seed(0))
    x = torch.as_tensor(r.one_hot(idx) @ r.feature_matrix(), dtype=torch.float32)
    members = model(x) * model.y_std + model.y_mean
    with torch.no_grad():
        plain, bound = model.predict(x), model.predict(x, optimism=2.0, columns=1)
    torch.testing.assert_close(plain, members.mean(0))
    torch.testing.assert_close(bound[:, 0], plain[:, 0] - 2.0 * members[:, :, 0].std(0))
    torch.testing.assert_close(bound[:, 1], plain[:, 1])


def test_temperature_anneals_with_finished_trials():
    s = EDDSampler(n_startup_trials=10, tau_start=4.0, tau_end=0.25, anneal_trials=40)
    assert s.temperature(0) == s.temperature(10) == pytest.approx(4.0)
    assert s.temperature(30) == pytest.approx(1.0)           # geometric midpoint
    assert s.temperature(50) == s.temperature(500) == pytest.approx(0.25)


@pytest.mark.slow
def test_descent_finds_the_predictors_optimum_and_sampling_follows_tau():
    """An additive function learned by the ensemble, then descended through Gumbel-softmax:
    the argmax of the logits is the optimum, and a low temperature samples it."""
    r = Relaxation({f"p{i}": CategoricalDistribution(CHOICES) for i in range(4)})
    rng = np.random.default_rng(0)
    idx = r.random(60, rng)
    tgt = np.array([1, 3, 0, 4])
    y = (idx != tgt).sum(1, keepdims=True).astype(float)
    gen = torch.Generator().manual_seed(0)
    feat = r.feature_matrix()
    model = fit_ensemble(r.one_hot(idx) @ feat, y, members=3, hidden=32, epochs=300, lr=0.01,
                         weight_decay=0.0, gen=gen)
    mask_t, feat_t = torch.as_tensor(r.mask), torch.as_tensor(feat, dtype=torch.float32)

    def predict(probs):
        return model.predict(probs[:, mask_t] @ feat_t), torch.zeros(len(probs), 0)

    theta = optimise_logits(r.mask, predict, lambda z, v: z[:, 0], tau=1.0, steps=60, lr=0.2,
                            samples=16, gen=gen)
    assert theta.argmax(1).tolist() == tgt.tolist()
    cold = sample_rows(theta, r.mask, 0.01, 50, rng)
    hot = sample_rows(theta, r.mask, 100.0, 400, rng)
    assert (cold == tgt).all()
    assert (hot != tgt).mean() > 0.6                           # near uniform: 0.8 off target


# ---- beats random ---------------------------------------------------------------------------
def run(sampler, objective, n_trials, directions=("minimize",)):
    study = optuna.create_study(directions=list(directions), sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return study


SEEDS = (0, 1, 2)


@pytest.mark.slow
def test_beats_random_on_a_known_optimum():
    edd = [run(create_sampler("edd", seed=s), mismatches(s), 30).best_value for s in SEEDS]
    rnd = [run(create_sampler("random", seed=s), mismatches(s), 30).best_value for s in SEEDS]
    # random search over 5^8 designs is ~4 params off after 30 trials; edd gets within ~1
    assert np.median(edd) <= 2 and np.median(edd) + 2 <= np.median(rnd), (edd, rnd)


def two_objective(seed: int):
    """Params off target A and off target B = A + 2 (mod 5): the front is (k, 8 - k)."""
    a = target(seed)
    b = (a + 2) % len(CHOICES)

    def f(trial):
        x = suggest(trial)
        return float(np.sum(x != a)), float(np.sum(x != b))

    return f


@pytest.mark.slow
def test_beats_random_on_a_known_front():
    ref = np.array([9.0, 9.0])
    front = np.array([[k, N_PARAMS - k] for k in range(N_PARAMS + 1)], dtype=float)
    best = moocore.hypervolume(front, ref=ref)

    def hv(study):
        return moocore.hypervolume(np.array([t.values for t in study.trials]), ref=ref) / best

    edd = [hv(run(create_sampler("edd", seed=s), two_objective(s), 40, ("minimize",) * 2))
           for s in SEEDS]
    rnd = [hv(run(create_sampler("random", seed=s), two_objective(s), 40, ("minimize",) * 2))
           for s in SEEDS]
    # random: ~0.5 of the best hypervolume after 40 trials; edd ~0.9
    assert np.median(edd) >= 0.75 and np.median(edd) >= np.median(rnd) + 0.2, (edd, rnd)


def constrained(seed: int):
    """Mismatches to a target of index sum 25 under ``sum(x) <= 12``: the constrained optimum
    is 4 params off (three 4s to 0 and one 3 to 2)."""
    tgt = np.array([4, 3, 4, 2, 3, 4, 1, 4])

    def f(trial):
        x = suggest(trial)
        trial.set_constraint("budget", (x.sum() - 12) / 12)
        return float(np.sum(x != tgt))

    return f


@pytest.mark.slow
def test_honours_constraints():
    def feasible(study):
        return [t for t in study.trials if all(c <= 0 for c in t.constraints.values())]

    edd = [run(create_sampler("edd", seed=s), constrained(s), 30) for s in SEEDS]
    rnd = [run(create_sampler("random", seed=s), constrained(s), 30) for s in SEEDS]
    late = [np.mean([all(c <= 0 for c in t.constraints.values()) for t in st.trials[-15:]])
            for st in edd]
    assert np.median(late) >= 0.6, late                     # random: ~0.15
    best = [min(t.values[0] for t in feasible(st)) for st in edd]
    best_rnd = [min(t.values[0] for t in feasible(st)) for st in rnd]
    assert np.median(best) <= 5 and np.median(best) < np.median(best_rnd), (best, best_rnd)


# ---- reproducible, resumable, several workers -------------------------------------------------
@pytest.mark.slow
def test_same_seed_same_trials():
    def params(seed):
        study = run(EDDSampler(seed=seed, n_startup_trials=4), mismatches(0), 10)
        return [t.params for t in study.trials]

    a = params(7)
    assert a == params(7)
    assert a != params(8)


@pytest.mark.slow
def test_resume_rebuilds_from_storage(tmp_path):
    url = f"sqlite:///{tmp_path}/edd.db"
    study = optuna.create_study(storage=url, study_name="s",
                                sampler=EDDSampler(seed=0, n_startup_trials=5))
    study.optimize(mismatches(0), n_trials=8)
    # a new process: fresh sampler, no memory of the first run
    again = optuna.load_study(storage=url, study_name="s",
                              sampler=EDDSampler(seed=1, n_startup_trials=5))
    again.optimize(mismatches(0), n_trials=3)
    trials = again.trials
    assert len(trials) == 11
    resumed = [info(t) for t in trials[8:]]
    assert [i["phase"] for i in resumed] == ["model"] * 3      # no second start-up phase
    assert [i["n_train"] for i in resumed] == [8, 9, 10]
    assert resumed[0]["tau"] == pytest.approx(again.sampler.temperature(8))
    assert len({tuple(t.params.values()) for t in trials}) == 11


@pytest.mark.slow
def test_workers_share_designs_in_flight(tmp_path):
    """Two workers with the same seed (as two ``moo-cosearch run`` processes) on one storage ask
    before either tells: each sees the other's pending design (without it, the two generators
    being identical, both would propose the same design every round)."""
    url = f"sqlite:///{tmp_path}/w.db"
    space = {f"q{i}": CategoricalDistribution([0, 1, 2]) for i in range(3)}
    workers = [optuna.create_study(storage=url, study_name="w", load_if_exists=True,
                                   sampler=EDDSampler(seed=0, n_startup_trials=3))
               for _ in range(2)]
    for _ in range(6):
        asked = [w.ask(space) for w in workers]
        for w, t in zip(workers, asked):
            w.tell(t, float(sum(t.params.values())))
    trials = workers[0].trials
    assert all(t.state == TrialState.COMPLETE for t in trials) and len(trials) == 12
    # trials 0 and 1 come from the independent sampler (no search space before a trial
    # completes) and may coincide; every later design is new
    designs = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(designs[1:])) == 11
    # the second worker's model was trained on the first worker's trials too
    assert [info(t)["phase"] for t in trials[-2:]] == ["model"] * 2
    assert info(trials[-1])["n_train"] == 10


# ---- a relaxed cost model ---------------------------------------------------------------------
@pytest.mark.slow
def test_relaxed_cost_in_its_own_parameter_order():
    """A differentiable cost model taking its probabilities in reverse name order replaces the
    ensemble: it points at another target than the objective, and the sampler follows it."""
    decoy = (target(0) + 1) % len(CHOICES)
    order = [f"p{i}" for i in reversed(range(N_PARAMS))]
    shapes = []

    def cost(probs):
        shapes.append([tuple(p.shape) for p in probs])
        off = sum(1 - p[:, decoy[int(name[1:])]] for p, name in zip(probs, order))
        return {"mismatch": off}

    sampler = create_sampler("edd", seed=0, n_startup_trials=5, relaxed_cost=cost,
                             relaxed_objectives=["mismatch"], relaxed_params=order,
                             tau_start=0.5, anneal_trials=1)   # exploit at once
    study = optuna.create_study(sampler=sampler)
    study.set_metric_names(["mismatch"])
    study.optimize(mismatches(0), n_trials=12)
    assert shapes and shapes[0] == [(16, 5)] * N_PARAMS
    late = np.array([[CHOICES.index(t.params[f"p{i}"]) for i in range(N_PARAMS)]
                     for t in study.trials[-4:]])
    assert (late == decoy).mean() > 0.8                  # the decoy, not the real target


@pytest.mark.slow
def test_relaxed_cost_names_must_be_study_metrics():
    sampler = EDDSampler(seed=0, n_startup_trials=2, relaxed_cost=lambda p: {},
                         relaxed_objectives=["latency"])
    study = optuna.create_study(sampler=sampler)
    study.set_metric_names(["mismatch"])
    with pytest.raises(ValueError, match="not metric names of the study"):
        study.optimize(mismatches(0), n_trials=4, catch=())


@pytest.mark.slow
def test_surrogate_features_plug_in_with_the_space_order(tmp_path):
    """``Surrogate.predict_relaxed`` takes its probabilities in the space's parameter order
    (``schema.params``) and checks each matrix's width; a relaxed cost on the same features,
    with ``relaxed_params`` naming that order, runs in a real study (the default sorted order
    would hand it the wrong matrices)."""
    from moo_cosearch.surrogate import FeatureSchema

    space = load_space("nb201-edge")
    schema = FeatureSchema(space)
    order = [p.name for p in schema.params]
    assert order != sorted(order)
    w = torch.linspace(-1, 1, schema.width)

    def cost(probs):
        return {"latency_ms": torch.exp(schema.relaxed(probs).float() @ w) * 1e-3}

    def study(**extra):
        st = create_study(space, "nb201-cifar10-latency-area", sampler="edd", seed=0,
                          storage=None, sampler_options={
                              "n_startup_trials": 3, "relaxed_cost": cost,
                              "relaxed_objectives": ["latency_ms"], **extra})
        st.optimize(make_objective(space, "nb201-cifar10-latency-area"), n_trials=5,
                    catch=())
        return st

    assert [info(t)["phase"] for t in study(relaxed_params=order).trials[3:]] == ["model"] * 2
    with pytest.raises(ValueError, match="probabilities for .* need"):
        study()


# ---- the product: CLI on the built-in spaces ------------------------------------------------
COST_ONLY = """
name = "mbv2-cost"
description = "latency and area only"
space = "nahas-mbv2-edge"
cost = "edge"

[[objectives]]
metric = "latency_ms"
direction = "minimize"

[[objectives]]
metric = "area_mm2"
direction = "minimize"
"""


@pytest.mark.slow
def test_cli_run_and_resume(tmp_path, capsys):
    """``moo-cosearch run --sampler edd`` on nb201-edge (default objective set), twice."""
    db = f"sqlite:///{tmp_path}/cli.db"
    argv = ["run", "--sampler", "edd", "--trials", "5", "--storage", db,
            "--out", str(tmp_path / "out"), "-o", "n_startup_trials=3", "-q"]
    assert main(argv) == 0
    assert main(argv) == 0
    assert "resuming with 5 trials" in capsys.readouterr().out
    (name,) = optuna.get_all_study_names(db)
    trials = optuna.load_study(study_name=name, storage=db).trials
    assert len(trials) == 10 and all(t.state == TrialState.COMPLETE for t in trials)
    phases = [info(t)["phase"] for t in trials[1:]]           # trial 0: independent sampler
    assert phases == ["startup"] * 2 + ["model"] * 7


@pytest.mark.slow
@pytest.mark.parametrize("space, objectives", [("nahas-mbv2-edge", "cost-only"),
                                               ("nb201-edge", "nb201-nahas-reward-hard")])
def test_other_spaces_and_objective_sets(space, objectives, tmp_path):
    """What ``run`` does, in process: the 40-parameter space with a cost-only set, and the
    single-objective reward set; the study's reference point and ordered flags reach it."""
    if objectives == "cost-only":
        objectives = tmp_path / "cost.toml"
        objectives.write_text(COST_ONLY)
    joint = load_space(space)
    study = create_study(joint, objectives, sampler="edd", seed=0, storage=None,
                         sampler_options={"n_startup_trials": 3})
    assert study.sampler._ordered == {p.name: p.ordered for p in joint.params if not p.fixed}
    study.optimize(make_objective(joint, objectives), n_trials=6)
    trials = study.trials
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert [info(t)["phase"] for t in trials[3:]] == ["model"] * 3
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == 6

