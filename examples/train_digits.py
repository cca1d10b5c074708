"""A short co-search that trains every candidate network: NAS-Bench-201 cells on the NAHAS
edge accelerator, accuracy from a few epochs on scikit-learn's digits (offline), and Optuna's
median pruner stopping networks that fall behind the median of the finished ones.

    python examples/train_digits.py [--trials 12] [--epochs 3] [--resolution 16] [--seed 0]

One objective (accuracy, maximised) under the hard limits of the built-in
``nb201-cifar10-latency-area`` set (latency <= 0.2 ms, area <= the NAHAS baseline's): a design
over a limit is never trained. Optuna's pruners take one objective only (``trial.report``
refuses multi-objective studies), hence the single objective here. On a CPU, expect a few to
twenty seconds per trained network at the default 16x16 input; a GPU is used when torch sees
one.
"""

from __future__ import annotations

import argparse
import time

import optuna
from optuna.trial import TrialState

from moo_cosearch import ObjectiveSet, load_space, make_objective
from moo_cosearch.accuracy.training import TrainedAccuracy
from moo_cosearch.networks.nb201 import arch_str, design_ops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--resolution", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    space = load_space("nb201-edge")
    objectives = ObjectiveSet.from_dict({
        "name": "nb201-digits-accuracy", "space": "nb201-edge", "cost": "edge",
        "accuracy": {"source": "train", "space": "nb201-edge"},
        "objectives": [{"metric": "accuracy", "direction": "maximize"}],
        "constraints": [{"metric": "area_mm2", "max": "baseline"},
                        {"metric": "latency_ms", "max": 0.2}]})
    source = TrainedAccuracy(space, epochs=args.epochs, resolution=args.resolution,
                             seed=args.seed)
    objective = make_objective(space, objectives, accuracy=source)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=args.seed),
        # steps are epochs trained (1, 2, ...): no pruning on the first epoch's score, as
        # networks still near chance after one epoch often reach 90 % by the third
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2))

    def show(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        curve = " ".join(f"{v:5.1f}" for v in trial.intermediate_values.values())
        why = trial.user_attrs.get("skip_reason", "")
        print(f"trial {trial.number:3d} {trial.state.name:8s} "
              f"{arch_str(design_ops(space.design_of(trial)))}  epochs: [{curve}] {why}",
              flush=True)

    start = time.perf_counter()
    study.optimize(objective, n_trials=args.trials, callbacks=[show])
    seconds = time.perf_counter() - start
    states = [t.state for t in study.trials]
    print(f"\n{states.count(TrialState.COMPLETE)} complete, {states.count(TrialState.PRUNED)} "
          f"pruned, {states.count(TrialState.FAIL)} failed; {objective.skipped} designs over a "
          f"hard limit were not trained")
    device = source.device if source.device != "auto" else "cuda" if _cuda() else "cpu"
    print(f"epochs trained: {source.epochs_spent} for {source.trainings} networks "
          f"({source.trainings * args.epochs} without pruning); {seconds:.0f} s on {device}")
    trained = [t for t in study.trials
               if t.state == TrialState.COMPLETE and t.user_attrs.get("accuracy_evaluated")]
    if trained:
        best = max(trained, key=lambda t: t.value)
        print(f"best: trial {best.number}, {best.value:.2f} % validation accuracy, cell "
              f"{arch_str(design_ops(space.design_of(best)))}")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
