"""``moo-cosearch`` command line: spaces, samplers, objectives, backends, run, simulate, sample,
train-surrogate, verify."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
from typing import Any, Sequence

from .._interrupts import install as install_interrupts
from ._common import CLIError
from ._compare import add_parsers as add_compare_parsers
from ._run import _cmd_run
from ._surrogate import add_parsers, positive_int
from ..space import VIEWS
from ..storage import DEFAULT_HEARTBEAT_S
from ..study import DEFAULT_STORAGE, PRUNERS
from ..workers import DEFAULT_OBJECTIVES, DEFAULT_SPACE, STOP


class HelpFormatter(argparse.HelpFormatter):
    """Help with each option's default shown once: ``(default: X)`` is appended unless the help
    already says its default, or there is none to show (None, False, an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text.lower() or default is None or default is False
                or default is argparse.SUPPRESS or default == [] or not action.option_strings):
            return text
        if isinstance(default, (list, tuple)):
            default = " ".join(str(v) for v in default)
        return f"{text} (default: {str(default).replace('%', '%%')})"


class _Parser(argparse.ArgumentParser):
    """Sub-command parsers: our help formatter unless one is given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:   # type: ignore[override]
        """A bad command line is one line (not the whole usage), exit status 2."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _cmd_spaces(args: argparse.Namespace) -> int:
    from ..space import list_spaces, load_space

    print(f"{'space':<22} {'nas':>4} {'has':>4} {'cardinality':>12}  network / accelerator")
    for name in list_spaces():
        s = load_space(name)
        nas = sum(1 for p in s.params if p.group == "nas" and not p.fixed)
        has = sum(1 for p in s.params if p.group == "has" and not p.fixed)
        print(f"{name:<22} {nas:>4} {has:>4} {s.cardinality:>12.3e}  {s.network} / {s.accelerator}")
    return 0


def _cmd_samplers(args: argparse.Namespace) -> int:
    from ..samplers import list_samplers

    samplers = list_samplers()
    width = max(map(len, samplers))
    for name, desc in samplers.items():
        print(f"{name:<{width}}  {desc}")
    return 0


def _cmd_objectives(args: argparse.Namespace) -> int:
    from ..objectives import list_objectives, load_objectives

    for name in list_objectives():
        o = load_objectives(name)
        goals = ", ".join(f"{d[:3]} {m}" for m, d in o.objectives)
        acc = ("accuracy: " + ", ".join(f"{k}={v}" for k, v in o.accuracy.items())
               if o.needs_accuracy else "cost only")
        limits = ", ".join(f"{c.metric}{'<=' if c.max is not None else '>='}"
                           f"{c.max if c.max is not None else c.min}" for c in o.constraints)
        print(f"{name}\n    [{goals}]  space={o.space}  cost={o.cost}  {acc}"
              + (f"\n    limits: {limits}" if limits else ""))
    return 0


def _fits(backend: Any, space: Any) -> bool:
    """Whether ``backend`` evaluates a design of ``space`` (an empty batch for a slow backend,
    which still checks the network and parameters); ImportError (a missing extra) passes."""
    try:
        backend(space, [] if getattr(backend, "slow", False) else space.sample(1, seed=0))
    except ImportError:
        raise
    except Exception:  # noqa: BLE001 - ValueError (does not fit) or a backend's own failure
        return False
    return True


def _cmd_backends(args: argparse.Namespace) -> int:
    from ..hardware import backend_metrics, get_backend, list_backends
    from ..space import list_spaces, load_space

    def show(name: str, *lines: str) -> None:
        for i, line in enumerate(lines):
            print(textwrap.fill(line, width=100, initial_indent=f"{name if i == 0 else '':<17}",
                                subsequent_indent=" " * 26, break_on_hyphens=False))

    spaces = [load_space(name) for name in list_spaces()]
    for name in list_backends():
        metrics = f"metrics: {', '.join(backend_metrics(name))}"
        backend = get_backend(name)
        try:
            fit = [s.name for s in spaces if _fits(backend, s)]
        except ImportError as e:
            show(name, metrics, f"needs an optional dependency: {e}")
            continue
        note = (" (checked by network and parameters: an evaluation takes seconds)"
                if getattr(backend, "slow", False) else "")
        show(name, metrics, f"spaces:  {', '.join(fit) if fit else 'none built in'}{note}")
    show("surrogate:PATH", "metrics: those it was trained on",
         "spaces:  the one it was trained on; PATH is a file written by `moo-cosearch "
         "train-surrogate`")
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("optuna_dashboard") is None:
        raise CLIError("the dashboard needs optuna-dashboard: "
                       "pip install -c constraints.txt optuna-dashboard")
    from ..analysis import run_dashboard
    from ..storage import open_storage

    storage = open_storage(args.storage, must_exist=True, heartbeat=None)   # never creates
    run_dashboard(storage, host=args.host, port=args.port)
    return 0


def _parse_design(line: str) -> dict[str, Any]:
    """One input line as a JSON object; ValueError (one line) for anything else."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"malformed JSON: {e.msg} at column {e.colno}") from None
    except RecursionError:
        raise ValueError("malformed JSON: nested too deeply") from None
    except ValueError as e:            # e.g. an integer beyond Python's digit limit
        raise ValueError(f"malformed JSON: {e}") from None
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object of parameters, got {type(value).__name__}")
    return value


def _cmd_simulate(args: argparse.Namespace) -> int:
    """One JSON line out per line in, written as each line arrives (a bad line gives an
    ``error`` line and exit status 1; the lines after it are still evaluated)."""
    from ..hardware import get_backend
    from ..space import load_space

    space = load_space(args.space)
    backend = get_backend(args.backend or space.accelerator or "edge")
    try:    # a backend that does not fit the space is one configuration error, not N lines
        backend(space, [] if getattr(backend, "slow", False) else space.sample(1, seed=0))
    except ValueError as e:
        raise CLIError(f"backend {backend.name!r} does not fit space {space.name!r}: {e}") \
            from None
    lines = [args.params] if args.params is not None else sys.stdin
    status = 0
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        label = "--params" if args.params is not None else f"line {i}"
        try:
            design = space.validate(_parse_design(line))
            result = backend(space, [design])
            row = result.row(0)
            row.update({m: float(result.metric(m)[0]) for m in backend.metrics if m not in row})
            row = {m: None if isinstance(v, float) and not math.isfinite(v) else v
                   for m, v in row.items()}
        except (ValueError, ArithmeticError) as e:
            row = {"error": f"{label}: {e}"}
            print(f"moo-cosearch simulate: {row['error']}", file=sys.stderr)
            status = 1
        print(json.dumps(row), flush=True)
    return status


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    p = _Parser(prog="moo-cosearch", description="Joint neural-network + accelerator co-search on "
                                                   "Optuna.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=_Parser)
    sub.add_parser("spaces", help="list built-in joint spaces").set_defaults(func=_cmd_spaces)
    sub.add_parser("samplers", help="list samplers").set_defaults(func=_cmd_samplers)
    sub.add_parser("objectives", help="list built-in objective sets").set_defaults(
        func=_cmd_objectives)
    sub.add_parser("backends", help="list cost backends, their metrics and the spaces they fit",
                   description="List the registered cost backends, the metrics each gives and "
                               "the built-in spaces it evaluates.").set_defaults(
        func=_cmd_backends)

    r = sub.add_parser("run", help="run (or resume) a co-search study",
                       description="Run (or resume) a co-search study and write its Pareto "
                                   "report.")
    r.add_argument("--space", default=None,
                   help=f"space name or TOML path (default: the objective set's space, else "
                        f"{DEFAULT_SPACE})")
    r.add_argument("--objectives", default=None,
                   help=f"objective set name or TOML (default: the built-in set of --space, "
                        f"see `moo-cosearch objectives`, else {DEFAULT_OBJECTIVES})")
    r.add_argument("--sampler", default="nsga2", help="see `moo-cosearch samplers`")
    r.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                   help="sampler option (JSON value), e.g. -o population_size=40")
    r.add_argument("--accuracy", default=None, metavar="SOURCE",
                   help="accuracy source replacing the objective set's: table (NAS-Bench-201), "
                        "proxy or proxy:NAME (zero-cost proxy), train (short training)")
    r.add_argument("--pruner", choices=PRUNERS, default="none",
                   help="Optuna pruner for accuracy sources that report each epoch: train "
                        "and nb201-mf, in single-objective sets")
    r.add_argument("--backend", default=None,
                   help="cost backend overriding the objective set's, e.g. surrogate:PATH "
                        "(see `moo-cosearch backends`)")
    r.add_argument("--view", choices=VIEWS, default=None,
                   help="ordered grids as categorical values or as integer grid positions, "
                        "whose order the sampler then sees (default: the sampler's preferred "
                        "view, index for gp, else categorical; a resumed study keeps its own)")
    r.add_argument("--trials", type=positive_int, default=None,
                   help="designs this worker evaluates (default: 300, or until --budget)")
    r.add_argument("--budget", type=positive_int, default=None,
                   help="stop when the study holds this many evaluated trials, counted "
                        "exactly across all workers")
    r.add_argument("--seed", type=int, default=0,
                   help="sampler seed of the worker that creates the study; workers that "
                        "join get distinct seeds derived from it")
    r.add_argument("--storage", default=DEFAULT_STORAGE,
                   help="SQLAlchemy URL (sqlite:///PATH, postgresql://USER@HOST/DB), "
                        "journal:PATH, or memory")
    r.add_argument("--study-name", default=None,
                   help="study name in the storage; the same name resumes or joins (default: "
                        "<space>--<objectives>--<sampler>--seed<seed>)")
    r.add_argument("--workers", type=positive_int, default=1,
                   help="workers to run on a Dask cluster (local processes unless "
                        "--scheduler); needs the cluster extra")
    r.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. "
                   "tcp://host:8786 (default: a local cluster of --workers processes)")
    r.add_argument("--heartbeat", type=float, default=DEFAULT_HEARTBEAT_S,
                   help="seconds between heartbeats (database and journal: storages), 0 for "
                        "none; a dead worker's trial is retried after twice this")
    r.add_argument("--batch", type=positive_int, default=1,
                   help="trials asked at once and priced with one cost-model call (e.g. a "
                        "population); 1 runs study.optimize one trial at a time")
    r.add_argument("--allow-repeats", action="store_true",
                   help="evaluate a design again when another trial holds it (default: such "
                        "trials are pruned unevaluated)")
    r.add_argument("--reap-running", action="store_true",
                   help="first mark RUNNING trials FAIL and enqueue them again (for storages "
                        "without heartbeats, --heartbeat 0, when no other worker is alive)")
    r.add_argument("--out", default=None, help="output folder (default: runs/<study name>)")
    r.add_argument("--show", type=positive_int, default=20, help="Pareto rows printed")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)

    s = sub.add_parser("simulate", help="cost of designs: one JSON object per stdin line",
                       description="Cost of designs given as JSON objects, one per stdin line "
                                   "(or --params); one JSON line out per line in.")
    s.add_argument("--space", required=True, help="space name or TOML path")
    s.add_argument("--backend", default=None,
                   help="cost backend, e.g. surrogate:PATH (default: the space's accelerator)")
    s.add_argument("--params", default=None, help="one design as a JSON object instead of stdin")
    s.set_defaults(func=_cmd_simulate)

    d = sub.add_parser("dashboard", help="optuna-dashboard that shows feasibility",
                       description="Serve optuna-dashboard on a storage, with infeasible "
                                   "trials marked and never listed as best (needs "
                                   "optuna-dashboard: the dev extra).")
    d.add_argument("--storage", default=DEFAULT_STORAGE, help="Optuna storage URL")
    d.add_argument("--host", default="localhost", help="address to listen on")
    d.add_argument("--port", type=int, default=8080, help="port to listen on")
    d.set_defaults(func=_cmd_dashboard)

    add_parsers(sub)
    add_compare_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:          # --help, --version, or a bad command line (one line)
        return e.code if isinstance(e.code, int) else 2
    # SIGTERM like Ctrl-C (the running trial is closed); neither lands inside a storage call,
    # and STOP ends the workers even where a library absorbs the KeyboardInterrupt
    install_interrupts(on_signal=STOP.set)
    try:
        status = args.func(args)
        if getattr(args, "command", "") == "run" and STOP.is_set():
            raise KeyboardInterrupt
        sys.stdout.flush()       # a closed pipe (`| head`) shows here, not at exit
        return status
    except BrokenPipeError:      # the reader has gone: quiet, as `cat | head` is
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CLIError, ValueError, OSError, ImportError) as e:
        print(f"moo-cosearch {args.command}: {_write_failure(e, args) or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; completed trials are stored and the study resumes on the next run"
              if args.command in ("run", "compare") else "interrupted", file=sys.stderr)
        return 130
    except Exception as e:       # a storage write that failed, wrapped by Optuna: one line
        message = _write_failure(e, args)
        if message is None:
            raise
        print(f"moo-cosearch {args.command}: {message}", file=sys.stderr)
        return 2


def _write_failure(error: BaseException, args: argparse.Namespace) -> str | None:
    """The one line for a storage write that failed (a full disk), however Optuna wrapped
    it; None for any other error."""
    from ..storage import write_failure

    storage = getattr(args, "storage", None)
    message = write_failure(error, storage if isinstance(storage, str) else None)
    return None if message is None else f"{message}; every trial stored before it is kept"

