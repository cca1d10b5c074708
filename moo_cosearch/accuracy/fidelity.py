"""Two-fidelity NAS-Bench-201 accuracy (source ``nb201-mf``): the benchmark's 12-epoch column
is the cheap look, its 200-epoch column the full evaluation, and Optuna's pruner decides in
between which designs earn the full one.

    accuracy = { source = "nb201-mf", dataset = "cifar10" }

With a pruner such as ``optuna.pruners.SuccessiveHalvingPruner(min_resource=12)`` a study
does successive halving over two rungs: every design costs 12 epochs; those the pruner keeps
(about the best ``1 / reduction_factor`` of the 12-epoch values so far) cost 188 more and are
scored at 200 epochs; the rest end PRUNED. :attr:`NB201MultiFidelity.epochs_spent` counts the epochs a
real search would have trained, the budget to compare with 200 per design.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ..networks import nb201
from ._registry import register_source

__all__ = ["DATASETS", "HIGH_EPOCHS", "LOW_EPOCHS", "NB201MultiFidelity"]

#: NAS-Bench-201's datasets (names as the benchmark writes them) → column prefix.
DATASETS: dict[str, str] = {"cifar10": "cifar10", "cifar100": "cifar100",
                            "ImageNet16-120": "imagenet16"}
#: Epochs behind the cheap and the full fidelity.
LOW_EPOCHS, HIGH_EPOCHS = 12, 200


class NB201MultiFidelity:
    """NAS-Bench-201 accuracy (%) at two fidelities, with the pruner choosing between them.

    A call with ``report`` (inside an Optuna trial of a single-objective study): the
    12-epoch value is reported at step 12, and ``report`` raises ``optuna.TrialPruned`` when
    the pruner stops the design there (the trial ends PRUNED, 12 epochs spent); otherwise the
    200-epoch value is returned as the trial's value (200 epochs spent). The 200-epoch value
    is not reported as a step: a pruner consulted after the full evaluation could only throw
    it away (Optuna's successive halving checks every rung a step has passed: with
    ``min_resource=12, reduction_factor=3`` a report at step 200 would be judged again on the
    rungs at 36 and 108 epochs, and a finished design could end PRUNED). A call without
    ``report`` (a batch, a plain call) is a full evaluation: the 200-epoch value, 200 epochs.

    Args:
        dataset: ``"cifar10"``, ``"cifar100"`` or ``"ImageNet16-120"``.
        low: the 12-epoch column (default the dataset's validation column, ``<d>_val_12ep``;
            ``<d>_test_12ep`` also works).
        high: the 200-epoch column (default and only choice the table has:
            ``<d>_test_200ep``).

    Attributes:
        epochs_spent: epochs the evaluations so far would have trained: 12 for each design
            looked at cheaply, 188 more for each promoted (a design pruned in one trial and
            proposed again in another pays its 12 epochs again).
        evaluated: designs looked at (calls).
        promoted: designs that reached the 200-epoch value.
    """

    #: Every cell has its own trained values: caches key the table by cell, not by
    #: isomorphism class (as :class:`~moo_cosearch.accuracy.NB201Table`).
    by_network_identity = False

    def __init__(self, dataset: str = "cifar10", low: str | None = None,
                 high: str | None = None) -> None:
        if dataset not in DATASETS:
            raise ValueError(f"nb201-mf dataset must be one of {list(DATASETS)}, got "
                             f"{dataset!r}")
        prefix = DATASETS[dataset]
        lows = (f"{prefix}_val_{LOW_EPOCHS}ep", f"{prefix}_test_{LOW_EPOCHS}ep")
        highs = (f"{prefix}_test_{HIGH_EPOCHS}ep",)
        low = lows[0] if low is None else low
        high = highs[0] if high is None else high
        if low not in lows:
            raise ValueError(f"nb201-mf low fidelity for {dataset} must be one of {list(lows)}, "
                             f"got {low!r}")
        if high not in highs:
            raise ValueError(f"nb201-mf high fidelity for {dataset} must be one of "
                             f"{list(highs)}, got {high!r}")
        self.dataset, self.low, self.high = dataset, low, high
        self.epochs_spent = 0
        self.evaluated = 0
        self.promoted = 0

    def values(self, design: Mapping[str, Any]) -> tuple[float, float]:
        """(12-epoch, 200-epoch) accuracy of ``design``'s cell, without spending anything."""
        row = nb201.benchmark_rows()[nb201.arch_str(nb201.design_ops(design))]
        return row[self.low], row[self.high]

    def __call__(self, design: Mapping[str, Any],
                 report: Callable[[int, float], None] | None = None) -> float:
        """The 200-epoch accuracy of ``design`` unless the pruner stops it at 12 epochs."""
        low, high = self.values(design)
        self.evaluated += 1
        self.epochs_spent += LOW_EPOCHS
        if report is not None:
            report(LOW_EPOCHS, low)          # raises optuna.TrialPruned when pruned
        self.epochs_spent += HIGH_EPOCHS - LOW_EPOCHS
        self.promoted += 1
        return high


register_source("nb201-mf", NB201MultiFidelity, "NAS-Bench-201 at 12 epochs, then 200 for "
                "the designs Optuna's pruner keeps (counts epochs spent)")
