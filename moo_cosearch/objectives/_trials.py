"""What the objective does to Optuna trials beside evaluating them: heartbeats for a batch of
asked trials (as ``study.optimize`` beats for its one trial), and the per-epoch reporter that
lets a pruner stop a training accuracy source."""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

from ..samplers.seam import heartbeat_interval, record_heartbeats

if TYPE_CHECKING:
    import optuna

__all__ = ["batch_heartbeats", "reporter"]

_log = logging.getLogger(__name__)


@contextmanager
def batch_heartbeats(study: "optuna.Study", trials: list["optuna.trial.Trial"]) -> Iterator[None]:
    """Heartbeats for ``trials`` (a list the block may extend) while the block runs (storages
    with heartbeats only), so that a killed batch worker's trials go stale and are retried
    like single trials."""
    interval = heartbeat_interval(study)
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                record_heartbeats(study, list(trials))
            except Exception as e:  # noqa: BLE001 - a missed beat is retried; never fatal
                _log.debug("heartbeat failed: %s", e)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name="moo-cosearch-batch-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def reporter(trial: "optuna.trial.Trial") -> Callable[[int, float], None]:
    """``report(step, value)``: the value reaches Optuna (``trial.report``), and
    ``optuna.TrialPruned`` is raised when the study's pruner says to stop."""
    def report(step: int, value: float) -> None:
        import optuna

        trial.report(float(value), int(step))
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step} (value {value:g})")

    return report
