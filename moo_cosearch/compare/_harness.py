"""Compare search strategies on one space and objective set: ``moo-cosearch compare`` and
:func:`compare`.

One Optuna study per (sampler, seed), all in one storage, each brought to the same budget of
*evaluated* trials (repeats the gate refuses do not count); one reference point for every run,
taken from the objective set or, for the coordinates it does not declare, derived once from
all runs and printed. Each run is evaluated in memory and written through to the storage one
finished trial at a time (:mod:`moo_cosearch.compare._run`; ``benchmarks/results/storage.md``
has the numbers behind that choice), so a comparison resumes after a crash or Ctrl-C from what
the storage holds, and its runs spread over local worker processes.

>>> from moo_cosearch.compare import compare
>>> result = compare(["nsga2", "random"], seeds=3, trials=100, out="runs/shootout")
>>> result.runs[0]["final_hv"], result.summary["samplers"]["nsga2"]["median_hv"]

Measures and aggregation: ``_stats``; references (stock networks on the baseline, Eyeriss-like
and NVDLA-like accelerators): ``_refs``; outputs (``summary.json``, ``report.md``,
``runs.csv``, figures): ``_report`` (modules of this package).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ._defaults import DEFAULT_COMPARE_STORAGE, DEFAULT_TARGETS, FORMATS
from ..objectives import load_objectives
from ..samplers import list_samplers, suggest
from ..space import load_space
from ..storage import describe
from ..study import default_study_name, join_study
from ..workers import DEFAULT_OBJECTIVES, DEFAULT_SPACE, RunConfig, prepare

if TYPE_CHECKING:
    import optuna

    from ._run import RunOutcome

__all__ = ["DEFAULT_COMPARE_STORAGE", "DEFAULT_TARGETS", "Comparison", "compare"]



@dataclass
class Comparison:
    """A finished comparison.

    Attributes:
        runs: one row per (sampler, seed): sampler, seed, study_name, final_hv, n_trials,
            seconds, decision_s, violation_rate, accuracy evaluations, best feasible accuracy
            under each latency target, complete.
        summary: what ``summary.json`` holds.
        out: the output folder (None: nothing written).
        studies: ``"<sampler>/seed<seed>"`` -> the run's study.
    """

    runs: list[dict[str, Any]]
    summary: dict[str, Any]
    out: Path | None = None
    studies: dict[str, "optuna.Study"] = field(default_factory=dict, repr=False)

    def to_pandas(self) -> Any:
        """The runs as a ``pandas.DataFrame`` (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.runs)


def _seeds(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, bool) or (isinstance(seeds, int) and seeds < 1):
        raise ValueError(f"seeds must be a count >= 1 or a list of seeds, got {seeds!r}")
    out = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not out or len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct and at least one, got {seeds!r}")
    return out


def _check(samplers: Sequence[str], trials: int, workers: int,
           options: Mapping[str, Mapping[str, Any]]) -> list[str]:
    names = list(samplers)
    known = list_samplers()
    if not names:
        raise ValueError("give at least one sampler")
    bad = [s for s in names if s not in known]
    if bad:
        raise ValueError(f"unknown samplers {bad}; known: {sorted(known)}"
                         + suggest(bad[0], known))
    if len(set(names)) != len(names):
        raise ValueError(f"each sampler once, got {names}")
    for name, value in (("trials", trials), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    stray = sorted(set(options) - set(names))
    if stray:
        raise ValueError(f"options given for samplers not compared: {stray}")
    return names


def _execute(plan: list[tuple[str, int, RunConfig]], trials: int, workers: int,
             log: Callable[[str], None]) -> dict[tuple[str, int], "RunOutcome"]:
    """Run every planned (sampler, seed), on ``workers`` local processes."""
    from ._run import run_one

    outcomes: dict[tuple[str, int], RunOutcome] = {}

    def report(i: int, key: tuple[str, int], outcome: "RunOutcome") -> None:
        outcomes[key] = outcome
        what = (f"error: {outcome.error}" if outcome.error else
                f"{outcome.added} trials in {outcome.seconds:.1f} s, {outcome.evaluated}/"
                f"{trials} evaluated" + (" (stopped: the sampler repeats itself)"
                                         if outcome.exhausted else ""))
        log(f"[{i}/{len(plan)}] {key[0]} seed {key[1]}: {what}")

    if workers == 1:
        for i, (sampler, seed, config) in enumerate(plan, 1):
            report(i, (sampler, seed), run_one(config, trials))
        return outcomes
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_one, config, trials): (sampler, seed)
                   for sampler, seed, config in plan}
        for i, future in enumerate(as_completed(futures), 1):
            report(i, futures[future], future.result())
    return outcomes


def _complete(url: str | None, plan: list[tuple[str, int, RunConfig]], trials: int
              ) -> dict[tuple[str, int], "RunOutcome"]:
    """Runs the storage already holds in full (a resumed comparison skips them)."""
    import optuna

    from ._run import RunOutcome, evaluated_count, shared_storage

    if url is None:
        return {}
    store = shared_storage(url)
    names = {s.study_name for s in optuna.get_all_study_summaries(store)}
    done = {}
    for sampler, seed, config in plan:
        if config.study_name in names:
            n = evaluated_count(optuna.load_study(study_name=config.study_name, storage=store))
            if n >= trials:
                done[(sampler, seed)] = RunOutcome(config.study_name, evaluated=n)
    return done


def _load(url: str | None, plan: list[tuple[str, int, RunConfig]],
          outcomes: Mapping[tuple[str, int], "RunOutcome"]) -> dict[tuple[str, int], Any]:
    """Each run's study: from the storage, or the in-memory study its outcome holds."""
    import optuna

    from ._run import shared_storage

    studies = {}
    store = shared_storage(url) if url is not None else None
    names = {s.study_name for s in optuna.get_all_study_summaries(store)} if store else set()
    for sampler, seed, config in plan:
        outcome = outcomes.get((sampler, seed))
        if store is None:
            if outcome is not None and outcome.study is not None:
                studies[(sampler, seed)] = outcome.study
        elif config.study_name in names:
            studies[(sampler, seed)] = optuna.load_study(study_name=config.study_name,
                                                         storage=store)
    return studies


def compare(samplers: Sequence[str], *, space: str | None = None,
            objectives: str = DEFAULT_OBJECTIVES, seeds: int | Sequence[int] = 10,
            trials: int = 300, workers: int = 1,
            storage: str | None = DEFAULT_COMPARE_STORAGE, out: str | Path | None = None,
            options: Mapping[str, Mapping[str, Any]] | None = None,
            backend: str | None = None, latency_targets: Sequence[float] | None = None,
            targets: Sequence[float] = DEFAULT_TARGETS,
            log: Callable[[str], None] | None = print,
            formats: Sequence[str] = ("png",)) -> Comparison:
    """Run (or resume) every sampler with every seed to ``trials`` evaluated trials, then
    measure, aggregate and report (see the module docstring).

    Args:
        samplers: names from ``moo-cosearch samplers``.
        space: space name or TOML path (None: the objective set's space).
        objectives: objective set name or TOML path.
        seeds: how many seeds (0..n-1), or the seeds themselves.
        trials: evaluated trials per run.
        workers: local processes running runs side by side (needs a storage). They are
            started with ``spawn``, which imports the calling script again: call
            ``compare`` under ``if __name__ == "__main__":`` there.
        storage: storage URL of the studies; the default is a journal file in ``out`` (memory
            when ``out`` is None); None (or ``"memory"``) keeps them in memory (one process,
            no resume).
        out: folder for ``summary.json``, ``report.md``, ``runs.csv`` and the figures (None:
            nothing written).
        options: sampler name -> constructor options.
        backend: cost backend overriding the objective set's.
        latency_targets: ms; the best feasible accuracy under each is reported (default: the
            objective set's latency limit, its half and its quarter, when it has one).
        targets: hypervolume targets for the ECDF, fractions of the best hypervolume any run
            found.
        log: where progress lines go (None: nowhere).
        formats: figure formats, any of ``png``, ``pdf``, ``svg``.

    Raises:
        ValueError: one line, before any run starts: an unknown sampler, bad counts, a
            configuration that does not fit, no shared storage for several workers, a folder
            another comparison is using or one holding a comparison with other settings
            (samplers, seeds, trials, space, objective set, options, backend, storage).
    """
    import optuna
    from filelock import FileLock, Timeout

    from ._provenance import check_settings, now, objectives_hash
    from ._report import build

    started = now()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    log = log or (lambda _: None)
    options = dict(options or {})
    names = _check(samplers, trials, workers, options)
    seed_list = _seeds(seeds)
    if any(not 0 < float(t) <= 1 for t in targets) or not targets:
        raise ValueError(f"targets are fractions in (0, 1], got {list(targets)}")
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"figure formats must be among {list(FORMATS)}, got {list(formats)}")
    if latency_targets is not None and any(not float(t) > 0 for t in latency_targets):
        raise ValueError(f"latency targets must be > 0 ms, got {list(latency_targets)}")
    url = storage
    if storage is not None and "{out}" in storage:
        url = None if out is None else storage.replace("{out}", str(out))
    if url in ("memory", ":memory:"):
        url = None
    if url is None and workers > 1:
        raise ValueError("several workers need a storage they share (journal:PATH, "
                         "sqlite:///PATH, postgresql://...), or an output folder for the "
                         "default journal file")
    obj = load_objectives(objectives)
    space_obj = load_space(space or obj.space or DEFAULT_SPACE)
    plan = []
    for seed in seed_list:                       # seed-major: every sampler gets seed 0 first
        for sampler in names:
            config = RunConfig(space=space, objectives=objectives, sampler=sampler,
                               options=dict(options.get(sampler, {})), backend=backend,
                               storage=url, seed=seed, trials=None, budget=trials,
                               heartbeat=None,
                               study_name=default_study_name(space_obj, obj, sampler, seed))
            plan.append((sampler, seed, config))
    prepared = prepare(plan[0][2])           # a misfit configuration stops here, once
    for sampler in names:                        # a bad option stops here, not mid-study
        join_study(space_obj, obj, sampler=sampler, seed=0,
                   sampler_options=options.get(sampler), storage=None, budget=trials)
    folder = Path(out) if out is not None else None
    lock = None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / ".compare.lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise ValueError(f"another comparison is running in {folder}") from None
        try:
            check_settings(folder, {
                "samplers": names, "seeds": seed_list, "trials": trials,
                "space": space_obj.name, "space_hash": space_obj.definition_hash,
                "objectives": obj.name, "objectives_hash": objectives_hash(obj),
                "options": {n: dict(options.get(n, {})) for n in names}, "backend": backend,
                "storage": url})
        except ValueError:
            lock.release()
            raise
    try:
        where = describe(url) if url else "memory"
        log(f"comparing {len(names)} samplers x {len(seed_list)} seeds, {trials} evaluated "
            f"trials each, on {space_obj.name} / {obj.name}; storage {where}; "
            f"{workers} worker{'s' if workers > 1 else ''}")
        outcomes = _complete(url, plan, trials)
        if outcomes:
            log(f"{len(outcomes)} of {len(plan)} runs are complete in the storage already")
        outcomes.update(_execute([p for p in plan if (p[0], p[1]) not in outcomes], trials,
                                 workers, log))
        studies = _load(url, plan, outcomes)
        rows, summary = build(prepared=prepared, plan=plan, studies=studies,
                              outcomes=outcomes, budget=trials, storage=where, folder=folder,
                              latency_targets=latency_targets, targets=tuple(targets),
                              log=log, cpu_count=os.cpu_count(), started=started,
                              options=options, formats=tuple(formats))
        return Comparison(runs=rows, summary=summary, out=folder,
                          studies={f"{k[0]}/seed{k[1]}": s for k, s in studies.items()})
    finally:
        if lock is not None:
            lock.release()
