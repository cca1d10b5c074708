"""The gate between a trial's suggested design and its evaluation: repeats and the budget.

Evaluations (accuracy above all) are the expensive part of a co-search, so a trial whose
design another trial already holds is not evaluated again, and a study with a budget stops
at exactly that many evaluated trials however many workers share it. A refused trial is
recorded PRUNED with a ``skipped`` user attr (``"duplicate of trial N"`` or
``"budget reached"``); samplers ignore pruned trials or treat them as uninformative.

Why this is exact with any number of workers: Optuna writes each suggested parameter to the
storage at once, and the gate reads the storage after the whole design is suggested. Of two
trials with one design, the one that checks second sees the other, so at most one of them is
evaluated (both may be refused when they check at the same instant: nothing is evaluated
twice, one slot is spent). The budget counts the trials *numbered below* this one that are
evaluated or being evaluated; trial numbers are unique and dense, so exactly the first
``budget`` such trials go ahead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna

__all__ = ["Gate", "SKIPPED", "spends_budget"]

#: User attr naming why a trial was not evaluated.
SKIPPED = "skipped"


def spends_budget(trial: "optuna.trial.FrozenTrial") -> bool:
    """Whether ``trial`` counts as an evaluation: COMPLETE, RUNNING, or FAIL because the
    evaluation itself failed (an ``error`` user attr; a FAIL left by a killed worker does not
    count, its retry does)."""
    from optuna.trial import TrialState

    return (trial.state in (TrialState.COMPLETE, TrialState.RUNNING)
            or trial.state == TrialState.FAIL and "error" in trial.user_attrs)


class Gate:
    """Refuse (prune) a trial whose design another live or complete trial holds, or that
    would exceed ``budget`` evaluated trials in the study.

    Args:
        skip_duplicates: refuse repeats of a design.
        budget: evaluated trials the study may hold (None: no limit).
        max_skips: consecutive refusals for repeats after which this process stops the study
            (the sampler keeps proposing evaluated designs: the space may be exhausted);
            :attr:`exhausted` then says so.
    """

    def __init__(self, skip_duplicates: bool = True, budget: int | None = None,
                 max_skips: int = 200) -> None:
        if budget is not None and budget < 1:
            raise ValueError(f"budget must be >= 1 evaluated trials, got {budget}")
        self.skip_duplicates = skip_duplicates
        self.budget = budget
        self.max_skips = max_skips
        self.skipped = 0
        self._in_a_row = 0
        self.exhausted = False
        #: The budget is reached or the space looks exhausted: stop asking.
        self.done = False

    def spent(self, study: "optuna.Study") -> int:
        """Evaluated (or running) trials in ``study``."""
        return sum(spends_budget(t) for t in study.get_trials(deepcopy=False))

    def check(self, trial: "optuna.trial.Trial", stop: bool = True) -> None:
        """Raise ``optuna.TrialPruned`` (after recording why) when ``trial`` must not be
        evaluated; call it after the whole design is suggested. ``stop``: also stop the study
        (inside ``study.optimize``; a batch driver reads :attr:`done` instead)."""
        from optuna.trial import TrialState

        if not self.skip_duplicates and self.budget is None:
            return
        study = trial.study
        others = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
        if self.budget is not None:
            below = sum(spends_budget(t) for t in others if t.number < trial.number)
            if below >= self.budget:
                self.done = True
                if stop:
                    study.stop()
                self._refuse(trial, "budget reached")
        if self.skip_duplicates:
            params = trial.params
            for t in others:
                if t.state in (TrialState.RUNNING, TrialState.COMPLETE) and t.params == params:
                    self.skipped += 1
                    self._in_a_row += 1
                    if self._in_a_row >= self.max_skips:
                        self.exhausted = self.done = True
                        if stop:
                            study.stop()
                    self._refuse(trial, f"duplicate of trial {t.number}")
        self._in_a_row = 0

    @staticmethod
    def _refuse(trial: "optuna.trial.Trial", why: str) -> None:
        import optuna

        trial.set_user_attr(SKIPPED, why)
        raise optuna.TrialPruned(why)
