"""Heartbeats for every trial from the moment it exists, and for journal files too (used by
:func:`moo_cosearch.storage.open_storage`).

Optuna beats only for a trial that ``study.optimize`` runs, and only once ``ask`` has
returned it: while a slow sampler (a GP fit, an acquisition optimisation) works inside
``ask``, and for the trials of a batch asked one after the other, the trial is RUNNING with
no heartbeat, so a worker that dies there leaves a trial that never goes stale, and another
worker cannot tell it from a live one. And Optuna's ``JournalStorage`` keeps no heartbeats
at all: a worker sharing a journal file could not wait for another's RUNNING trial.

- :class:`BeatingRDBStorage` and :class:`BeatingJournalStorage` beat every trial this
  process creates (or takes RUNNING from the queue) every heartbeat interval from a daemon
  thread, starting one interval after its creation (a trial done sooner costs no write; Optuna
  beats it anyway once ``ask`` returns), until the trial is finished: a trial is stale only
  when the process holding it is gone (or hangs for the grace period).
- :class:`BeatingJournalStorage` is Optuna's ``JournalStorage`` with Optuna's heartbeat
  interface (``BaseHeartbeat``): a beat is the trial system attr :data:`BEAT` (seconds since
  the epoch, by the clock of the machine that wrote it; workers on several machines sharing
  one file need their clocks in step within the grace period), so ``fail_stale_trials`` and
  ``RetryHeartbeatStaleTrialCallback`` work on a journal as on a database.
- The first beat also writes the trial system attr :data:`BEATING`: a RUNNING trial without
  it, older than the grace period, was created by a process that died before its first beat
  (or by a process without heartbeats).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime
from typing import Any, Callable

from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import JournalStorage, RDBStorage
from optuna.trial import FrozenTrial, TrialState

from .samplers.seam import RDBTrialCreated, heartbeat_interface, trial_id as id_of

__all__ = ["BEAT", "BEATING", "BeatingJournalStorage", "BeatingRDBStorage"]

#: Trial system attr of a journal trial's last heartbeat (seconds since the epoch).
BEAT = "moo_cosearch:heartbeat"
#: Trial system attr written with a trial's first heartbeat.
BEATING = "moo_cosearch:beating"

_log = logging.getLogger("moo_cosearch.storage")


class _Beater:
    """The process's heartbeat thread: beats each registered (storage, trial) every interval,
    from one interval after it registered, until the trial is finished (a trial that ends
    sooner costs no write); the first beat also writes :data:`BEATING`."""

    def __init__(self) -> None:
        self._reset()
        # a forked child has no beating thread (and its copy of the lock may be held)
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._due: dict[tuple[int, int], tuple[Any, float, bool]] = {}  # storage, due, beaten
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, storage: Any, trial_id: int) -> None:
        with self._lock:
            self._due[(id(storage), trial_id)] = (
                storage, time.monotonic() + storage.get_heartbeat_interval(), False)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="moo-cosearch-beats",
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def drop(self, storage: Any, trial_id: int) -> None:
        with self._lock:
            self._due.pop((id(storage), trial_id), None)

    def _run(self) -> None:
        while True:
            with self._lock:
                items = list(self._due.items())
            now = time.monotonic()
            for key, (storage, due, beaten) in items:
                if due <= now:
                    self._beat(storage, key[1], beaten)
            with self._lock:
                wait = min((due for _, due, _ in self._due.values()), default=now + 60) - now
            self._wake.wait(max(0.05, wait))
            self._wake.clear()

    def _beat(self, storage: Any, trial_id: int, beaten: bool) -> None:
        key = (id(storage), trial_id)
        try:
            if storage.get_trial(trial_id).state.is_finished():
                self.drop(storage, trial_id)
                return
            storage.record_heartbeat(trial_id)
            if not beaten:
                storage.set_trial_system_attr(trial_id, BEATING, True)
                beaten = True
        except UpdateFinishedTrialError:
            self.drop(storage, trial_id)
            return
        except Exception as e:  # noqa: BLE001 - a storage hiccup: beat again next interval
            _log.debug("heartbeat of trial id %d failed: %s", trial_id, e)
        with self._lock:
            if key in self._due:
                self._due[key] = (storage, time.monotonic() + storage.get_heartbeat_interval(),
                                  beaten)


_BEATER = _Beater()


class _BeatFromTheStart:
    """Beats a trial from its creation (or its leaving the queue) until it is finished."""

    def _start_beating(self, trial_id: int) -> None:
        if self.get_heartbeat_interval() is not None:   # type: ignore[attr-defined]
            _BEATER.add(self, trial_id)

    def trial_created(self, trial_id: int, template_trial: FrozenTrial | None) -> None:
        if template_trial is None or template_trial.state == TrialState.RUNNING:
            self._start_beating(trial_id)

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values: Any = None) -> bool:
        changed = super().set_trial_state_values(trial_id, state, values)  # type: ignore[misc]
        if changed and state == TrialState.RUNNING:
            self._start_beating(trial_id)
        elif state.is_finished():
            _BEATER.drop(self, trial_id)
        return changed


class BeatingRDBStorage(_BeatFromTheStart, RDBTrialCreated, RDBStorage):
    """Optuna's ``RDBStorage``, each trial beating from its creation."""


class BeatingJournalStorage(_BeatFromTheStart, JournalStorage, heartbeat_interface()):
    """Optuna's ``JournalStorage`` with heartbeats (see the module docstring).

    Args:
        backend: the journal backend.
        heartbeat_interval: seconds between beats (None: no heartbeats, as Optuna's class).
        grace_period: seconds without a beat after which a RUNNING trial is stale (default
            twice the interval).
        heartbeat_stale_trial_callback: called with each trial failed as stale (e.g. Optuna's
            ``RetryHeartbeatStaleTrialCallback``).
    """

    def __init__(self, backend: Any, *, heartbeat_interval: int | None = None,
                 grace_period: int | None = None,
                 heartbeat_stale_trial_callback: Callable[..., None] | None = None) -> None:
        super().__init__(backend)
        if heartbeat_interval is not None and heartbeat_interval <= 0:
            raise ValueError(f"heartbeat_interval must be > 0 seconds, got {heartbeat_interval}")
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.heartbeat_stale_trial_callback = heartbeat_stale_trial_callback

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        trial_id = super().create_new_trial(study_id, template_trial)
        self.trial_created(trial_id, template_trial)
        return trial_id

    def record_heartbeat(self, trial_id: int) -> None:
        """Record a beat; never raises for a trial already finished (as ``RDBStorage``) or a
        write that fails (a full disk: the main thread's next write says so)."""
        try:
            self.set_trial_system_attr(trial_id, BEAT, time.time())
        except UpdateFinishedTrialError:
            pass
        except OSError as e:
            _log.debug("heartbeat of trial id %d not written: %s", trial_id, e)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        assert self.heartbeat_interval is not None
        grace = self.grace_period or 2 * self.heartbeat_interval
        now = time.time()
        stale = []
        for t in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = t.system_attrs.get(BEAT)
            if not isinstance(beat, (int, float)):
                continue               # never beat: not stale (as RDBStorage)
            # a retried trial copies its predecessor's last beat: it counts from its start
            start = (t.datetime_start or datetime.fromtimestamp(0)).timestamp()
            if now - max(beat, start) > grace:
                stale.append(id_of(t))
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[..., None] | None:
        return self.heartbeat_stale_trial_callback
