"""Heartbeats from a trial's creation, on SQLite and on a journal file
(:mod:`moo_cosearch._storage_beats`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
import warnings

import optuna
import pytest
from optuna.trial import TrialState

from moo_cosearch.storage import BEATING, open_storage

KINDS = ["sqlite", "journal"]


@pytest.fixture(autouse=True)
def _quiet():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def _url(kind, tmp_path):
    return f"sqlite:///{tmp_path / 's.db'}" if kind == "sqlite" else f"journal:{tmp_path / 's.log'}"


class _SlowSampler(optuna.samplers.RandomSampler):
    """Samples after ``seconds``, as a GP fit inside ``ask`` does."""

    def __init__(self, seconds):
        super().__init__(seed=0)
        self.seconds = seconds

    def sample_independent(self, *args):
        time.sleep(self.seconds)
        return super().sample_independent(*args)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_a_trial_beats_while_its_sampler_works_and_stops_when_finished(tmp_path, kind):
    """Grace 2 s, sampling 4 s: another process checking for stale trials all along sees a
    live trial, marked as beating once its first beat (after 1 s) is in."""
    url = _url(kind, tmp_path)
    study = optuna.create_study(study_name="s", storage=open_storage(url, heartbeat=1),
                                sampler=_SlowSampler(4.0))
    watcher = optuna.load_study(study_name="s", storage=open_storage(url, heartbeat=1))
    seen = []

    def watch():
        while not done.is_set():
            optuna.storages.fail_stale_trials(watcher)
            seen.extend((time.monotonic() - start, t.state, BEATING in t.system_attrs)
                        for t in watcher.get_trials())
            time.sleep(0.25)

    done = threading.Event()
    start = time.monotonic()
    thread = threading.Thread(target=watch)
    thread.start()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    done.set()
    thread.join()
    assert [t.state for t in watcher.get_trials()] == [TrialState.COMPLETE]
    # the first beat (and mark) comes one interval after the trial's creation
    marked = [beating for at, state, beating in seen if state == TrialState.RUNNING and at > 2.5]
    assert len(marked) >= 3 and all(marked)


_KILLED = '''
import os, sys, time, optuna
from moo_cosearch.storage import open_storage
study = optuna.create_study(study_name="s", storage=open_storage(sys.argv[1], heartbeat=1),
                            load_if_exists=True)
trial = study.ask()
trial.suggest_float("x", 0, 1)
print("asked", flush=True)
time.sleep(3600)
'''


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_workers_trial_goes_stale_and_is_retried_once(tmp_path, kind):
    url = _url(kind, tmp_path)
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(_KILLED))
    proc = subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "asked"
    study = optuna.load_study(study_name="s", storage=open_storage(url, heartbeat=1))
    time.sleep(2.5)                            # beating: alive past the grace period
    optuna.storages.fail_stale_trials(study)
    assert [t.state for t in study.get_trials()] == [TrialState.RUNNING]
    proc.kill()
    proc.wait()
    time.sleep(3.0)                            # silent for more than the grace period
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert trials[1].params == trials[0].params
    # the retry copies the dead trial's last beat: it counts from its own start, not stale
    study.optimize(lambda t: (optuna.storages.fail_stale_trials(t.study), t.params["x"])[1],
                   n_trials=1)
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.COMPLETE]


def test_a_journal_without_heartbeats_keeps_a_dead_trial_running(tmp_path):
    url = f"journal:{tmp_path / 's.log'}"
    storage = open_storage(url, heartbeat=None)
    study = optuna.create_study(study_name="s", storage=storage)
    study.ask()
    assert storage.get_heartbeat_interval() is None
    optuna.storages.fail_stale_trials(study)
    trial, = study.get_trials()
    assert trial.state == TrialState.RUNNING and not trial.system_attrs


def test_a_journal_storage_with_heartbeats_pickles(tmp_path):
    import pickle

    storage = open_storage(f"journal:{tmp_path / 's.log'}", heartbeat=3)
    again = pickle.loads(pickle.dumps(storage))
    assert type(again) is type(storage) and again.get_heartbeat_interval() == 3
    assert again.get_heartbeat_stale_trial_callback() is not None
