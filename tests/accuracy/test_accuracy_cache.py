"""The accuracy cache: one evaluation per network, shared through the study's storage."""

from __future__ import annotations

import optuna
import pytest

from moo_cosearch import load_space, make_objective
from moo_cosearch.accuracy import NB201Table
from moo_cosearch.networks import network_identity

OBJ = "nb201-cifar10-latency-area"


class Counting:
    """An accuracy source that counts its calls (a deterministic value per network)."""

    def __init__(self):
        self.calls = []

    def __call__(self, design):
        self.calls.append(dict(design))
        return 50.0 + sum(len(str(design[f"edge{i}"])) for i in range(6)) / 10


def _cell(*ops):
    return {f"edge{i}": op for i, op in enumerate(ops)}


def test_isomorphic_cells_and_hardware_variants_share_one_evaluation():
    space = load_space("nb201-edge")
    source = Counting()
    objective = make_objective(space, OBJ, accuracy=source)
    hw = {k: v for k, v in space.baseline.items() if not k.startswith("edge")}
    # edges 0->1, 0->2, 1->2, 0->3, 1->3, 2->3: with 1->2 and 1->3 cut, node 1 reaches
    # nothing, so edge0 (0->1) is dead and a cell that differs only there is the same network
    a = _cell("nor_conv_3x3", "nor_conv_3x3", "none", "skip_connect", "none", "nor_conv_3x3")
    b = dict(a, edge0="avg_pool_3x3")
    assert network_identity("nb201", a) == network_identity("nb201", b)
    assert network_identity("nb201", a) != network_identity("nb201", dict(a, edge5="none"))
    for design in ({**a, **hw}, {**b, **hw}, {**a, **hw, "pes_x": 8}):
        objective.accuracy(design)
    assert len(source.calls) == 1 and objective.accuracy.hits == 2


def test_the_table_is_keyed_by_cell_not_by_isomorphism():
    space = load_space("nb201-edge")
    objective = make_objective(space, OBJ)
    hw = {k: v for k, v in space.baseline.items() if not k.startswith("edge")}
    a = _cell("nor_conv_3x3", "nor_conv_3x3", "none", "skip_connect", "none", "nor_conv_3x3")
    b = dict(a, edge0="avg_pool_3x3")
    assert NB201Table()(a) != NB201Table()(b)     # isomorphs trained separately differ
    table = NB201Table()
    assert objective.accuracy({**a, **hw}) == table(a)
    assert objective.accuracy({**b, **hw}) == table(b)


@pytest.mark.slow
def test_a_second_worker_and_a_resumed_study_reuse_stored_accuracies(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = load_space("nb201-edge")
    url = f"sqlite:///{tmp_path / 's.db'}"
    first_source = Counting()
    first = make_objective(space, OBJ, accuracy=first_source)
    first.gate = None
    study = optuna.create_study(study_name="s", storage=url,
                                directions=first.directions,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(first, n_trials=30)
    evaluated = {t.user_attrs["network"] for t in study.trials
                 if t.user_attrs.get("accuracy_evaluated")}
    assert evaluated and len(first_source.calls) == len(evaluated)

    # another process (a fresh objective) on the same storage: every stored network is a hit
    second_source = Counting()
    second = make_objective(space, OBJ, accuracy=second_source)
    second.gate = None
    again = optuna.load_study(study_name="s", storage=url)
    for t in [t for t in again.trials if t.user_attrs.get("accuracy_evaluated")][:5]:
        again.enqueue_trial({**t.params, "pes_x": t.params["pes_x"]})
    again.optimize(second, n_trials=5)
    new = again.trials[-5:]
    assert all(t.user_attrs["accuracy_cached"] for t in new
               if t.user_attrs.get("accuracy_evaluated"))
    assert second_source.calls == []
    assert second.accuracy.hits == sum(bool(t.user_attrs.get("accuracy_evaluated")) for t in new)
