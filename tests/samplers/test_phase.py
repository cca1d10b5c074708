"""Phase baselines (``fixed-hw``, ``phase``, ``hw-then-nas``): the declared budget split, pinned
groups, what the inner sampler sees, resume and several workers, the best-network rule, and
that each beats random search on problems whose optimum its phases can reach."""

from __future__ import annotations

import statistics
import warnings

import moocore
import numpy as np
import optuna
import pytest

from moo_cosearch.samplers import _registry
from moo_cosearch.cli import main
from moo_cosearch.samplers import (create_sampler, list_samplers, register_sampler,
                                  sampler_study_options)
from moo_cosearch.samplers._phase._view import PHASE_KEY

optuna.logging.set_verbosity(optuna.logging.WARNING)

NAS = [f"n{i}" for i in range(5)]
HAS = [f"h{i}" for i in range(5)]
GROUPS = {**{n: "nas" for n in NAS}, **{n: "has" for n in HAS}}
CHOICES = (0, 1, 2, 3, 4)
BASE = {n: 0 for n in NAS + HAS}
TARGET = {**{n: 3 for n in NAS}, **{n: 2 for n in HAS}}    # separable: each group on its own


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def off_target(trial: optuna.trial.BaseTrial) -> float:
    """Number of parameters off ``TARGET`` (optimum 0)."""
    return float(sum(trial.suggest_categorical(n, CHOICES) != TARGET[n] for n in NAS + HAS))


def make(name: str, seed: int = 0, **options) -> optuna.samplers.BaseSampler:
    if name != "random":
        options = {"groups": GROUPS, "baseline": BASE, **options}
    return create_sampler(name, seed=seed, **options)


def run(name: str, n_trials: int, seed: int = 0, objective=off_target, directions=("minimize",),
        **options) -> optuna.Study:
    study = optuna.create_study(directions=list(directions), sampler=make(name, seed, **options))
    study.optimize(objective, n_trials=n_trials)
    return study


def values(design: optuna.trial.FrozenTrial | dict, names: list[str]) -> tuple:
    """The values of ``names`` in a trial or a design dict."""
    params = design if isinstance(design, dict) else design.params
    return tuple(params[n] for n in names)


# ---- registration and options -----------------------------------------------------------------
def test_registered_with_the_study_options_they_use():
    known = list_samplers()
    for name in ("fixed-hw", "phase", "hw-then-nas"):
        assert name in known and known[name]
        assert {"groups", "baseline"} <= sampler_study_options(name)


@pytest.mark.parametrize("name, options, message", [
    ("phase", {"groups": None}, "needs groups= .* and baseline="),
    ("fixed-hw", {"baseline": None}, "needs groups="),
    ("phase", {"groups": {**GROUPS, "n0": "hw"}}, "'nas' or 'has'"),
    ("fixed-hw", {"groups": {n: "nas" for n in NAS}}, "at least one 'nas' and one 'has'"),
    ("phase", {"baseline": {n: 0 for n in NAS}}, r"baseline has no value for .*'h0'"),
    ("phase", {"budget": 0}, "budget must be an int >= 1"),
    ("hw-then-nas", {"first_share": 1.5}, r"first_share must be in \[0, 1\]"),
    ("phase", {"first_share": float("nan")}, "first_share"),
    ("phase", {"budget": 2.5}, "budget must be int"),
    ("fixed-hw", {"budget": 10}, "got 'budget'"),
    ("phase", {"inner": "phase"}, "inner must be a search strategy of its own"),
    ("phase", {"inner": "no-such-sampler"}, "sampler must be one of"),
    ("fixed-hw", {"inner_options": {"populaton_size": 4}}, "populaton_size"),
    ("fixed-hw", {"inner": "nsga2", "inner_options": {"population_size": 1}},
     "population_size"),
])
def test_bad_options_fail_at_construction(name, options, message):
    with pytest.raises(ValueError, match=message):
        create_sampler(name, seed=0, **{"groups": GROUPS, "baseline": BASE, **options})


def test_a_parameter_in_no_group_is_a_clear_error():
    def objective(trial):
        return off_target(trial) + trial.suggest_float("extra", 0, 1)

    with pytest.raises(ValueError, match="'extra' is in neither group"):
        run("fixed-hw", 1, objective=objective)


# ---- the split --------------------------------------------------------------------------------
def test_phase_spends_exactly_its_declared_budget_split():
    study = run("phase", 46, budget=40, first_share=0.25)
    trials = study.trials
    assert make("phase", budget=40, first_share=0.25).first_trials == 10
    first, second = trials[:10], trials[10:]
    assert [t.system_attrs[PHASE_KEY] for t in trials] == [1] * 10 + [2] * 36
    # phase 1: the accelerator at the baseline, the network searched
    assert all(values(t, HAS) == values(BASE, HAS) for t in first)
    assert len({values(t, NAS) for t in first}) >= 8
    # phase 2 (also past the budget): one network, the best of phase 1; the accelerator searched
    best = min(first, key=lambda t: (t.value, t.number))
    assert {values(t, NAS) for t in second} == {values(best, NAS)}
    assert len({values(t, HAS) for t in second}) >= 15
    assert any(values(t, HAS) != values(BASE, HAS) for t in second)


@pytest.mark.parametrize("budget, share, first", [(40, 0.0, 0), (40, 1.0, 40), (7, 0.5, 4),
                                                  (300, 0.5, 150), (10, 0.33, 3)])
def test_first_phase_is_budget_times_share_rounded(budget, share, first):
    assert make("phase", budget=budget, first_share=share).first_trials == first


def test_hw_then_nas_is_the_reverse_order():
    study = run("hw-then-nas", 30, budget=24, first_share=0.5)
    first, second = study.trials[:12], study.trials[12:]
    assert all(values(t, NAS) == values(BASE, NAS) for t in first)
    assert len({values(t, HAS) for t in first}) >= 8
    best = min(first, key=lambda t: (t.value, t.number))
    assert {values(t, HAS) for t in second} == {values(best, HAS)}
    assert len({values(t, NAS) for t in second}) >= 12


def test_fixed_hw_never_changes_the_hardware():
    study = run("fixed-hw", 40)
    assert {values(t, HAS) for t in study.trials} == {values(BASE, HAS)}
    assert len({values(t, NAS) for t in study.trials}) >= 25
    assert {t.system_attrs[PHASE_KEY] for t in study.trials} == {1}


def test_share_zero_searches_the_hardware_of_the_baseline_network_from_the_start():
    study = run("phase", 12, budget=12, first_share=0.0)
    assert {values(t, NAS) for t in study.trials} == {values(BASE, NAS)}
    assert {t.system_attrs[PHASE_KEY] for t in study.trials} == {2}


@pytest.mark.slow
def test_same_seed_same_trials():
    for name, opts in (("phase", {"budget": 20}), ("hw-then-nas", {"budget": 20}),
                       ("fixed-hw", {})):
        a, b = (run(name, 26, seed=3, **opts) for _ in range(2))
        assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert ([t.params for t in run("phase", 26, seed=3, budget=20).trials]
            != [t.params for t in run("phase", 26, seed=4, budget=20).trials])


def test_phase_two_does_not_replay_phase_one_draws():
    """Phase 2's inner sampler is seeded apart from phase 1's: with one seed, a random inner
    sampler would draw the first accelerators' choices exactly as the first networks'."""
    trials = run("phase", 16, seed=0, budget=20, inner="random").trials
    assert [values(t, HAS) for t in trials[10:16]] != [values(t, NAS) for t in trials[:6]]


# ---- what the inner sampler sees --------------------------------------------------------------
class _Spy(optuna.samplers.RandomSampler):
    """Records, per call, the trial numbers and parameter names the study view shows it."""

    def __init__(self, seed=None, log=None):
        super().__init__(seed=seed)
        self.log = log

    def sample_independent(self, study, trial, param_name, param_distribution):
        viewed = study.get_trials(deepcopy=False)
        stored = study._storage.get_all_trials(study._study_id, deepcopy=False)
        cached = study._get_trials(deepcopy=False, use_cache=True)   # as TPE reads them
        assert [t.number for t in viewed] == [t.number for t in stored] == [
            t.number for t in cached]
        self.log.append((trial.number, [t.number for t in viewed],
                         set().union(*(t.params for t in viewed)) | set(trial.params)))
        study._storage.set_study_system_attr(study._study_id, "spy", trial.number)
        assert study._storage.get_study_system_attrs(study._study_id) == {"spy": trial.number}
        return super().sample_independent(study, trial, param_name, param_distribution)


@pytest.fixture
def spy(monkeypatch):
    list_samplers()                      # the strategy modules register on the first look
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    logs: list[list] = []

    def factory(seed=None, **options):
        logs.append([])
        return _Spy(seed=seed, log=logs[-1])

    register_sampler("spy", factory, "records what it sees")
    return logs


def test_each_inner_sampler_sees_only_its_phase_and_its_groups(spy):
    study = run("phase", 16, budget=20, first_share=0.5, inner="spy")
    first, second = spy
    assert {n for n, _, _ in first} == set(range(10))
    assert {n for n, _, _ in second} == set(range(10, 16))
    for number, seen, names in first:
        assert seen == list(range(number + 1)) and names <= set(NAS)
    for number, seen, names in second:
        assert seen == list(range(10, number + 1)) and names <= set(HAS)
    attrs = study._storage.get_study_system_attrs(study._study_id)
    assert attrs[f"{PHASE_KEY}1:spy"] == 9 and attrs[f"{PHASE_KEY}2:spy"] == 15


def test_phase_two_feeds_its_inner_sampler_only_trials_of_the_pinned_network(spy):
    """A phase-2 trial made with another network (enqueued by hand) is hidden from phase 2's
    inner sampler, since its values say nothing about the accelerator for the pinned network."""
    study = optuna.create_study(sampler=make("phase", budget=8, first_share=0.5, inner="spy"))
    study.optimize(off_target, n_trials=6)
    study.enqueue_trial({n: 4 for n in NAS})
    study.optimize(off_target, n_trials=3)
    assert values(study.trials[6], NAS) == (4,) * 5
    *_, (number, seen, _) = spy[1]
    assert number == 8 and seen == [4, 5, 7, 8]


# ---- the best network -------------------------------------------------------------------------
def _ask_tell(study, value, feasible=True, values_=None):
    trial = study.ask()
    for n in NAS + HAS:
        trial.suggest_categorical(n, CHOICES)
    trial.set_constraint("limit", -1.0 if feasible else 1.0)
    study.tell(trial, values_ if values_ is not None else value)
    return study.trials[-1]


def test_best_network_is_the_best_feasible_one():
    study = optuna.create_study(sampler=make("phase", budget=8, first_share=0.5))
    first = [_ask_tell(study, v, feasible=f) for v, f in ((5, True), (1, False), (3, True),
                                                          (4, True))]
    later = [_ask_tell(study, 9) for _ in range(3)]
    assert {values(t, NAS) for t in later} == {values(first[2], NAS)}


def test_several_objectives_pin_the_chebyshev_knee_of_phase_one():
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=make("phase", budget=8, first_share=0.5))
    # a non-convex front: a weighted sum would pick an extreme, (6, 6) is the balanced one
    first = [_ask_tell(study, None, values_=v) for v in ((0, 10), (10, 0), (6, 6), (3, 9))]
    later = [_ask_tell(study, None, values_=(1, 1)) for _ in range(2)]
    assert {values(t, NAS) for t in later} == {values(first[2], NAS)}


def test_several_workers_split_exactly_and_agree_on_the_network():
    """Two samplers (workers) on one storage: phase 2 starts while a phase-1 trial still runs,
    so the first phase-2 trial pins the best finished network; once every phase-1 trial is
    finished, both pin the best of them all."""
    storage = optuna.storages.InMemoryStorage()
    a, b = (optuna.create_study(storage=storage, study_name="s", load_if_exists=True,
                                sampler=make("phase", seed=s, budget=8, first_share=0.5))
            for s in (0, 1))
    done = [_ask_tell(a if i % 2 else b, v) for i, v in enumerate((6, 5, 7))]
    slow = a.ask()                                        # trial 3, the last of phase 1
    for n in NAS + HAS:
        slow.suggest_categorical(n, CHOICES)
    early = _ask_tell(b, 9)
    assert values(early, NAS) == values(done[1], NAS)     # best finished so far
    a.tell(slow, 0.0)
    later = [_ask_tell(a if i % 2 else b, 9) for i in range(4)]
    assert {values(t, NAS) for t in later} == {values(a.trials[3], NAS)}
    phases = [t.system_attrs[PHASE_KEY] for t in a.trials]
    assert phases == [1] * 4 + [2] * 5
    assert all(values(t, HAS) == values(BASE, HAS) for t in a.trials[:4])


def test_phase_one_counts_evaluated_trials_as_the_run_budget_does():
    """Refused trials (PRUNED, as the run records repeats it does not evaluate) and a FAIL left
    without an ``error`` attr (a killed worker's, retried) leave phase 1 its n1 = 6
    evaluations; a failed evaluation (``error`` attr) spends one."""
    def objective(trial):
        value = off_target(trial)
        if trial.number in (1, 4):
            raise optuna.TrialPruned("duplicate")
        if trial.number == 2:
            trial.set_user_attr("error", "ValueError: no such design")
            return float("nan")
        if trial.number == 5:
            raise RuntimeError("worker killed")
        return value

    study = optuna.create_study(sampler=make("phase", budget=12, first_share=0.5))
    study.optimize(objective, n_trials=14, catch=(RuntimeError,))
    labels = [t.system_attrs[PHASE_KEY] for t in study.trials]
    assert labels == [1] * 9 + [2] * 5
    states = [t.state.name for t in study.trials[:6]]
    assert states == ["COMPLETE", "PRUNED", "FAIL", "COMPLETE", "PRUNED", "FAIL"]


def test_a_running_trial_holds_its_slot_and_a_refused_one_gives_it_back():
    """n1 = 2. Another worker's trial 1, running and not labelled yet, is counted as taking the
    last phase-1 slot, so trial 2 starts phase 2 (no overshoot); when trial 1 is refused, the
    next trial to start takes the slot back (phase 1 ends with exactly 2 evaluations)."""
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage,
                                sampler=make("phase", budget=4, first_share=0.5))
    first = _ask_tell(study, 5.0)
    other = storage.create_new_trial(study._study_id)
    assert _ask_tell(study, 5.0).system_attrs[PHASE_KEY] == 2
    storage.set_trial_system_attr(other, PHASE_KEY, 1)
    storage.set_trial_state_values(other, optuna.trial.TrialState.PRUNED)
    refill = _ask_tell(study, 3.0)
    assert refill.system_attrs[PHASE_KEY] == 1
    assert values(refill, HAS) == values(BASE, HAS)
    after = _ask_tell(study, 9.0)
    assert after.system_attrs[PHASE_KEY] == 2
    assert values(after, NAS) == values(refill, NAS) != values(first, NAS)


def test_threads_sharing_one_sampler_split_exactly():
    study = optuna.create_study(sampler=make("phase", budget=30, first_share=0.5))
    study.optimize(off_target, n_trials=30, n_jobs=3)
    first = [t for t in study.trials if t.system_attrs[PHASE_KEY] == 1]
    assert len(first) == 15 and len(study.trials) == 30
    assert all(values(t, HAS) == values(BASE, HAS) for t in first)


@pytest.mark.slow
def test_resume_mid_phase_continues_the_split(tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    for seed, n in ((0, 7), (1, 6), (2, 5)):     # new sampler each time: state from the study
        study = optuna.create_study(storage=storage, study_name="s", load_if_exists=True,
                                    sampler=make("phase", seed=seed, budget=20))
        study.optimize(off_target, n_trials=n)
    trials = study.trials
    assert len(trials) == 18
    assert [t.system_attrs[PHASE_KEY] for t in trials] == [1] * 10 + [2] * 8
    assert all(values(t, HAS) == values(BASE, HAS) for t in trials[:10])
    best = min(trials[:10], key=lambda t: (t.value, t.number))
    assert {values(t, NAS) for t in trials[10:]} == {values(best, NAS)}
    assert len({values(t, HAS) for t in trials[10:]}) >= 6


# ---- against random ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, baseline", [
    ("fixed-hw", {**BASE, **{n: TARGET[n] for n in HAS}}),   # baseline HW is optimal
    ("phase", BASE),                                          # no group at its optimum
    ("hw-then-nas", BASE),
])
@pytest.mark.slow
def test_beats_random_where_its_phases_reach_the_optimum(name, baseline):
    """Separable problem (5 + 5 parameters, 5 choices, optimum 0): the best phase-1 design is
    the optimal part of its group, so phase 2 can reach the optimum. Medians of 3 seeds."""
    opts = {} if name == "fixed-hw" else {"budget": 60}
    ours = [run(name, 60, seed=s, baseline=baseline, **opts).best_value for s in range(3)]
    rand = [run("random", 60, seed=s).best_value for s in range(3)]
    assert statistics.median(ours) <= statistics.median(rand) - 2, (ours, rand)


@pytest.mark.slow
def test_two_objectives_beat_random_in_hypervolume():
    """Two objectives: the network choice trades them (parameters at 0 help one, at 4 the
    other; the front is (k, 5 - k), hypervolume 106 from (11, 11)), the accelerator adds the
    same cost to both (optimum at 2, the fixed-hw baseline)."""
    def objective(trial):
        x = [trial.suggest_categorical(n, CHOICES) for n in NAS]
        y = sum(trial.suggest_categorical(n, CHOICES) != 2 for n in HAS)
        return sum(v != 0 for v in x) + y, sum(v != 4 for v in x) + y

    ref = np.array([11.0, 11.0])

    def hv(name, seed, **opts):
        study = run(name, 60, seed=seed, objective=objective,
                    directions=("minimize", "minimize"), **opts)
        return moocore.hypervolume(np.array([t.values for t in study.trials]), ref=ref)

    rand = statistics.median(hv("random", s) for s in range(3))
    hw_opt = {**BASE, **{n: 2 for n in HAS}}
    for name, opts in (("fixed-hw", {"baseline": hw_opt}), ("phase", {"budget": 60}),
                       ("hw-then-nas", {"budget": 60})):
        ours = statistics.median(hv(name, s, **opts) for s in range(3))
        assert ours >= rand + 15, (name, ours, rand)


# ---- through the product ----------------------------------------------------------------------
def test_create_study_on_nb201_edge_fills_groups_and_baseline():
    from moo_cosearch import create_study, load_space, make_objective

    space = load_space("nb201-edge")
    nas = [p.name for p in space.group("nas") if not p.fixed]
    has = {p.name: p for p in space.group("has") if not p.fixed}
    base = space.baseline
    for view in ("categorical", "index"):
        study = create_study(space, "nb201-cifar10-latency-area", sampler="phase", seed=0,
                             storage=None, view=view, sampler_options={"budget": 8})
        study.optimize(make_objective(space, "nb201-cifar10-latency-area"), n_trials=10)
        want = {n: base[n] if view == "categorical" else p.index(base[n])
                for n, p in has.items()}
        has_names = list(has)
        assert all(values(t, has_names) == values(want, has_names) for t in study.trials[:4])
        assert len({values(t, nas) for t in study.trials[4:]}) == 1
        assert len({values(t, has_names) for t in study.trials[4:]}) >= 4


@pytest.mark.slow
def test_cli_runs_and_resumes_each_baseline(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 's.db'}"
    toml = tmp_path / "cost.toml"
    toml.write_text('name = "mbv2-cost"\nspace = "nahas-mbv2-edge"\ncost = "edge"\n'
                    '[[objectives]]\nmetric = "latency_ms"\ndirection = "minimize"\n'
                    '[[objectives]]\nmetric = "area_mm2"\ndirection = "minimize"\n')
    runs = [["--sampler", "phase", "-o", "budget=8"]] * 2 + [
        ["--sampler", "hw-then-nas", "-o", "budget=6", "--space", "nahas-mbv2-edge",
         "--objectives", str(toml)],
        ["--sampler", "fixed-hw", "--objectives", "nb201-nahas-reward-hard"]]
    for args in runs:
        assert main(["run", *args, "--trials", "5", "-q", "--storage", db,
                     "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    names = optuna.get_all_study_names(db)
    assert len(names) == 3
    evaluated = {n.split("--")[2]: [t for t in optuna.load_study(study_name=n, storage=db).trials
                                     if t.state != optuna.trial.TrialState.PRUNED]
                 for n in names}      # the run prunes repeats unevaluated
    assert [t.system_attrs[PHASE_KEY] for t in evaluated["phase"]] == [1] * 4 + [2] * 6
    assert [t.system_attrs[PHASE_KEY] for t in evaluated["hw-then-nas"]] == [1] * 3 + [2] * 2
    fixed = evaluated["fixed-hw"]
    assert len(fixed) == 5 and len({t.params["pes_x"] for t in fixed}) == 1
