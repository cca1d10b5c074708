"""Many workers on one study, per storage: held trials, repeats, kills survived, trials lost.

For each storage (SQLite file, journal file, PostgreSQL when a server can start here) and
sampler: W workers started together with ``run --budget B`` on one new study; then K rounds
of ``kill -9`` of a worker inside a trial followed by a resume (after the heartbeat grace, or
at once, of single or ``--batch 4`` workers). Per run it records the
COMPLETE trials against the budget, duplicate trial numbers, designs evaluated twice,
repeats skipped by the gate, workers that died, and COMPLETE trials lost to the kills.

    python benchmarks/bench_workers.py [--workers 4] [--budget 100] [--kills 3]

Appends one JSON line per run to ``benchmarks/results/workers.jsonl`` and rewrites
``benchmarks/results/workers.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from moo_cosearch.storage import open_storage  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
_SLOW = '''
import hashlib, time

def accuracy(design):
    time.sleep(0.2)
    return 50.0 + hashlib.sha256(repr(sorted(design.items())).encode()).digest()[0] / 10.0
'''
_OBJECTIVES = '''name = "slow"
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


def _env(folder: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(folder), "OMP_NUM_THREADS": "1"}


def _worker(folder: Path, args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "moo_cosearch.cli", "run", "-q",
                             "--study-name", "shared", "--out", str(folder / "out"), *args],
                            cwd=folder, env=_env(folder), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _trials(url: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name="shared", storage=open_storage(url, heartbeat=None))
    return study.get_trials(deepcopy=False)


def _summary(url: str, budget: int) -> dict:
    trials = _trials(url)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    designs = [tuple(sorted(t.params.items())) for t in done]
    return {"complete": len(done), "budget": budget,
            "duplicate_numbers": len(trials) - len({t.number for t in trials}),
            "designs_evaluated_twice": len(designs) - len(set(designs)),
            "repeats_skipped": sum("duplicate of" in str(t.user_attrs.get("skipped", ""))
                                   for t in trials),
            "running_left": sum(t.state == TrialState.RUNNING for t in trials)}


def together(url: str, folder: Path, sampler: str, workers: int, budget: int) -> dict:
    start = time.perf_counter()
    procs = [_worker(folder, ["--sampler", sampler, "--storage", url, "--budget", str(budget)])
             for _ in range(workers)]
    codes = [p.wait(timeout=3600) for p in procs]
    return {**_summary(url, budget), "workers": workers, "workers_died": sum(c != 0 for c in codes),
            "seconds": round(time.perf_counter() - start, 1)}


def kills(url: str, folder: Path, rounds: int, budget: int, batch: int = 1,
          at_once: bool = False) -> dict:
    """``at_once``: resume right after the kill, without waiting out the heartbeat grace (the
    resumed worker waits for the stale trials itself). A resume that stops short (exit 1 and
    one line: a trial that never goes stale) is counted, and ``--reap-running`` finishes."""
    (folder / "slowacc.py").write_text(textwrap.dedent(_SLOW))
    (folder / "slow.toml").write_text(_OBJECTIVES)
    args = ["--objectives", "slow.toml", "--storage", url, "--budget", str(budget),
            "--sampler", "tpe", "--heartbeat", "1", "--batch", str(batch)]
    lost = survived = exact = short_said = 0
    for _ in range(rounds):
        proc = _worker(folder, args)
        end = time.monotonic() + 300
        while time.monotonic() < end:
            try:
                t = _trials(url)
                n_done = sum(x.state == TrialState.COMPLETE for x in t)
                if any(x.state == TrialState.RUNNING and x.params for x in t) and n_done >= 2 \
                        and proc.poll() is None:
                    break
            except Exception:  # noqa: BLE001 - the study may not exist yet
                pass
            time.sleep(0.05)
        before = {x.number: x.values for x in _trials(url) if x.state == TrialState.COMPLETE}
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if not at_once:
            time.sleep(2.5)
        code = _worker(folder, args).wait(timeout=3600)
        if code == 1:
            short_said += 1
            code = _worker(folder, args + ["--reap-running"]).wait(timeout=3600)
        survived += code == 0
        after = {x.number: x.values for x in _trials(url) if x.state == TrialState.COMPLETE}
        lost += sum(after.get(n) != v for n, v in before.items())
        result = _summary(url, int(args[args.index("--budget") + 1]))
        exact += result["complete"] == result["budget"] and not result["running_left"]
        args[args.index("--budget") + 1] = str(result["complete"] + budget)
    return {**result, "kills": rounds, "resumes_ok": survived, "complete_lost": lost,
            "budget_exact": exact, "batch": batch, "resume_at_once": at_once,
            "short_stops": short_said}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--budget", type=int, default=100)
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--samplers", default="nsga2,qehvi")
    p.add_argument("--tests", default="together,kills,kills-now,kills-batch-now",
                   help="which runs: together, kills (resume after the heartbeat grace), "
                        "kills-now (resume at once), kills-batch-now (--batch 4, at once)")
    args = p.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    from pg_server import PostgresUnavailable, create_database, start, stop

    pg_dir = Path(tempfile.mkdtemp(prefix="moo-cosearch-bench-pg-"))
    try:
        server = start(pg_dir)
    except PostgresUnavailable as e:
        print(f"PostgreSQL skipped: {e}")
        server = None
    try:
        for kind in ("sqlite", "journal", "postgres"):
            if kind == "postgres" and server is None:
                continue
            for sampler in args.samplers.split(","):
                for test in args.tests.split(","):
                    if test.startswith("kills") and sampler != args.samplers.split(",")[0]:
                        continue
                    folder = Path(tempfile.mkdtemp(prefix="moo-cosearch-bench-"))
                    url = {"sqlite": f"sqlite:///{folder / 's.db'}",
                           "journal": f"journal:{folder / 's.log'}"}.get(kind) or \
                        create_database(server, f"b_{sampler}_{test}")
                    row = {"storage": kind, "sampler": sampler if test == "together" else "tpe",
                           "test": test, "machine": "2-core CPU sandbox (shared)"}
                    row.update(together(url, folder, sampler, args.workers, args.budget)
                               if test == "together" else
                               kills(url, folder, args.kills, 12,
                                     batch=4 if test == "kills-batch-now" else 1,
                                     at_once=test.endswith("-now")))
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    with open(RESULTS / "workers.jsonl", "a") as fh:
                        fh.write(json.dumps(row) + "\n")
    finally:
        if server is not None:
            stop(pg_dir)
    _write_table(args)


def _write_table(args: argparse.Namespace) -> None:
    """``workers.md`` from the newest row of each (storage, sampler, test) in the jsonl."""
    latest: dict[tuple, dict] = {}
    for line in (RESULTS / "workers.jsonl").read_text().splitlines():
        row = json.loads(line)
        latest[(row["storage"], row["sampler"], row["test"])] = row
    rows = list(latest.values())
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["# Many workers on one study (benchmarks/bench_workers.py)", "",
             f"`together`: {args.workers} workers started at once on one new study with "
             f"`run --budget {args.budget}`. `kills`: `kill -9` of a worker inside a trial, then "
             f"a resume, {args.kills} rounds of 12 more trials each (an accuracy source that takes "
             f"0.2 s, so the kill lands mid-trial). complete_lost: COMPLETE trials before a "
             f"kill that were missing or changed after it. `kills-now` / `kills-batch-now`: "
             f"the resume starts right after the kill (no wait for the heartbeat grace), of "
             f"single / `--batch 4` workers; budget_exact: resumes that ended with exactly the "
             f"budget COMPLETE and none RUNNING; short_stops: resumes that stopped short "
             f"with exit 1 and one line (a trial that never went stale), then finished with "
             f"`--reap-running`.", "",
             "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    (RESULTS / "workers.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
