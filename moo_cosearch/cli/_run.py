"""``moo-cosearch run``: one study (or N workers on Dask) to ``--trials`` / ``--budget``, then
the report; the options it parses and the output folder it writes."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ._common import CLIError, _quiet_raised_failures, _show_notices

if TYPE_CHECKING:
    from ..workers import RunConfig

__all__ = ["safe_file_name"]


def _parse_options(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(f"sampler options are KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _run_config(args: argparse.Namespace) -> "RunConfig":
    from ..workers import RunConfig

    trials = args.trials if args.trials is not None else (None if args.budget else 300)
    return RunConfig(space=args.space, objectives=args.objectives, sampler=args.sampler,
                     options=_parse_options(args.option), backend=args.backend, view=args.view,
                     storage=None if args.storage in ("", "memory") else args.storage,
                     study_name=args.study_name, seed=args.seed, trials=trials,
                     budget=args.budget, heartbeat=args.heartbeat or None,
                     skip_duplicates=not args.allow_repeats, batch=args.batch,
                     accuracy=args.accuracy, pruner=args.pruner)


def _cmd_run(args: argparse.Namespace) -> int:
    import optuna
    from tqdm import tqdm

    from ..analysis import write_report
    from ..storage import describe, reap_running
    from ..workers import join, prepare, run_worker

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _quiet_raised_failures(args.storage)
    _show_notices()
    config = _run_config(args)
    prepared = prepare(config)     # space, objectives, backend, accuracy: one line if misfit
    out = _writable_folder(Path(args.out) if args.out
                           else Path("runs") / safe_file_name(prepared.study_name))
    where = describe(config.storage) if config.storage else "memory"
    if args.workers > 1:
        from ..workers import run_cluster

        print(f"study {prepared.study_name!r} in {where}: {args.workers} workers on "
              f"{args.scheduler or 'a local Dask cluster'}")
        start = time.perf_counter()
        results = run_cluster(config, args.workers, args.scheduler)
        for r in results:
            print(f"  worker {r.worker}: seed {r.seed}, {r.evaluated} evaluated, "
                  f"{r.skipped_duplicates} repeats skipped, {r.seconds:.1f} s")
        print(f"{sum(r.evaluated for r in results)} trials evaluated in "
              f"{time.perf_counter() - start:.1f} s")
        study = join(prepared).study
    else:
        joined = join(prepared)
        study = joined.study
        if args.reap_running:
            reaped = reap_running(study)
            print(f"reaped {len(reaped)} RUNNING trials (now FAIL, enqueued again): {reaped}")
        before = len(study.trials)
        goal = (f"{config.trials} more evaluated trials" if config.trials else "") + \
            (" " if config.trials and config.budget else "") + \
            (f"until the study holds {config.budget}" if config.budget else "")
        print(f"study {study.study_name!r} in {where}: "
              f"{'resuming with ' + str(before) + ' trials' if before else 'new'}; "
              f"{goal} with sampler {args.sampler!r} (seed {joined.seed})")
        print(f"space {prepared.space.name} ({prepared.space.cardinality:.3g} designs), "
              f"objectives {prepared.objectives.name}: "
              f"{', '.join(f'{d} {m}' for m, d in prepared.objectives.objectives)}")
        with tqdm(total=config.trials or config.budget, unit="trial", disable=args.quiet,
                  mininterval=0.5) as bar:
            def progress(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
                if "skipped" not in trial.user_attrs:
                    bar.update(1)
                bar.set_postfix(skipped_acc=prepared.objective.skipped, refresh=False)

            result = run_worker(prepared, joined=joined, callback=progress)
        print(f"{result.evaluated} trials evaluated in {result.seconds:.1f} s"
              + (f"; {result.skipped_duplicates} repeated designs skipped"
                 if result.skipped_duplicates else ""))
        if result.exhausted:
            print("stopped early: the sampler kept proposing designs already evaluated "
                  "(the space may be exhausted)", file=sys.stderr)
    write_report(study, prepared.objectives, out, max_rows=args.show)
    exhausted = any(r.exhausted for r in results) if args.workers > 1 else result.exhausted
    return _budget_shortfall(study, config, exhausted)


def _budget_shortfall(study: Any, config: "RunConfig", exhausted: bool) -> int:
    """0, or 1 after one line saying why the study holds fewer than ``--budget`` evaluated
    trials (RUNNING trials that may be a killed worker's, on a storage without heartbeats)."""
    from ..workers import STOP, budget_state

    if config.budget is None or STOP.is_set() or exhausted:
        return 0                # an exhausted space was reported above
    done, running = budget_state(study)
    if done >= config.budget:
        return 0
    why = (f"trial(s) {running} are still RUNNING (another worker's, or a killed worker's "
           f"that never goes stale: a storage without heartbeats, or a trial of a process "
           f"without them); when no other worker is alive, run again with --reap-running"
           if running else "the sampler proposed no new design")
    print(f"moo-cosearch run: stopped at {done} of --budget {config.budget} evaluated trials: "
          f"{why}", file=sys.stderr)
    return 1


def safe_file_name(name: str) -> str:
    """``name`` as one file name: characters other than letters and digits (of any script),
    ``.``, ``_`` and ``-`` become ``_`` and leading dots go, so a study or space name never
    leaves its folder. A name that had to change (or is longer than 100 characters) ends in
    ``-`` and 8 hex digits of its hash, so two names never share a folder (``研究-✓`` and
    ``研究-✗`` both lose their symbol)."""
    import hashlib

    safe = re.sub(r"[^\w.-]+", "_", name).lstrip(".") or "study"
    if safe == name and len(name) <= 100:
        return safe
    return f"{safe[:100]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _writable_folder(path: Path) -> Path:
    """``path``, created, after checking that a file can be written there (before any trial)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".moo-cosearch-write-check"
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise CLIError(f"output folder {path} is not writable: {e.strerror or e}") from None
    return path
