"""Study throughput for a cheap objective: trials per second of the same study on each storage
option, measured in one run (rounds interleaved, so machine load hits every option alike).

    OMP_NUM_THREADS=1 python benchmarks/bench_storage.py [--trials 200] [--rounds 2]
        [--out benchmarks/results/storage.md]

The study: ``nb201-edge`` × ``nb201-cifar10-latency-area`` (NAS-Bench-201 table accuracy, edge
cost model: about 10 ms of work per trial in memory), NSGA-II, seed 0, ``--trials`` evaluated
trials, a fresh storage file per measurement. Options:

- ``sqlite``: ``moo-cosearch run``'s default path, every Optuna write a SQLite commit
  (``sqlite:///...``, heartbeats on);
- ``journal``: the same through Optuna's ``JournalStorage`` on one file (one ``fsync`` per
  write);
- ``memory``: ``InMemoryStorage``, nothing survives the process (the ceiling);
- ``memory+copy_study/50``: in memory, the study copied to SQLite with ``optuna.copy_study``
  every 50 trials (a crash loses up to 49 finished trials);
- ``batch50-sqlite`` / ``batch50-journal``: ``run --batch 50`` (50 trials asked, priced by one
  cost-model call, told), every write still going to the storage;
- ``write-through-journal`` / ``write-through-sqlite``: the comparison harness's runs
  (``moo_cosearch.compare._run.run_one``): the study in memory, each finished trial added to
  the stored study at once (one append per trial).

Each row: median seconds over the rounds, trials/s, ms/trial, the ratio to ``sqlite`` in the
same run, and what a crash loses. Appends one JSON line per measurement to
``results/storage.jsonl``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import optuna  # noqa: E402

from moo_cosearch.compare._run import run_one  # noqa: E402
from moo_cosearch.workers import RunConfig, run_worker  # noqa: E402

RESULTS = Path(__file__).parent / "results"
LOSES = {
    "sqlite": "the running trial (retried by heartbeat)",
    "journal": "the running trial",
    "memory": "everything",
    "memory+copy_study/50": "up to 49 finished trials and the running one",
    "batch50-sqlite": "the running batch's unfinished trials",
    "batch50-journal": "the running batch's unfinished trials",
    "write-through-journal": "the running trial",
    "write-through-sqlite": "the running trial",
}


def _config(storage: str | None, trials: int, **kw) -> RunConfig:
    return RunConfig(sampler="nsga2", seed=0, storage=storage, trials=trials,
                     study_name="bench", **kw)


def _checkpointed(folder: Path, trials: int, every: int = 50) -> int:
    url = f"sqlite:///{folder}/checkpoint.db"

    def checkpoint(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if (trial.number + 1) % every == 0:
            try:
                optuna.delete_study(study_name="bench", storage=url)
            except KeyError:
                pass
            optuna.copy_study(from_study_name="bench", from_storage=study._storage,
                              to_storage=url)

    return run_worker(_config(None, trials), callback=checkpoint).evaluated


def options(folder: Path, trials: int) -> dict[str, Callable[[], int]]:
    """Each option: a call that runs the study in ``folder`` and returns evaluated trials."""
    sql, jnl = f"sqlite:///{folder}/s.db", f"journal:{folder}/s.log"
    return {
        "sqlite": lambda: run_worker(_config(sql, trials)).evaluated,
        "journal": lambda: run_worker(_config(jnl, trials)).evaluated,
        "memory": lambda: run_worker(_config(None, trials)).evaluated,
        "memory+copy_study/50": lambda: _checkpointed(folder, trials),
        "batch50-sqlite": lambda: run_worker(_config(sql, trials, batch=50)).evaluated,
        "batch50-journal": lambda: run_worker(_config(jnl, trials, batch=50)).evaluated,
        "write-through-journal": lambda: run_one(_config(jnl, None, budget=trials),
                                                 trials).evaluated,
        "write-through-sqlite": lambda: run_one(_config(sql, None, budget=trials),
                                                trials).evaluated,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS / "storage.md"))
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    times: dict[str, list[float]] = {}
    names = list(LOSES)
    for r in range(args.rounds):
        for name in names:
            with tempfile.TemporaryDirectory() as tmp:
                run = options(Path(tmp), args.trials)[name]
                start = time.perf_counter()
                evaluated = run()
                sec = time.perf_counter() - start
            times.setdefault(name, []).append(sec)
            row = {"option": name, "round": r, "trials": evaluated, "seconds": sec,
                   "when": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count()}
            print(json.dumps(row), flush=True)
            with (RESULTS / "storage.jsonl").open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    base = statistics.median(times["sqlite"])
    lines = ["# Study throughput by storage (cheap objective)", "",
             f"machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs "
             f"(absolute figures vary with the load; the ratios are from one run, rounds "
             f"interleaved), Python {platform.python_version()}, Optuna {optuna.__version__}, "
             f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}", "",
             f"Study: nb201-edge x nb201-cifar10-latency-area, NSGA-II seed 0, {args.trials} "
             f"evaluated trials per measurement, median of {args.rounds} rounds.", "",
             "| option | seconds | trials/s | ms/trial | x sqlite | a crash loses |",
             "|---|---|---|---|---|---|"]
    for name in names:
        sec = statistics.median(times[name])
        lines.append(f"| {name} | {sec:.1f} | {args.trials / sec:.1f} | "
                     f"{1000 * sec / args.trials:.1f} | {base / sec:.1f} | {LOSES[name]} |")
    safe = [n for n in names if LOSES[n] == "the running trial"]
    pick = min(safe, key=lambda n: statistics.median(times[n]))
    lines += ["", f"Fastest option that loses only the running trial on a crash: `{pick}`, "
              f"{base / statistics.median(times[pick]):.1f}x `sqlite` in this run "
              f"(the comparison harness's default storage)."]
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
