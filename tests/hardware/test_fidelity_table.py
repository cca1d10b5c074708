"""The two-fidelity NAS-Bench-201 source (``nb201-mf``): the 12-epoch column reported to
Optuna's pruner, the 200-epoch column for the designs it keeps, epochs counted; run in real
Optuna studies with successive halving, Hyperband and the median pruner."""

from __future__ import annotations

import csv
import gzip
from importlib import resources

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from moo_cosearch import load_space, make_objective
from moo_cosearch.accuracy import check_spec, make_accuracy
from moo_cosearch.accuracy.fidelity import HIGH_EPOCHS, LOW_EPOCHS, NB201MultiFidelity
from moo_cosearch.networks.nb201 import EDGE_PARAMS, arch_ops

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = load_space("nb201-edge")
# The best cells of NAS-Bench-201 (Dong & Yang, ICLR 2020, "optimal" rows of its tables):
# CIFAR-10 94.37 % and CIFAR-100 73.51 % test accuracy after 200 epochs.
C10_BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|" \
    "nor_conv_3x3~1|nor_conv_1x1~2|"
C100_BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|" \
    "nor_conv_3x3~1|nor_conv_3x3~2|"
BEST = dict(SPACE.baseline, **dict(zip(EDGE_PARAMS, arch_ops(C10_BEST))))


def _table_row(arch: str) -> dict[str, str]:
    """The packaged CSV row of ``arch``, read here independently of the package's parser."""
    path = resources.files("moo_cosearch.data") / "nb201_accuracy.csv.gz"
    with gzip.open(str(path), "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["arch_str"] == arch:
                return row
    raise AssertionError(f"{arch} not in the table")


def _objective_set(tmp_path, **accuracy) -> str:
    spec = ", ".join(f'{k} = "{v}"' for k, v in {"source": "nb201-mf", **accuracy}.items())
    path = tmp_path / "mf.toml"
    path.write_text(f'name = "nb201-mf-accuracy"\nspace = "nb201-edge"\n'
                    f'accuracy = {{ {spec} }}\ncost = "edge"\n\n'
                    f'[[objectives]]\nmetric = "accuracy"\ndirection = "maximize"\n')
    return str(path)


def test_values_are_the_table_columns_and_a_plain_call_is_a_full_evaluation():
    src = NB201MultiFidelity("cifar10")
    row = _table_row(C10_BEST)
    assert src.values(BEST) == (float(row["cifar10_val_12ep"]),
                                float(row["cifar10_test_200ep"]))
    assert src(BEST) == pytest.approx(94.37, abs=0.005)
    assert (src.epochs_spent, src.evaluated, src.promoted) == (200, 1, 1)
    img = NB201MultiFidelity("ImageNet16-120", low="imagenet16_test_12ep")
    assert img.values(BEST) == (float(row["imagenet16_test_12ep"]),
                                float(row["imagenet16_test_200ep"]))
    c100 = dict(SPACE.baseline, **dict(zip(EDGE_PARAMS, arch_ops(C100_BEST))))
    assert NB201MultiFidelity("cifar100")(c100) == pytest.approx(73.51, abs=0.005)


def test_report_sees_the_12_epoch_value_and_a_prune_spends_12_epochs():
    src = NB201MultiFidelity()
    low, high = src.values(BEST)
    seen: list[tuple[int, float]] = []
    assert src(BEST, report=lambda s, v: seen.append((s, v))) == high
    assert seen == [(LOW_EPOCHS, low)]          # the 200-epoch value is returned, not reported

    def prune(step: int, value: float) -> None:
        raise optuna.TrialPruned(f"step {step}")

    with pytest.raises(optuna.TrialPruned):
        src(BEST, report=prune)
    assert (src.evaluated, src.promoted) == (2, 1)
    assert src.epochs_spent == 2 * LOW_EPOCHS + (HIGH_EPOCHS - LOW_EPOCHS)


@pytest.mark.parametrize("spec, word", [
    ({"dataset": "cifar-10"}, "dataset"),
    ({"low": "cifar10_test_200ep"}, "low fidelity"),
    ({"dataset": "cifar100", "low": "cifar10_val_12ep"}, "low fidelity"),
    ({"high": "cifar10_val_12ep"}, "high fidelity"),
    ({"epochs": 12}, "takes options"),
])
def test_bad_options_are_refused_in_one_line(spec, word):
    with pytest.raises(ValueError, match=word) as err:
        check_spec({"source": "nb201-mf", **spec})
    assert "\n" not in str(err.value)


def _run(tmp_path, pruner: optuna.pruners.BasePruner, n_trials: int = 120, seed: int = 0):
    """A seeded random-sampler study (the designs do not depend on the pruner, so every
    pruner sees the same sequence) maximising nb201-mf accuracy; (study, source)."""
    obj = make_objective(SPACE, _objective_set(tmp_path))
    # a fixed name: Hyperband assigns brackets by hashing the study name
    study = optuna.create_study(direction="maximize", pruner=pruner, study_name="mf",
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    study.optimize(obj, n_trials=n_trials)
    return study, obj.accuracy.fn


def _split(study: optuna.Study) -> tuple[list, list]:
    done = [t for t in study.trials
            if t.state == TrialState.COMPLETE and t.user_attrs.get("accuracy_evaluated")]
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED
              and "skipped" not in t.user_attrs]
    return done, pruned


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """Every design at 200 epochs (no pruner): the reference the pruned studies must approach."""
    study, src = _run(tmp_path_factory.mktemp("full"), optuna.pruners.NopPruner())
    return study, src


@pytest.mark.parametrize("pruner", [
    optuna.pruners.SuccessiveHalvingPruner(min_resource=LOW_EPOCHS, reduction_factor=3),
    optuna.pruners.HyperbandPruner(min_resource=LOW_EPOCHS, max_resource=HIGH_EPOCHS,
                                   reduction_factor=3),
    optuna.pruners.MedianPruner(n_startup_trials=5),
], ids=["successive-halving", "hyperband", "median"])
@pytest.mark.slow
def test_pruners_promote_the_promising_and_save_epochs(tmp_path, full, pruner):
    study, src = _run(tmp_path, pruner)
    done, pruned = _split(study)
    full_study, full_src = full
    full_done, full_pruned = _split(full_study)
    assert not full_pruned and full_src.epochs_spent == HIGH_EPOCHS * full_src.evaluated
    assert len(done) >= 5 and len(pruned) >= 10
    # every pruned trial stopped at step 12 with the table's 12-epoch value; no trial ran past
    table = NB201MultiFidelity()
    for t in pruned:
        design = SPACE.design_of(t)
        assert t.intermediate_values == {LOW_EPOCHS: table.values(design)[0]}
    for t in done:
        assert t.value == table.values(SPACE.design_of(t))[1]
    # the promoted were better at 12 epochs than the pruned, on average (a complete trial
    # whose cell an earlier trial completed is answered by the cache, without a report)
    low_done = np.mean([table.values(SPACE.design_of(t))[0] for t in done])
    low_pruned = np.mean([t.intermediate_values[LOW_EPOCHS] for t in pruned])
    assert low_done > low_pruned + 3.0
    # epochs: 12 per look, 188 more per promotion, far fewer than all at 200
    assert src.evaluated == len(pruned) + src.promoted
    assert src.epochs_spent == LOW_EPOCHS * src.evaluated \
        + (HIGH_EPOCHS - LOW_EPOCHS) * src.promoted
    assert src.epochs_spent < 0.8 * full_src.epochs_spent
    # the same designs were proposed (random sampler): the best survives pruning, nearly
    best_full = max(t.value for t in full_done)
    assert max(t.value for t in done) >= best_full - 1.0


@pytest.mark.slow
def test_tpe_study_built_from_the_objective_set_spec(tmp_path):
    """The registered name in an objective set; TPE learns from pruned trials without error."""
    assert make_accuracy({"source": "nb201-mf", "dataset": "cifar100"}).high \
        == "cifar100_test_200ep"
    obj = make_objective(SPACE, _objective_set(tmp_path, dataset="cifar100"))
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=1, n_startup_trials=10),
                                pruner=optuna.pruners.SuccessiveHalvingPruner(
                                    min_resource=LOW_EPOCHS, reduction_factor=3))
    study.optimize(obj, n_trials=60)
    done, pruned = _split(study)
    assert not [t for t in study.trials if t.state == TrialState.FAIL]
    assert done and pruned
    assert obj.accuracy.fn.epochs_spent < HIGH_EPOCHS * obj.accuracy.fn.evaluated
    # CIFAR-100's best cell reaches 73.51 % (NAS-Bench-201): nothing found can exceed it
    assert 60.0 < study.best_value <= 73.52
