"""CLI command ``compare``: run every sampler with every seed on one space and objective set,
then write the comparison (see :mod:`moo_cosearch.compare`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._surrogate import positive_int
from ..compare import DEFAULT_COMPARE_STORAGE, DEFAULT_TARGETS, FORMATS
from ..workers import DEFAULT_OBJECTIVES

__all__ = ["add_parsers"]


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") \
            from None


def _sampler_options(items: list[str], samplers: list[str]) -> dict[str, dict[str, Any]]:
    """``SAMPLER.KEY=VALUE`` items (JSON values) as sampler -> options."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        sampler, dot, option = key.partition(".")
        if not sep or not dot or not sampler or not option:
            raise ValueError(f"compare options are SAMPLER.KEY=VALUE, got {item!r}")
        if sampler not in samplers:
            raise ValueError(f"option {item!r} names sampler {sampler!r}, which is not among "
                             f"--samplers {samplers}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(sampler, {})[option] = parsed
    return out


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..compare import compare
    from ..samplers import list_samplers

    samplers = list(list_samplers()) if args.samplers.strip() == "all" else \
        [s.strip() for s in args.samplers.split(",") if s.strip()]
    storage = args.storage or DEFAULT_COMPARE_STORAGE
    compare(samplers, space=args.space, objectives=args.objectives, seeds=args.seeds,
            trials=args.trials, workers=args.workers,
            storage=None if storage == "memory" else storage, out=Path(args.out),
            options=_sampler_options(args.option, samplers), backend=args.backend,
            latency_targets=args.latency_targets,
            targets=args.targets if args.targets is not None else DEFAULT_TARGETS,
            log=(lambda _: None) if args.quiet else (lambda s: print(s, flush=True)),
            formats=args.format)
    return 0


def _cmd_ranks(args: argparse.Namespace) -> int:
    from ..compare import rank_folders

    _, text = rank_folders(args.folders)
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    return 0


def _formats(text: str) -> tuple[str, ...]:
    names = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in names if f not in FORMATS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"formats must be among {list(FORMATS)}, got {text!r}")
    return names


def add_parsers(sub: Any) -> None:
    """Add the ``compare`` sub-command to the CLI's sub-parsers."""
    c = sub.add_parser(
        "compare", help="compare samplers over seeds: hypervolume, time, ECDF, references",
        description="Run every sampler with every seed to the same number of evaluated "
                    "trials (one study each, in one storage: a rerun resumes), then write "
                    "summary.json, report.md, runs.csv and figures to --out.")
    c.add_argument("--space", default=None,
                   help="space name or TOML path (default: the objective set's space)")
    c.add_argument("--objectives", default=DEFAULT_OBJECTIVES, help="objective set name or TOML")
    c.add_argument("--samplers", default="nsga2,tpe,random",
                   help="comma-separated names from `moo-cosearch samplers`, or all")
    c.add_argument("--seeds", type=positive_int, default=10, help="seeds 0..N-1 per sampler")
    c.add_argument("--trials", type=positive_int, default=300,
                   help="evaluated trials per run (repeats refused by the gate do not count)")
    c.add_argument("--workers", type=positive_int, default=1,
                   help="local processes running (sampler, seed) runs side by side")
    c.add_argument("--storage", default=None,
                   help="storage of the studies: journal:PATH, sqlite:///PATH, "
                        "postgresql://..., or memory (default: journal:OUT/studies.log)")
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument("-o", "--option", action="append", default=[], metavar="SAMPLER.KEY=VALUE",
                   help="sampler option (JSON value), e.g. -o qehvi.n_startup_trials=10")
    c.add_argument("--backend", default=None, help="cost backend overriding the objective set's")
    c.add_argument("--latency-targets", type=_floats, default=None, metavar="MS,MS,...",
                   help="report the best feasible accuracy under each (default: the objective "
                        "set's latency limit, its half and its quarter)")
    c.add_argument("--targets", type=_floats, default=None, metavar="F,F,...",
                   help="ECDF hypervolume targets as fractions of the best run's (default: "
                        + ",".join(f"{t:g}" for t in DEFAULT_TARGETS) + ")")
    c.add_argument("--format", type=_formats, default=("png",), metavar="FMT,FMT,...",
                   help="figure formats: any of " + ",".join(FORMATS) + " (default: png)")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress lines or table")
    c.set_defaults(func=_cmd_compare)
    r = sub.add_parser(
        "compare-ranks", help="average ranks of samplers over several comparisons",
        description="Read the summary.json of each comparison folder (one problem each) and "
                    "print the samplers' average ranks by median hypervolume, with the "
                    "Friedman test and the Nemenyi critical difference (Demsar 2006).")
    r.add_argument("folders", nargs="+", help="comparison output folders (compare --out)")
    r.add_argument("--out", default=None, help="also write the table to this Markdown file")
    r.set_defaults(func=_cmd_ranks)
