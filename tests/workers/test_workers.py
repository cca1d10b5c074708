"""Many workers on one study: started at the same instant, killed, resumed, fanned out on Dask.

Every storage kind is tried (SQLite file, Optuna's JournalStorage file, a real PostgreSQL
server started by the tests or by ``.ci/run``). What must hold in every case: every worker
exits 0, the study holds exactly the budget of COMPLETE trials, trial numbers are unique,
no COMPLETE trial is lost, and no design is evaluated twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from moo_cosearch.storage import open_storage

STORAGES = ["sqlite", "journal", "postgres"]


def _url(kind: str, tmp_path: Path, request) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    if kind == "journal":
        return f"journal:{tmp_path / 'shared.log'}"
    return request.getfixturevalue("postgres_url")


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _as_from_a_terminal() -> None:
    """In the child: Ctrl-C's default disposition, as in a terminal. A test run started in the
    background (``cmd &``, nohup) passes SIGINT on as ignored, and Python then installs no
    KeyboardInterrupt for it: the interrupt tests would time out on a run that never saw it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _worker(tmp_path: Path, i: int, *args: str, **env: str) -> subprocess.Popen:
    out = open(tmp_path / f"worker{i}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "moo_cosearch.cli", "run", "-q",
                             "--study-name", "shared", "--out", str(tmp_path / f"out{i}"),
                             *args], cwd=tmp_path, env={**_env(tmp_path), **env}, stdout=out,
                            stderr=subprocess.STDOUT, preexec_fn=_as_from_a_terminal)


def _log(tmp_path: Path, i: int) -> str:
    return (tmp_path / f"worker{i}.log").read_text()


def _trials(url: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name="shared", storage=open_storage(url, heartbeat=None))
    return study.get_trials(deepcopy=False)


def _check_study(url: str, budget: int) -> list[optuna.trial.FrozenTrial]:
    trials = _trials(url)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)), "duplicate trial numbers"
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(done) == budget, (len(done), [(t.number, t.state.name, t.user_attrs)
                                             for t in trials if t.state != TrialState.COMPLETE])
    designs = [tuple(sorted(t.params.items())) for t in done]
    assert len(set(designs)) == len(designs), "a design was evaluated twice"
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    return trials


@pytest.mark.integration
@pytest.mark.parametrize("kind", STORAGES)
@pytest.mark.parametrize("sampler,budget", [("nsga2", 40), ("qehvi", 16)])
def test_four_workers_started_together_share_one_study(tmp_path, request, kind, sampler,
                                                       budget):
    url = _url(kind, tmp_path, request)
    args = ["--sampler", sampler, "--storage", url, "--budget", str(budget)]
    if sampler == "qehvi":
        args += ["-o", "n_startup_trials=6"]
    procs = [_worker(tmp_path, i, *args) for i in range(4)]
    codes = [p.wait(timeout=600) for p in procs]
    # the failing workers' own last lines (pytest cuts long messages)
    assert codes == [0] * 4, {i: _log(tmp_path, i)[-600:] for i, c in enumerate(codes) if c}
    _check_study(url, budget)
    evaluated = [int(_log(tmp_path, i).split(" trials evaluated")[0].split()[-1])
                 for i in range(4)]
    assert sum(evaluated) == budget       # every result a worker reported is in the study
    seeds = [_log(tmp_path, i).split("(seed ")[1].split(")")[0] for i in range(4)]
    assert len(set(seeds)) == 4, seeds   # one creator, three joiners with their own seeds


_SLOW = '''
import hashlib, os, time

CALLS = []

def accuracy(design):
    """A deterministic accuracy that takes a while, so that a kill lands inside a trial; the
    call numbered SLOW_HANG_AT (from 1) in this process never returns, so that the kill lands
    there however loaded the machine is."""
    CALLS.append(1)
    if len(CALLS) == int(os.environ.get("SLOW_HANG_AT", "0")):
        time.sleep(3600)
    time.sleep(0.5)
    h = hashlib.sha256(repr(sorted(design.items())).encode()).digest()
    return 50.0 + h[0] / 10.0
'''

_OBJECTIVES = '''
name = "slow"
space = "nb201-edge"
accuracy = { source = "callable", function = "slowacc:accuracy" }
cost = "edge"

[[objectives]]
metric = "accuracy"
direction = "maximize"

[[objectives]]
metric = "latency_ms"
direction = "minimize"
'''


def _slow_setup(tmp_path: Path) -> Path:
    (tmp_path / "slowacc.py").write_text(textwrap.dedent(_SLOW))
    path = tmp_path / "slow.toml"
    path.write_text(_OBJECTIVES)
    return path


def _wait_for(condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if condition():
                return
        except Exception:  # noqa: BLE001 - the study may not exist yet
            pass
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.integration
@pytest.mark.parametrize("kind, budget", [(k, 12) for k in STORAGES] + [("sqlite", 4)])
def test_kill_9_mid_trial_then_resume_loses_nothing(tmp_path, request, kind, budget):
    """(budget 4: the kill lands in the last trial the budget allows, which the dead worker
    must not keep holding)."""
    url = _url(kind, tmp_path, request)
    objectives = _slow_setup(tmp_path)
    args = ["--objectives", str(objectives), "--storage", url, "--budget", str(budget),
            "--sampler", "tpe", "--heartbeat", "1"]
    # call 1 is the configuration check before the first trial: call 5 is the fourth trial's
    proc = _worker(tmp_path, 0, *args, SLOW_HANG_AT="5")

    def mid_trial() -> bool:
        trials = _trials(url)
        return (sum(t.state == TrialState.COMPLETE for t in trials) >= 3
                and any(t.state == TrialState.RUNNING and t.params for t in trials))

    _wait_for(mid_trial)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = {t.number: t.values for t in _trials(url) if t.state == TrialState.COMPLETE}
    killed = [t.number for t in _trials(url) if t.state == TrialState.RUNNING]
    assert killed, "the kill must land inside a trial"
    time.sleep(2.5)                        # past the heartbeat grace period (2 x 1 s)
    again = _worker(tmp_path, 1, *args)
    assert again.wait(timeout=300) == 0, _log(tmp_path, 1)
    trials = _check_study(url, budget)
    after = {t.number: t.values for t in trials if t.state == TrialState.COMPLETE}
    assert all(after.get(n) == v for n, v in before.items()), "a COMPLETE trial was lost"
    for n in killed:                       # the killed trial failed...
        assert trials[n].state == TrialState.FAIL
        if budget > len(before) + 1 and "skipped" not in trials[n].user_attrs:
            # ...and was run again (in the last slot of the budget the resumed worker may
            # fill the slot with a new design before the stale trial's retry: nothing is
            # lost either way, which _check_study checked). The kill may land while the
            # sampler is still writing parameters: the retry keeps those it had and samples
            # the rest.
            kept = trials[n].params.items()
            assert any(kept <= t.params.items() and t.state == TrialState.COMPLETE
                       for t in trials if t.number > n), _log(tmp_path, 1)


@pytest.mark.integration
def test_sigterm_closes_the_running_trial(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    objectives = _slow_setup(tmp_path)
    proc = _worker(tmp_path, 0, "--objectives", str(objectives), "--storage", url,
                   "--trials", "50")
    _wait_for(lambda: any(t.state == TrialState.RUNNING and t.params for t in _trials(url)))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130, _log(tmp_path, 0)
    assert "interrupted" in _log(tmp_path, 0)
    assert not [t for t in _trials(url) if t.state == TrialState.RUNNING]


@pytest.mark.integration
def test_dask_cluster_of_four_workers(tmp_path):
    pytest.importorskip("distributed")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    proc = subprocess.run([sys.executable, "-m", "moo_cosearch.cli", "run", "--study-name",
                           "shared", "--storage", url, "--workers", "4", "--budget", "30",
                           "--out", str(tmp_path / "out")], cwd=tmp_path,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    _check_study(url, 30)
    lines = [line for line in proc.stdout.splitlines() if line.strip().startswith("worker dask-")]
    assert len(lines) == 4, proc.stdout
    seeds = {line.split("seed ")[1].split(",")[0] for line in lines}
    assert len(seeds) == 4
    assert sum(int(line.split(", ")[1].split()[0]) for line in lines) == 30


def test_workers_need_a_shared_storage(tmp_path, capsys):
    from moo_cosearch.cli import main

    assert main(["run", "--storage", "memory", "--workers", "2", "--trials", "2",
                 "--out", str(tmp_path / "o")]) == 2
    assert "storage they share" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("kind, batch, heartbeat", [
    ("sqlite", 1, 1), ("sqlite", 4, 1), ("journal", 4, 1), ("journal", 4, 0), ("postgres", 4, 1)])
def test_kill_9_then_resume_at_once_reaches_the_budget_exactly(tmp_path, request, kind, batch,
                                                               heartbeat):
    """No pause for the heartbeat grace before the resume: the resumed worker waits for the
    dead worker's trials to go stale and retries them (without heartbeats, it says in one line
    why it stopped short, exit 1, and ``--reap-running`` finishes the study). Batch trials get
    heartbeats like single ones, so a killed batch leaves no RUNNING trial."""
    url = _url(kind, tmp_path, request)
    objectives = _slow_setup(tmp_path)
    budget = 12
    args = ["--objectives", str(objectives), "--storage", url, "--budget", str(budget),
            "--sampler", "random", "--heartbeat", str(heartbeat), "--batch", str(batch)]
    # call 1 is the configuration check: the hang is in the second batch (or the 5th trial)
    proc = _worker(tmp_path, 0, *args, SLOW_HANG_AT=str(batch + 2 if batch > 1 else 6))

    def mid_trial() -> bool:
        trials = _trials(url)
        return (sum(t.state == TrialState.COMPLETE for t in trials) >= min(batch, 4)
                and sum(t.state == TrialState.RUNNING and bool(t.params) for t in trials)
                >= batch)

    _wait_for(mid_trial)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = {t.number: t.values for t in _trials(url) if t.state == TrialState.COMPLETE}
    assert [t for t in _trials(url) if t.state == TrialState.RUNNING]
    again = _worker(tmp_path, 1, *args)
    code = again.wait(timeout=300)
    if not heartbeat:
        lines = [x for x in _log(tmp_path, 1).splitlines() if x.startswith("moo-cosearch run:")]
        assert code == 1 and len(lines) == 1 and "--reap-running" in lines[0], \
            _log(tmp_path, 1)
        assert f"of --budget {budget} evaluated trials" in lines[0]
        again = _worker(tmp_path, 2, *args, "--reap-running")
        code = again.wait(timeout=300)
    assert code == 0, _log(tmp_path, 1)
    trials = _check_study(url, budget)
    after = {t.number: t.values for t in trials if t.state == TrialState.COMPLETE}
    assert all(after.get(n) == v for n, v in before.items()), "a COMPLETE trial was lost"


@pytest.mark.integration
@pytest.mark.slow
def test_ctrl_c_on_four_dask_workers_is_one_line_and_leaves_no_running_trial(tmp_path):
    pytest.importorskip("distributed")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    objectives = _slow_setup(tmp_path)
    out = open(tmp_path / "cluster.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "moo_cosearch.cli", "run", "-q", "--workers",
                             "4", "--study-name", "shared", "--objectives", str(objectives),
                             "--storage", url, "--budget", "200", "--sampler", "random",
                             "--out", str(tmp_path / "out")], cwd=tmp_path,
                            env=_env(tmp_path), stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=_as_from_a_terminal)
    _wait_for(lambda: sum(t.state == TrialState.RUNNING for t in _trials(url)) >= 2
              and any(t.state == TrialState.COMPLETE for t in _trials(url)))
    os.killpg(proc.pid, signal.SIGINT)         # Ctrl-C reaches the whole terminal group
    assert proc.wait(timeout=120) == 130
    log = (tmp_path / "cluster.log").read_text()
    lines = [x for x in log.splitlines() if not x.startswith("checking the ")]
    assert lines[1:] == ["interrupted; completed trials are stored and the study resumes on "
                         "the next run"], log
    assert not [t for t in _trials(url) if t.state == TrialState.RUNNING]


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("sig, batch", [(signal.SIGINT, 1), (signal.SIGINT, 4),
                                        (signal.SIGTERM, 4)])
def test_an_interrupt_is_one_line_and_closes_every_running_trial(tmp_path, sig, batch):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    objectives = _slow_setup(tmp_path)
    proc = _worker(tmp_path, 0, "--objectives", str(objectives), "--storage", url,
                   "--trials", "50", "--batch", str(batch))
    _wait_for(lambda: sum(t.state == TrialState.RUNNING and bool(t.params)
                          for t in _trials(url)) >= batch)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 130, _log(tmp_path, 0)
    lines = [x for x in _log(tmp_path, 0).splitlines() if not x.startswith("checking the ")]
    assert lines[2:] == ["interrupted; completed trials are stored and the study resumes on "
                         "the next run"], lines     # after the two header lines: nothing else
    assert not [t for t in _trials(url) if t.state == TrialState.RUNNING]
