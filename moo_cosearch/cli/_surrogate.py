"""CLI commands of the surrogate workflow: ``sample``, ``train-surrogate``, ``verify``."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from ..study import DEFAULT_STORAGE

__all__ = ["add_parsers"]


def _read_jsonl(path: str) -> list[dict[str, Any]]:
    out = []
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        if line.strip():
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{i}: malformed JSON: {e.msg}") from None
            if not isinstance(value, dict):
                raise ValueError(f"{path}:{i}: expected a JSON object of parameters")
            out.append(value)
    return out


def _cmd_sample(args: argparse.Namespace) -> int:
    from ..surrogate import sample_designs

    around = _read_jsonl(args.around) if args.around else None
    path = sample_designs(args.space, args.backend, args.n, args.out, seed=args.seed,
                          workers=args.workers, chunk=args.chunk, around=around,
                          perturb_frac=args.perturb_frac if around else 0.0,
                          per_accelerator=args.per_accelerator, progress=not args.quiet)
    print(f"wrote {path}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from ..surrogate import FitConfig, fit_surrogate

    cfg = FitConfig(hidden=tuple(args.hidden), dropout=args.dropout, lr=args.lr,
                    weight_decay=args.weight_decay, lr_schedule=args.lr_schedule,
                    batch_size=args.batch_size, max_epochs=args.epochs, patience=args.patience,
                    ensemble=args.ensemble, seed=args.seed, device=args.device,
                    max_minutes=args.max_minutes, derived_features=args.derived_features,
                    weights={"latency_ms": args.latency_weight, "area_mm2": args.area_weight,
                             "energy_mj": args.energy_weight, "feasible": 1.0})
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    sur = fit_surrogate(args.samples, targets=args.targets, config=cfg,
                        latency_target_ms=args.latency_target_ms, log=log)
    path = sur.save(args.out)
    m = sur.meta["metrics"]
    print(f"{'target':<12} {'MAPE %':>8} {'±5 %':>7} {'±10 %':>7} {'tau':>6}")
    for t in sur.targets:
        r = m[t]
        print(f"{t:<12} {r['mape_pct']:>8.3f} {r['within_5pct']:>7.1f} "
              f"{r['within_10pct']:>7.1f} {r['kendall_tau']:>6.3f}")
    print(f"feasibility accuracy {m['feasibility_accuracy_pct']:.2f} % "
          f"(feasible share {m['feasible_share_pct']:.1f} %)")
    if "near_latency_target" in m:
        r = m["near_latency_target"]
        print(f"latency within ±10 % of {r['target_ms']:.4g} ms ({r['n']} designs): "
              f"MAPE {r['mape_pct']:.3f} %")
    print(f"trained in {sur.meta['training']['train_seconds']:.0f} s on "
          f"{sur.meta['training']['device']}; wrote {path} and {path.with_suffix('.json')}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    import optuna

    from ..analysis import verify_pareto
    from ..space import load_space

    from ..storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(args.storage, must_exist=True, heartbeat=None)
    try:
        study = optuna.load_study(study_name=args.study_name, storage=storage)
    except KeyError:
        raise ValueError(f"no study {args.study_name!r} in {args.storage}") from None
    rep = verify_pareto(study, args.backend, load_space(args.space) if args.space else None)
    print(f"{rep['n']} Pareto designs of {args.study_name!r} re-evaluated with {args.backend!r}; "
          f"{rep['feasibility_disagreements']} infeasible there")
    for m, r in rep["metrics"].items():
        print(f"{m:<12} MAPE {r['mape_pct']:.3f} %  within ±5 % {r['within_5pct']:.1f} %  "
              f"tau {r['kendall_tau']:.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps(rep, indent=1))
        print(f"wrote {args.out}")
    return 0


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def add_parsers(sub: Any) -> None:
    """Add ``sample``, ``train-surrogate`` and ``verify`` to ``sub`` (whose parser class sets
    the help formatter)."""
    s = sub.add_parser("sample", help="evaluate random designs with a backend -> .npz (resumable)",
                       description="Evaluate random designs of a space with a cost backend and "
                                   "write them to an .npz file (resumable).")
    s.add_argument("--space", required=True, help="space name or TOML path")
    s.add_argument("--backend", default="edge", help="cost backend (see `moo-cosearch backends`)")
    s.add_argument("--n", type=positive_int, required=True, help="number of designs")
    s.add_argument("--out", required=True, help="output .npz (parts kept in OUT.parts/ until done)")
    s.add_argument("--seed", type=int, default=0, help="base seed; chunk c draws from (seed, c)")
    s.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: CPUs)")
    s.add_argument("--chunk", type=positive_int, default=2000, help="designs per chunk")
    s.add_argument("--around", default=None,
                   help="JSON-lines file of designs to perturb locally")
    s.add_argument("--perturb-frac", type=_share, default=0.5,
                   help="share of perturbed designs when --around is given")
    s.add_argument("--per-accelerator", type=positive_int, default=1,
                   help="networks drawn per accelerator configuration: a backend caching per "
                        "(layer, accelerator), e.g. zigzag, prices a group for about one design")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd_sample)

    t = sub.add_parser("train-surrogate", help="train the NAHAS MLP cost model on a sample file",
                       description="Train the NAHAS MLP cost model on an .npz file written by "
                                   "`sample`; use it as --backend surrogate:OUT.")
    t.add_argument("--samples", required=True, help=".npz written by `sample`")
    t.add_argument("--out", required=True, help="weights file (.pt); metadata goes to .json")
    t.add_argument("--targets", nargs="+", default=None,
                   help="metrics to predict (default: all sampled metrics)")
    t.add_argument("--hidden", type=positive_int, nargs="+", default=[256, 256, 256],
                   help="widths of the hidden ReLU layers")
    t.add_argument("--dropout", type=_fraction, default=0.1, help="dropout after each hidden layer")
    t.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam(W) learning rate")
    t.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    t.add_argument("--lr-schedule", default="plateau", choices=["plateau", "cosine", "constant"],
                   help="cosine: decay to 0 over --epochs, no early stopping")
    t.add_argument("--batch-size", type=positive_int, default=128, help="training batch size")
    t.add_argument("--epochs", type=positive_int, default=300, help="maximum epochs")
    t.add_argument("--patience", type=positive_int, default=20, help="early-stopping patience (epochs)")
    t.add_argument("--latency-weight", type=float, default=10.0, help="lambda of the NAHAS loss")
    t.add_argument("--area-weight", type=float, default=1.0, help="weight of the area MSE")
    t.add_argument("--energy-weight", type=float, default=1.0, help="weight of the energy MSE")
    t.add_argument("--ensemble", type=positive_int, default=1, help="deep-ensemble members")
    t.add_argument("--derived-features", action="store_true",
                   help="add the network's MACs/weights (block-additive spaces)")
    t.add_argument("--seed", type=int, default=0, help="seed of the data split and weights")
    t.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    t.add_argument("--max-minutes", type=_positive_float, default=None,
                   help="training time budget (default: none)")
    t.add_argument("--latency-target-ms", type=float, default=None,
                   help="report the error near this latency (default: median)")
    t.add_argument("-q", "--quiet", action="store_true", help="no per-epoch progress lines")
    t.set_defaults(func=_cmd_train)

    v = sub.add_parser("verify", help="re-evaluate a study's Pareto designs with a real backend",
                       description="Re-evaluate a study's Pareto designs (e.g. found on a "
                                   "surrogate) with a real backend and report the error.")
    v.add_argument("--study-name", required=True, help="the study to check")
    v.add_argument("--storage", default=DEFAULT_STORAGE, help="Optuna storage URL")
    v.add_argument("--backend", default="edge", help="the real simulator backend")
    v.add_argument("--space", default=None, help="space TOML (default: the study's, by name)")
    v.add_argument("--out", default=None, help="write the per-design report to this JSON file")
    v.set_defaults(func=_cmd_verify)
