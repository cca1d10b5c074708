"""Speed and quality of the multi-objective BO samplers (qEHVI/qNEHVI and their peers).

    python benchmarks/bench_qehvi.py speed   [--samplers qehvi,qnehvi,gp,botorch,nsga2]
                                             [--trials 40] [--startup 10] [--seed 0]
    python benchmarks/bench_qehvi.py quality [--samplers qehvi,nsga2,tpe,gp,random,botorch]
                                             [--problems BraninCurrin,DTLZ2,ZDT1,C2DTLZ2,nb201-edge]
                                             [--seeds 0,1,2] [--trials 60] [--jobs 1] [--tag NAME]
                                             [--merge OLD.jsonl ...]
    python benchmarks/bench_qehvi.py scaling [--sampler qehvi] [--max-trials 500] [--every 25]
                                             [--repeats 3] [--fill random|sampler]

Samplers come from ``moo_cosearch.samplers`` (every submodule of the package is imported first,
so privately registered strategies show up), plus ``botorch`` = optuna-integration's
``BoTorchSampler`` with default settings when the registry has no such name. Names that are
neither are skipped with a note. ``--startup N`` is passed as ``n_startup_trials`` to samplers
that take it (gp, tpe, botorch, ...); ``--opt nsga2.population_size=20`` passes any other
constructor option.

``NAME@ref`` (e.g. ``qehvi@ref``) runs sampler NAME given the problem's hypervolume reference
point as ``reference_point`` — what a moo-cosearch study does with its objective set's reference
point; plain ``qehvi`` infers one from the observations. ``--merge`` adds earlier runs of other
samplers (same problems, seeds and trial budget) to the tables instead of running them again.

Every run is an ask/tell loop with the sampling cost (``study.ask()`` + the suggestions, which is
where Optuna calls ``sample_relative``) timed apart from the objective and from ``study.tell``.
Hypervolumes: feasible COMPLETE trials in minimisation form, points not strictly dominating the
reference point dropped (``benchmarks/_problems.py``).

``quality`` writes ``benchmarks/results/qehvi_quality[_TAG].jsonl`` (one run per line) and
``.md`` (median tables).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import math
import platform
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _problems import get_problem, hypervolume, list_problems, random_params  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_SPEED = "qehvi,qnehvi,gp,botorch,nsga2"
DEFAULT_QUALITY_SAMPLERS = "qehvi,nsga2,tpe,gp,random,botorch"
DEFAULT_QUALITY_PROBLEMS = "BraninCurrin,DTLZ2,ZDT1,C2DTLZ2,nb201-edge"
REF_SUFFIX = "@ref"  # "qehvi@ref": qehvi given the problem's reference point


# --------------------------------------------------------------------------------- samplers --
def _load_registry() -> dict[str, str]:
    """The registry after importing every submodule of ``moo_cosearch.samplers``."""
    import moo_cosearch.samplers as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        try:
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
        except Exception as e:  # noqa: BLE001 - a broken strategy must not stop the benchmark
            print(f"note: importing moo_cosearch.samplers.{mod.name} failed: "
                  f"{type(e).__name__}: {e}")
    return pkg.list_samplers()


def _botorch_available() -> str | None:
    """None if optuna-integration's BoTorchSampler imports, else the reason."""
    try:
        from optuna_integration import BoTorchSampler  # noqa: F401
        import botorch  # noqa: F401
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}"
    return None


def resolve_samplers(names: list[str]) -> list[str]:
    """Names that can run here, in order; prints a note for each skipped one."""
    registry = _load_registry()
    out = []
    for name in names:
        if name.endswith(REF_SUFFIX) and name[:-len(REF_SUFFIX)] in registry:
            out.append(name)
        elif name in registry:
            out.append(name)
        elif name == "botorch":
            why = _botorch_available()
            if why is None:
                out.append(name)
            else:
                print(f"note: skipping botorch (optuna_integration.BoTorchSampler not importable: "
                      f"{why}); pip install -c constraints.txt optuna-integration==5.0.0")
        else:
            print(f"note: skipping sampler {name!r}: not in the registry {sorted(registry)}")
    return out


def make_sampler(name: str, seed: int, startup: int | None,
                 options: dict[str, Any] | None = None) -> tuple[Any, bool]:
    """``(sampler, startup_applied)``; ``n_startup_trials=startup`` where the sampler takes it."""
    from moo_cosearch.samplers import create_sampler, list_samplers

    opts = dict(options or {})
    if name == "botorch" and name not in list_samplers():
        from optuna_integration import BoTorchSampler

        if startup is not None:
            opts.setdefault("n_startup_trials", startup)
        return BoTorchSampler(seed=seed, **opts), "n_startup_trials" in opts
    if startup is not None and "n_startup_trials" not in opts:
        try:
            return create_sampler(name, seed=seed, n_startup_trials=startup, **opts), True
        except ValueError as e:
            if "bad option" not in str(e):
                raise
    return create_sampler(name, seed=seed, **opts), "n_startup_trials" in opts


def parse_options(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """``["nsga2.population_size=20"]`` → ``{"nsga2": {"population_size": 20}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        try:
            key, raw = item.split("=", 1)
            sampler, opt = key.split(".", 1)
        except ValueError:
            raise SystemExit(f"--opt takes SAMPLER.OPTION=VALUE, got {item!r}") from None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(sampler, {})[opt] = value
    return out


# ---------------------------------------------------------------------------------- machine --
def machine_header() -> str:
    import optuna
    import torch

    try:
        import botorch
        bt = botorch.__version__
    except Exception:  # noqa: BLE001
        bt = "missing"
    try:
        import optuna_integration
        oi = optuna_integration.__version__
    except Exception:  # noqa: BLE001
        oi = "missing"
    try:
        import greenlet  # noqa: F401 - optuna's GPSampler batches L-BFGS-B with it
        gl = "installed"
    except ImportError:
        gl = "missing (optuna GPSampler falls back to sequential L-BFGS-B)"
    cpu = platform.processor() or platform.machine()
    return (f"# machine: {platform.platform()}, {cpu}, {os.cpu_count()} CPUs, "
            f"python {platform.python_version()}; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
            f"# torch {torch.__version__}: {torch.get_num_threads()} threads, "
            f"CUDA available: {torch.cuda.is_available()}; optuna {optuna.__version__}, "
            f"botorch {bt}, optuna-integration {oi}, numpy {np.__version__}; greenlet {gl}")


def _quiet() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


# ------------------------------------------------------------------------------------- runs --
def run_study(problem_name: str, sampler_name: str, seed: int, n_trials: int,
              startup: int | None, options: dict[str, Any] | None = None,
              fill_random_until: int = 0) -> dict[str, Any]:
    """One ask/tell run; per-trial sample / evaluate / tell seconds and the final hypervolume."""
    import optuna
    from optuna.trial import TrialState

    _quiet()
    problem = get_problem(problem_name)
    _ = problem.distributions  # build (load data) before timing
    t_start = time.perf_counter()
    rec: dict[str, Any] = {"problem": problem_name, "sampler": sampler_name, "seed": seed,
                           "trials": n_trials, "startup": startup, "options": options or {}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        try:
            name = sampler_name
            if name.endswith(REF_SUFFIX):  # the problem's ref point, in its own directions
                name = name[:-len(REF_SUFFIX)]
                options = {**(options or {}),
                           "reference_point": (problem.ref_point * problem.signs).tolist()}
            sampler, applied = make_sampler(name, seed, startup, options)
            rec["startup_applied"] = applied
            study = optuna.create_study(directions=problem.directions, sampler=sampler)
            sample_s, eval_s, tell_s = [], [], []
            for i in range(n_trials):
                t0 = time.perf_counter()
                trial = study.ask()
                params = problem.suggest(trial)
                t1 = time.perf_counter()
                try:
                    values, cons = problem.evaluate(params)
                    state = TrialState.COMPLETE
                except Exception as e:  # noqa: BLE001
                    values, cons, state = None, {}, TrialState.FAIL
                    rec.setdefault("eval_errors", []).append(f"{type(e).__name__}: {e}")
                for k, v in cons.items():
                    trial.set_constraint(k, float(v))
                t2 = time.perf_counter()
                study.tell(trial, values, state=state)
                t3 = time.perf_counter()
                sample_s.append(t1 - t0)
                eval_s.append(t2 - t1)
                tell_s.append(t3 - t2)
            rec.update(sample_s=sample_s, eval_s=eval_s, tell_s=tell_s)
            trials = study.get_trials(deepcopy=False)
            rec["n_complete"] = sum(t.state == TrialState.COMPLETE for t in trials)
            rec["n_feasible"] = sum(t.state == TrialState.COMPLETE
                                    and all(v <= 0 for v in t.constraints.values())
                                    for t in trials)
            rec["hv"] = hypervolume(study, problem)
            # the hypervolume after every 10 trials (a 50-trial figure from a 60-trial run:
            # the first 50 trials of a run are the same whatever the budget)
            rec["hv_every10"] = {n: hypervolume(trials[:n], problem)
                                 for n in range(10, len(trials) + 1, 10)}
            rec["max_hv"] = problem.max_hv
            rec["frac"] = rec["hv"] / problem.max_hv if problem.max_hv else None
        except Exception as e:  # noqa: BLE001 - report a broken sampler, keep benchmarking
            import traceback

            rec["error"] = f"{type(e).__name__}: {e}"
            rec["traceback"] = traceback.format_exc(limit=8)
    msgs: list[str] = []
    for w in caught:  # one line per warning kind (numbers in the messages vary)
        m = f"{w.category.__name__}: {str(w.message).splitlines()[0][:120]}"
        if not any(m[:60] == seen[:60] for seen in msgs):
            msgs.append(m)
    rec["warnings"] = msgs[:5]
    rec["n_warnings"] = len(caught)
    rec["wall_s"] = time.perf_counter() - t_start
    return rec


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)
    _quiet()


def _run_task(task: dict[str, Any]) -> dict[str, Any]:
    return run_study(**task)


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else float("nan")


# ------------------------------------------------------------------------------------ speed --
def cmd_speed(args: argparse.Namespace) -> None:
    print(machine_header())
    problem = get_problem(args.problem)
    print(f"# speed: problem {problem.name} ({problem.n_params} params: {problem.description}); "
          f"{args.trials} trials, n_startup_trials={args.startup} where taken, seed {args.seed}")
    names = resolve_samplers(args.samplers.split(","))
    options = parse_options(args.opt)
    rows = []
    for name in names:
        rec = run_study(args.problem, name, args.seed, args.trials, args.startup,
                        options.get(name))
        if "error" in rec:
            print(f"note: {name} FAILED: {rec['error']}\n{rec['traceback']}")
            continue
        bo = rec["sample_s"][args.startup:]
        rows.append((name, rec, _mean(rec["sample_s"]), _mean(bo)))
        for w in rec["warnings"]:
            print(f"note: {name} warned {w}")
    if not rows:
        return
    base_all, base_bo = rows[0][2], rows[0][3]
    print(f"\n{'sampler':<10} {'s/trial(all)':>12} {'s/trial(BO)':>12} {'ratio(BO)':>10} "
          f"{'ratio(all)':>10} {'tell s':>8} {'eval s':>8} {'startup':>8} {'HV':>10}")
    for name, rec, m_all, m_bo in rows:
        print(f"{name:<10} {m_all:>12.4f} {m_bo:>12.4f} {m_bo / base_bo:>10.3g} "
              f"{m_all / base_all:>10.3g} {_mean(rec['tell_s']):>8.4f} "
              f"{_mean(rec['eval_s']):>8.4f} {str(rec['startup_applied']):>8} {rec['hv']:>10.2f}")
    print(f"(BO = trials {args.startup}..{args.trials - 1}, i.e. after the startup trials, for "
          f"every sampler; ratios are against {rows[0][0]}; 'startup' says whether the sampler "
          f"took n_startup_trials)")


# ---------------------------------------------------------------------------------- quality --
def _cell(values: list[float], digits: int) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} [{min(values):.{digits}f}, {max(values):.{digits}f}]"


def quality_tables(records: list[dict[str, Any]], problems: list[str],
                   samplers: list[str]) -> str:
    lines = []
    by = {}
    for r in records:
        by.setdefault((r["problem"], r["sampler"]), []).append(r)
    lines.append("Final hypervolume, median over seeds [min, max]: fraction of max_hv where known, "
                 "raw hypervolume otherwise.\n")
    lines.append("| problem | max_hv | " + " | ".join(samplers) + " |")
    lines.append("|---|---|" + "---|" * len(samplers))
    for p in problems:
        cells = []
        max_hv = None
        for s in samplers:
            rs = [r for r in by.get((p, s), []) if "error" not in r]
            bad = [r for r in by.get((p, s), []) if "error" in r]
            if rs:
                max_hv = rs[0]["max_hv"]
                if max_hv:
                    cells.append(_cell([r["frac"] for r in rs], 3))
                else:
                    cells.append(_cell([r["hv"] for r in rs], 4 if rs[0]["hv"] < 10 else 1))
                if bad:
                    cells[-1] += f" ({len(bad)} failed)"
            else:
                cells.append("failed" if bad else "-")
        lines.append(f"| {p} | {max_hv if max_hv else 'raw HV'} | " + " | ".join(cells) + " |")
    lines.append("\nSampling seconds per trial (ask + suggest), median over seeds of the mean over "
                 "all trials.\n")
    lines.append("| problem | " + " | ".join(samplers) + " |")
    lines.append("|---|" + "---|" * len(samplers))
    for p in problems:
        cells = []
        for s in samplers:
            rs = [r for r in by.get((p, s), []) if "error" not in r]
            cells.append(f"{statistics.median(_mean(r['sample_s']) for r in rs):.4f}"
                         if rs else "-")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _merge_records(paths: list[str], problems: list[str], seeds: list[int], trials: int,
                   running: set[str]) -> list[dict[str, Any]]:
    """Runs from earlier ``quality`` result files matching this run's problems, seeds and
    trial budget, of samplers this run does not run itself."""
    out = []
    for path in paths:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if (r["problem"] in problems and r["seed"] in seeds and r["trials"] == trials
                        and r["sampler"] not in running):
                    out.append(r)
    return out


def cmd_quality(args: argparse.Namespace) -> None:
    header = machine_header()
    print(header)
    problems = args.problems.split(",")
    for p in problems:
        if p not in list_problems():
            raise SystemExit(f"unknown problem {p!r}; known: {list_problems()}")
    samplers = resolve_samplers(args.samplers.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    options = parse_options(args.opt)
    print(f"# quality: problems {problems}; samplers {samplers}; seeds {seeds}; "
          f"{args.trials} trials; n_startup_trials={args.startup} where taken; "
          f"options {options or 'defaults'}; jobs {args.jobs}")
    for p in problems:
        prob = get_problem(p)
        print(f"#   {p}: {prob.description}; ref {np.round(prob.ref_point, 4).tolist()}, "
              f"max_hv {prob.max_hv}")
    # seed-major, so a run cut short has every problem and sampler on its first seeds
    tasks = [dict(problem_name=p, sampler_name=s, seed=seed, n_trials=args.trials,
                  startup=args.startup, options=options.get(s))
             for seed in seeds for p in problems for s in samplers]
    order = {(t["problem_name"], t["sampler_name"], t["seed"]): i for i, t in enumerate(tasks)}
    records: list[dict[str, Any]] = []
    merged = _merge_records(args.merge or [], problems, seeds, args.trials, set(samplers))
    stem = "qehvi_quality" + (f"_{args.tag}" if args.tag else "")
    RESULTS.mkdir(exist_ok=True)
    part = RESULTS / f"{stem}.jsonl.part"  # every finished run, as it finishes
    if args.resume and part.exists():
        key = lambda r: (r["problem"], r["sampler"], r["seed"], r["trials"])  # noqa: E731
        have = {key(r): r for r in map(json.loads, part.open()) if "error" not in r}
        records += [r for r in have.values()
                    if (r["problem"], r["sampler"], r["seed"]) in
                    {(t["problem_name"], t["sampler_name"], t["seed"]) for t in tasks}]
        tasks = [t for t in tasks if (t["problem_name"], t["sampler_name"], t["seed"],
                                      t["n_trials"]) not in have]
        print(f"# resumed: {len(records)} runs from {part.name}, {len(tasks)} to run")
    elif part.exists():
        part.unlink()

    def report(rec: dict[str, Any]) -> None:
        records.append(rec)
        with part.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        if "error" in rec:
            print(f"  {rec['problem']:<13} {rec['sampler']:<8} seed {rec['seed']}: FAILED "
                  f"{rec['error']}", flush=True)
            return
        frac = f"{rec['frac']:.3f} of max" if rec["frac"] is not None else ""
        print(f"  {rec['problem']:<13} {rec['sampler']:<8} seed {rec['seed']}: hv "
              f"{rec['hv']:.5g} {frac}  feasible {rec['n_feasible']}/{rec['trials']}  "
              f"{rec['wall_s']:.1f}s", flush=True)

    if args.jobs > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker) as ex:
            futs = [ex.submit(_run_task, t) for t in tasks]
            for f in as_completed(futs):
                report(f.result())
    else:
        for t in tasks:
            report(_run_task(t))
    records.sort(key=lambda r: order[(r["problem"], r["sampler"], r["seed"])])
    for r in records:
        if "error" in r:
            print(f"\nnote: {r['sampler']} on {r['problem']} seed {r['seed']} failed:\n"
                  f"{r['traceback']}")
    notes = {}
    for r in records:
        for w in r.get("warnings", []):
            notes.setdefault((r["sampler"], w), 0)
            notes[(r["sampler"], w)] += 1
    for (s, w), n in notes.items():
        print(f"note: {s} warned in {n} run(s): {w}")
    records += merged
    samplers += [s for s in dict.fromkeys(r["sampler"] for r in merged)]
    table = quality_tables(records, problems, samplers)
    print("\n" + table)
    with open(RESULTS / f"{stem}.jsonl", "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    cmd = "python benchmarks/bench_qehvi.py " + " ".join(sys.argv[1:])
    if merged:
        cmd += (f"\n# {len(merged)} runs of {sorted({r['sampler'] for r in merged})} merged from "
                f"{', '.join(args.merge)} (same problems, seeds and trial budget)")
    (RESULTS / f"{stem}.md").write_text(f"# qEHVI benchmark: quality\n\n```\n{header}\n{cmd}\n```"
                                        f"\n\n{table}\n")
    part.unlink(missing_ok=True)
    print(f"\nwrote {RESULTS / (stem + '.jsonl')} and {stem}.md")


# ------------------------------------------------------------------------------------ table --
def _runs(records: list[dict[str, Any]], problem: str, sampler: str) -> list[dict[str, Any]]:
    return [r for r in records if r["problem"] == problem and r["sampler"] == sampler
            and "error" not in r]


def _hv_frac(r: dict[str, Any], at: int | None) -> float:
    hv = r["hv"] if at is None else r["hv_every10"][str(at)]
    return hv / r["max_hv"] if r["max_hv"] else hv


def cmd_table(args: argparse.Namespace) -> None:
    """One table from several ``quality`` result files (finished or ``.part``): the median
    [min, max] and n of each sampler, and a/b ratios (hypervolume, seconds per trial)."""
    records = [json.loads(line) for path in args.files for line in open(path)]
    problems = list(dict.fromkeys(r["problem"] for r in records))
    samplers = list(dict.fromkeys(r["sampler"] for r in records))
    lines = [f"Hypervolume after {args.at or 'all'} trials, fraction of the maximum (raw HV "
             "where the maximum is unknown): median [min, max] (n runs). Fewer than 5 runs: "
             "medians and ranges only, no test.", "",
             "| problem | " + " | ".join(samplers) + " |", "|---|" + "---|" * len(samplers)]
    for p in problems:
        cells = []
        for s in samplers:
            rs = _runs(records, p, s)
            cells.append(f"{_cell([_hv_frac(r, args.at) for r in rs], 3)} (n={len(rs)})"
                         if rs else "-")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    lines += ["", "Sampler seconds per trial (ask), median over runs of the mean over trials.",
              "", "| problem | " + " | ".join(samplers) + " |", "|---|" + "---|" * len(samplers)]
    for p in problems:
        lines.append(f"| {p} | " + " | ".join(
            f"{statistics.median(_mean(r['sample_s']) for r in rs):.3f}" if rs else "-"
            for rs in (_runs(records, p, s) for s in samplers)) + " |")
    for pair in args.ratio or []:
        a, b = pair.split("/")
        lines += ["", f"{a} / {b}: ratio of median hypervolumes and of median seconds per "
                  "trial (runs as counted above).", "", "| problem | HV ratio | s/trial ratio |",
                  "|---|---|---|"]
        for p in problems:
            ra, rb = _runs(records, p, a), _runs(records, p, b)
            if not (ra and rb):
                lines.append(f"| {p} | - | - |")
                continue
            ha = statistics.median(_hv_frac(r, args.at) for r in ra)
            hb = statistics.median(_hv_frac(r, args.at) for r in rb)
            hv = ha / hb if hb > 0 else math.inf if ha > 0 else math.nan
            sec = (statistics.median(_mean(r["sample_s"]) for r in ra)
                   / statistics.median(_mean(r["sample_s"]) for r in rb))
            lines.append(f"| {p} | {hv:.3f} | {sec:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        cmd = "python benchmarks/bench_qehvi.py " + " ".join(sys.argv[1:])
        Path(args.out).write_text(f"# {args.title}\n\n```\n{machine_header()}\n{cmd}\n```\n\n"
                                  + text)


# ---------------------------------------------------------------------------------- scaling --
def cmd_scaling(args: argparse.Namespace) -> None:
    import optuna
    from optuna.trial import TrialState, create_trial

    print(machine_header())
    _quiet()
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    names = resolve_samplers(args.sampler.split(","))
    if not names:
        return
    name = names[0]
    problem = get_problem(args.problem)
    dists = problem.distributions
    options = parse_options(args.opt).get(name)
    sampler, applied = make_sampler(name, args.seed, args.startup, options)
    study = optuna.create_study(directions=problem.directions, sampler=sampler)
    rng = np.random.default_rng(args.seed)
    print(f"# scaling: {name} on {problem.name} ({problem.n_params} params); history filled by "
          f"{'uniform random designs (added without the sampler)' if args.fill == 'random' else 'the sampler itself'}; "
          f"{args.repeats if args.fill == 'random' else args.every} timed sampler trials per point")
    print(f"\n{'trials':>7} {'s/BO trial':>11} {'tell s':>8} {'hv':>10}")

    def timed_trial() -> tuple[float, float]:
        t0 = time.perf_counter()
        trial = study.ask()
        params = problem.suggest(trial)
        t1 = time.perf_counter()
        values, cons = problem.evaluate(params)
        for k, v in cons.items():
            trial.set_constraint(k, float(v))
        t2 = time.perf_counter()
        study.tell(trial, values)
        return t1 - t0, time.perf_counter() - t2

    def add_random() -> None:
        params = random_params(dists, rng)
        values, cons = problem.evaluate(params)
        study.add_trial(create_trial(params=params, distributions=dists, values=values,
                                     constraints=cons, state=TrialState.COMPLETE))

    checkpoints = list(range(args.every, args.max_trials + 1, args.every))
    for n in checkpoints:
        if args.fill == "random":
            while len(study.trials) < n:
                add_random()
            times = [timed_trial() for _ in range(args.repeats)]
        else:
            # the window of sampler trials since the previous checkpoint
            times = [timed_trial() for _ in range(n - len(study.trials))]
        print(f"{n:>7} {_mean([t[0] for t in times]):>11.4f} {_mean([t[1] for t in times]):>8.4f}"
              f" {hypervolume(study, problem):>10.2f}", flush=True)
    if not applied and args.fill == "sampler":
        print("(the sampler took no n_startup_trials option)")


# ------------------------------------------------------------------------------------- main --
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--startup", type=int, default=10,
                       help="n_startup_trials for samplers that take it (default 10)")
        p.add_argument("--opt", action="append", metavar="SAMPLER.OPTION=VALUE",
                       help="extra sampler constructor option (JSON value), repeatable")

    sp = sub.add_parser("speed", help="sampling seconds per trial on mbv2-41")
    sp.add_argument("--samplers", default=DEFAULT_SPEED)
    sp.add_argument("--problem", default="mbv2-41")
    sp.add_argument("--trials", type=int, default=40)
    sp.add_argument("--seed", type=int, default=0)
    common(sp)
    sp.set_defaults(func=cmd_speed)

    qp = sub.add_parser("quality", help="final hypervolume per problem x sampler x seed")
    qp.add_argument("--samplers", default=DEFAULT_QUALITY_SAMPLERS)
    qp.add_argument("--problems", default=DEFAULT_QUALITY_PROBLEMS)
    qp.add_argument("--seeds", default="0,1,2")
    qp.add_argument("--trials", type=int, default=60)
    qp.add_argument("--jobs", type=int, default=1,
                    help="parallel processes (each with torch.set_num_threads(1))")
    qp.add_argument("--tag", default="", help="results file suffix: qehvi_quality_TAG.*")
    qp.add_argument("--resume", action="store_true",
                    help="keep the finished runs of an interrupted run with the same --tag")
    qp.add_argument("--merge", nargs="+", metavar="JSONL",
                    help="add other samplers' runs (same problems, seeds, trials) from earlier "
                         "result files to the tables instead of running them again")
    common(qp)
    qp.set_defaults(func=cmd_quality)

    cp = sub.add_parser("scaling", help="sampling seconds per trial vs history size")
    cp.add_argument("--sampler", default="qehvi,gp",
                    help="first available of these (default qehvi, else gp)")
    cp.add_argument("--problem", default="mbv2-41")
    cp.add_argument("--max-trials", type=int, default=500)
    cp.add_argument("--every", type=int, default=25)
    cp.add_argument("--repeats", type=int, default=3,
                    help="timed sampler trials per checkpoint with --fill random")
    cp.add_argument("--fill", choices=("random", "sampler"), default="random",
                    help="grow the history with random designs (fast) or the sampler itself")
    cp.add_argument("--seed", type=int, default=0)
    common(cp)
    cp.set_defaults(func=cmd_scaling)

    tp = sub.add_parser("table", help="one table from several quality result files")
    tp.add_argument("files", nargs="+", help="qehvi_quality_*.jsonl (or .jsonl.part) files")
    tp.add_argument("--at", type=int, default=None,
                    help="hypervolume after this many trials (a multiple of 10)")
    tp.add_argument("--ratio", action="append", metavar="A/B", help="e.g. qehvi/ax")
    tp.add_argument("--out", default=None, help="also write this markdown file")
    tp.add_argument("--title", default="Samplers on the BoTorch test problems")
    tp.set_defaults(func=cmd_table)

    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
